"""Shared helpers: paths, the topologies under test, and real tools that may be missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.bundle import Tree
from generator.pipeline import compile_cluster, load_cluster

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "tests" / "topologies"
GOLDEN = ROOT / "golden"
REFERENCE = ROOT.parent / "shared" / "reference" / "harbor-v1.1.2"
IN_CI = os.environ.get("CI") == "true"


def run_harborgen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The command line as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], capture_output=True, text=True, timeout=120, cwd=cwd or ROOT
    )


def golden_topologies() -> dict[str, Path]:
    """Every topology with a golden render: the seed's (topology.yaml) and tests/topologies/*.yaml."""
    found = {"seed": ROOT / "topology.yaml"}
    found.update({path.stem: path for path in sorted(TOPOLOGIES.glob("*.yaml"))})
    return found


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


def require_reference() -> Path:
    if not REFERENCE.is_dir():
        message = f"the stock Harbor files are not at {REFERENCE}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return REFERENCE


@pytest.fixture(params=sorted(golden_topologies()), ids=str)
def topology_case(request) -> tuple[str, Path]:
    return request.param, golden_topologies()[request.param]


def pytest_terminal_summary(terminalreporter):
    """Say how many tests drove a real program, and how they ended, so a CI log shows they ran."""
    counts = {
        outcome: sum(
            1 for report in terminalreporter.stats.get(outcome, [])
            if "real_component" in getattr(report, "keywords", {}) and getattr(report, "when", "call") in ("call", "setup")
        )
        for outcome in ("passed", "skipped", "failed", "error")
    }
    terminalreporter.write_line(
        "real-component tests: " + ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "real_component: drives a real program (nginx, docker-compose, shellcheck, ...)")


CEPHX_TEST_KEY = "AQCeYjxa4vb+CBAA154r9pAO5nZyDkK8cnljDQ=="


@pytest.fixture(scope="session")
def token_pair() -> tuple[str, str]:
    """One RSA pair for the whole session: making a 4096-bit key takes a while."""
    from generator.secretstore import token_key_pair

    return token_key_pair("tests")


def secrets_for(topology: Path, token_pair: tuple[str, str], **overrides: str) -> dict[str, str]:
    """Every secret the topology needs, generated as `secrets generate` would, plus a cephx key."""
    from generator.conventions import TOKEN_CERTIFICATE, TOKEN_PRIVATE_KEY
    from generator.secretstore import generate_missing, needed_secrets

    cluster = load_cluster(topology)
    pair = {TOKEN_PRIVATE_KEY: token_pair[0], TOKEN_CERTIFICATE: token_pair[1]}
    added, _ = generate_missing(cluster, needed_secrets(compile_cluster(cluster)), pair)
    return {**pair, **added, cluster.cephfs.key.name: CEPHX_TEST_KEY, **overrides}


def write_secrets_file(path: Path, values: dict[str, str]) -> Path:
    from generator.secretstore import secrets_file_text

    path.write_text(secrets_file_text(values, "tests"), encoding="utf-8")
    path.chmod(0o600)
    return path
