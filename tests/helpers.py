"""Helpers shared by the tests: paths, the topologies under test, real tools that may be missing, secrets."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.bundle import Tree
from generator.pipeline import compile_cluster, load_cluster

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "tests" / "topologies"
GOLDEN = ROOT / "golden"
REFERENCE = ROOT.parent / "shared" / "reference" / "harbor-v1.1.2"
REFERENCE2 = ROOT.parent / "shared" / "reference" / "harbor-v2.15.2"
IN_CI = os.environ.get("CI") == "true"
LOCATED_LINE = re.compile(r"^.+:\d+:\d+: ")  # FILE:LINE:COL: of every refusal
CEPHX_TEST_KEY = "AQCeYjxa4vb+CBAA154r9pAO5nZyDkK8cnljDQ=="


def run_harborgen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The command line as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], capture_output=True, text=True, timeout=120, cwd=cwd or ROOT
    )


def run_cli(*args: str) -> tuple[int, str, str]:
    """harborgen's own entry point, in this process: its exit code, stdout and stderr.

    Any exception other than SystemExit escapes: it is the traceback a user would see.
    """
    import contextlib
    import io

    from generator.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        else:
            code = 0
    return code, stdout.getvalue(), stderr.getvalue()


HARBOR2_EXAMPLE = ROOT / "examples" / "harbor2" / "topology.yaml"


def golden_topologies() -> dict[str, Path]:
    """Every topology with a golden render in golden/<name>/: tests/topologies/*.yaml."""
    return {path.stem: path for path in sorted(TOPOLOGIES.glob("*.yaml"))}


def all_topologies() -> dict[str, Path]:
    """The golden topologies, the seed's (topology.yaml) and the Harbor 2.15 example, whose renders are in out/."""
    return {"seed": ROOT / "topology.yaml", "harbor2-example": HARBOR2_EXAMPLE, **golden_topologies()}


def harbor_version(topology: Path) -> str:
    return load_cluster(topology).harbor.version


def topologies_of(version: str) -> dict[str, Path]:
    """The topologies under test of one target (1.1.2 or 2.15)."""
    return {name: path for name, path in all_topologies().items() if harbor_version(path) == version}


def compiled(topology: Path) -> tuple[str, Tree]:
    cluster = load_cluster(topology)
    return cluster.name, compile_cluster(cluster)


def require_tool(name: str) -> str:
    """The tool's path; a visible skip when it is missing, a failure under CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: real-component tests must run)")
        pytest.skip(message)
    return path


def require_reference(reference: Path = REFERENCE) -> Path:
    if not reference.is_dir():
        message = f"the stock Harbor files are not at {reference}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return reference


def secrets_for(topology: Path, token_pair: tuple[str, str], **overrides: str) -> dict[str, str]:
    """Every secret the topology needs, generated as `secrets generate` would, plus a cephx key."""
    from generator.pipeline import secrets_needed
    from generator.secrets.generate import generate_missing
    from generator.secrets.managed import TOKEN_CERTIFICATE, TOKEN_PRIVATE_KEY
    from generator.targets import target_of

    cluster = load_cluster(topology)
    pair = {TOKEN_PRIVATE_KEY: token_pair[0], TOKEN_CERTIFICATE: token_pair[1]}
    added, _ = generate_missing(
        secrets_needed(cluster, compile_cluster(cluster)), pair, cluster_name=cluster.name, cephx_name=cluster.cephfs.key.name,
        managed=target_of(cluster).managed_secrets,
    )
    return {**pair, **added, cluster.cephfs.key.name: CEPHX_TEST_KEY, **overrides}


def write_secrets_file(path: Path, values: dict[str, str]) -> Path:
    from generator.secrets.file import secrets_file_text

    path.write_text(secrets_file_text(values, "tests"), encoding="utf-8")
    path.chmod(0o600)
    return path


def make_packs(topology: Path, secrets: Path, out: Path) -> Path:
    """`harborgen secrets pack` for every node: OUT/<node>/."""
    result = run_harborgen("secrets", "pack", str(topology), "--secrets", str(secrets), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def tree_state(directory: Path, transform: Callable[[bytes], bytes] = lambda content: content) -> dict[str, tuple[bytes, int, int, int]]:
    """Every regular file under DIRECTORY (links left out): its bytes (through TRANSFORM), mode, owner, group."""
    state = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            status = path.lstat()
            state[str(path.relative_to(directory))] = (transform(path.read_bytes()), stat.S_IMODE(status.st_mode), status.st_uid, status.st_gid)
    return state


def planted_needles(values: dict[str, str]) -> dict[str, bytes]:
    """Each planted secret as it shows in a file it lands in: its longest line (a PEM's body line).
    Values under 8 characters are left out: they would match by chance."""
    return {name: max(value.strip().splitlines(), key=len).encode() for name, value in values.items() if len(value) >= 8}


def files_holding(root: Path, needles: dict[str, bytes]) -> dict[Path, set[str]]:
    """Every regular file under ROOT that holds one of NEEDLES, with the names of those it holds."""
    holding = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            names = {name for name, needle in needles.items() if needle in content}
            if names:
                holding[path] = names
    return holding

