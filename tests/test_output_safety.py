"""The output tree under hostile filesystems: links, FIFOs, leftovers of killed runs, concurrent renders."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_harborgen

TOPOLOGY = ROOT / "topology.yaml"
CFG = "node0/harbor/harbor.cfg"


@pytest.fixture
def rendered(tmp_path) -> Path:
    out = tmp_path / "out"
    result = run_harborgen("render", str(TOPOLOGY), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def _check(out: Path, topology: Path = TOPOLOGY) -> subprocess.CompletedProcess:
    return run_harborgen("check", str(topology), "--out", str(out))


def _render(out: Path, topology: Path = TOPOLOGY) -> subprocess.CompletedProcess:
    return run_harborgen("render", str(topology), "--out", str(out))


def test_a_cluster_directory_that_is_a_link_is_refused_by_name(rendered, tmp_path):
    real = tmp_path / "elsewhere"
    (rendered / "harbor-ceph").rename(real)
    (rendered / "harbor-ceph").symlink_to(real)
    for result in (_render(rendered), _check(rendered)):
        assert result.returncode == 4, result.stderr
        assert f"{rendered / 'harbor-ceph'} is a symbolic link" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (rendered / ".harbor-ceph.old").exists()
    assert (real / CFG).is_file(), "the directory behind the link was touched"


@pytest.mark.parametrize("kind", ["dangling-link", "link-to-identical-file", "fifo", "directory"])
def test_a_rendered_file_replaced_by_something_else_is_drift_and_render_replaces_it(rendered, tmp_path, kind):
    target = rendered / "harbor-ceph" / CFG
    outside = tmp_path / "outside.cfg"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    if kind == "dangling-link":
        target.symlink_to(tmp_path / "nowhere")
    elif kind == "link-to-identical-file":
        target.symlink_to(outside)
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()

    check = _check(rendered)
    assert check.returncode == 1, check.stderr
    assert f"not a regular file: {CFG}" in check.stderr or f"missing: {CFG}" in check.stderr
    assert "Traceback" not in check.stderr

    render = _render(rendered)
    assert render.returncode == 0, render.stderr
    assert _check(rendered).returncode == 0
    assert target.is_file() and not target.is_symlink()
    assert outside.read_bytes() == target.read_bytes(), "the file behind the link was changed"


def test_a_linked_directory_inside_the_tree_is_never_followed(rendered, tmp_path):
    harbor = rendered / "harbor-ceph" / "node0" / "harbor"
    elsewhere = tmp_path / "elsewhere"
    harbor.rename(elsewhere)
    harbor.symlink_to(elsewhere)
    before = {p: p.read_bytes() for p in elsewhere.rglob("*") if p.is_file()}

    check = _check(rendered)
    assert check.returncode == 1 and "extra: node0/harbor" in check.stderr, check.stderr
    assert _render(rendered).returncode == 0
    assert _check(rendered).returncode == 0 and not harbor.is_symlink()
    assert {p: p.read_bytes() for p in elsewhere.rglob("*") if p.is_file()} == before


def test_leftovers_of_killed_runs_are_removed_under_the_lock_and_reported(rendered):
    leftover = rendered / ".harbor-ceph.new-k1ll3d"
    (leftover / "node0").mkdir(parents=True)
    (leftover / "node0" / "secret").write_text("filled secret")
    result = _render(rendered)
    assert result.returncode == 0, result.stderr
    assert f"removed {leftover}, left by an interrupted run" in result.stdout
    assert not leftover.exists()
    assert _check(rendered).returncode == 0


def test_a_run_holding_the_lock_makes_a_second_wait_then_fail_clearly(rendered):
    lock = rendered / ".harbor-ceph.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
         str(lock)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "generator", "render", str(TOPOLOGY), "--out", str(rendered)],
            capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "HARBORGEN_LOCK_TIMEOUT": "1"},
        )
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 4
    assert f"another harborgen run holds {lock}" in result.stderr
    assert waited >= 1


def _large_topology(directory: Path, name: str, harbor_nodes: int, third_octet: int) -> Path:
    nodes = "".join(f"  h{i}: {{address: 10.9.{third_octet}.{i + 1}, roles: [harbor]}}\n" for i in range(harbor_nodes))
    path = directory / f"{name}.yaml"
    path.write_text(TOPOLOGY.read_text().replace("nodes:\n", "nodes:\n" + nodes))
    return path


def test_concurrent_renders_of_different_topologies_never_publish_a_mixed_tree(tmp_path):
    """Each round: two renders into one out/, the second started a little later. Exactly the topology
    whose render finished last is what `check` accepts; a run that gives up says so clearly."""
    first = _large_topology(tmp_path, "first", 100, 1)
    second = _large_topology(tmp_path, "second", 100, 2)
    out = tmp_path / "out"
    for round_number in range(8):
        command = [sys.executable, "-m", "generator", "render"]
        a = subprocess.Popen([*command, str(first), "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.05 * round_number)
        b = subprocess.Popen([*command, str(second), "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        finished = []
        deadline = time.monotonic() + 120
        while len(finished) < 2 and time.monotonic() < deadline:
            for name, process in (("first", a), ("second", b)):
                if name not in finished and process.poll() is not None:
                    finished.append(name)
            time.sleep(0.01)
        assert len(finished) == 2, "a render hung"
        for process in (a, b):
            stderr = process.stderr.read()
            assert process.returncode == 0 or "another harborgen run holds" in stderr, stderr
        winners = [name for name, topology in (("first", first), ("second", second)) if _check(out, topology).returncode == 0]
        succeeded = [name for name, process in zip(("first", "second"), (a, b), strict=True) if process.returncode == 0]
        last_successful = [name for name in finished if name in succeeded][-1]
        assert winners == [last_successful], f"round {round_number}: check passes for {winners}, last render was {last_successful}"


def test_check_waits_for_a_render_to_finish_its_swap(rendered):
    lock = rendered / ".harbor-ceph.lock"
    with lock.open("a") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        result = subprocess.run(
            [sys.executable, "-m", "generator", "check", str(TOPOLOGY), "--out", str(rendered)],
            capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "HARBORGEN_LOCK_TIMEOUT": "0.5"},
        )
    assert result.returncode == 4 and "another harborgen run holds" in result.stderr


# --- no command deletes what harborgen did not write -------------------------------------------

def _secrets(tmp_path) -> Path:
    secrets = tmp_path / "secrets.yaml"
    assert run_harborgen("secrets", "generate", str(TOPOLOGY), "--secrets", str(secrets)).returncode == 0
    with secrets.open("a") as stream:
        stream.write("cephx_key_admin: AQCeYjxa4vb+CBAA154r9pAO5nZyDkK8cnljDQ==\n")
    return secrets


def _tree_of(directory: Path) -> dict[str, bytes]:
    """Every file under DIRECTORY but the lock files a run creates beside what it writes."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


@pytest.mark.parametrize("command", ["pack-one", "pack-all", "materialize", "render"])
def test_an_out_directory_holding_files_harborgen_did_not_write_is_refused_and_kept(tmp_path, command):
    secrets = _secrets(tmp_path)
    home = tmp_path / "home"
    target = {"pack-one": home, "pack-all": home / "node0", "materialize": home / "harbor-ceph", "render": home / "harbor-ceph"}[command]
    (target / "projects").mkdir(parents=True)
    (target / "projects/thesis.tex").write_text("years of work")
    (target / ".bashrc").write_text("alias ll='ls -l'\n")
    before = _tree_of(home)
    args = {
        "pack-one": ("secrets", "pack", str(TOPOLOGY), "--secrets", str(secrets), "--node", "node0", "--out", str(home)),
        "pack-all": ("secrets", "pack", str(TOPOLOGY), "--secrets", str(secrets), "--out", str(home)),
        "materialize": ("materialize", str(TOPOLOGY), "--secrets", str(secrets), "--out", str(home)),
        "render": ("render", str(TOPOLOGY), "--out", str(home)),
    }[command]
    result = run_harborgen(*args)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "which harborgen did not write: refusing to write there" in result.stderr
    assert str(target / ".bashrc") in result.stderr or str(target / "projects/thesis.tex") in result.stderr
    assert _tree_of(home) == before, "a refused write changed the directory"


def test_a_pack_directory_is_rewritten_for_its_own_node_only(tmp_path):
    secrets = _secrets(tmp_path)
    pack = tmp_path / "pack"

    def pack_for(node: str):
        return run_harborgen("secrets", "pack", str(TOPOLOGY), "--secrets", str(secrets), "--node", node, "--out", str(pack))
    assert pack_for("node0").returncode == 0
    stale = pack / "files/harbor/left-over.cfg"  # what an earlier pack of this node held and this one does not
    stale.write_text("x")
    again = pack_for("node0")
    assert again.returncode == 0, again.stderr
    assert not stale.exists()
    other = pack_for("mysql")  # node0's files would go: not this run's to delete
    assert other.returncode == 4 and "which harborgen did not write" in other.stderr, other.stderr
    assert (pack / "files/harbor/harbor.cfg").is_file()
