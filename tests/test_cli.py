"""The command-line contract: commands, exit codes, messages without tracebacks."""

from __future__ import annotations

import shutil
import subprocess

from tests.helpers import HARBOR2_EXAMPLE, ROOT, run_harborgen

TOPOLOGY = ROOT / "topology.yaml"


harborgen = run_harborgen


def test_validate_accepts_the_seed_topology():
    result = harborgen("validate", str(TOPOLOGY))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_committed_out_matches_topology_yaml():
    result = harborgen("check", str(TOPOLOGY))
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_out_matches_the_harbor2_example():
    result = harborgen("check", str(HARBOR2_EXAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_render_then_check_then_drift(tmp_path):
    out = tmp_path / "out"
    assert harborgen("render", str(TOPOLOGY), "--out", str(out)).returncode == 0
    assert harborgen("check", str(TOPOLOGY), "--out", str(out)).returncode == 0

    config = out / "harbor-ceph" / "nginx" / "nginx" / "default.conf"
    config.write_text(config.read_text().replace("client_max_body_size 0", "client_max_body_size 1024m"))
    (out / "harbor-ceph" / "node0" / "notes.txt").write_text("mine")
    (out / "harbor-ceph" / "node1" / "harbor" / "harbor.cfg").unlink()

    result = harborgen("check", str(TOPOLOGY), "--out", str(out))
    assert result.returncode == 1
    assert "hand-edited: nginx/nginx/default.conf" in result.stderr
    assert "extra: node0/notes.txt" in result.stderr
    assert "missing: node1/harbor/harbor.cfg" in result.stderr


def test_two_processes_with_different_hash_seeds_render_the_same_bytes(topology_case, tmp_path):
    """Determinism across processes: set and dict orders that depend on PYTHONHASHSEED would show here."""
    import os
    import sys

    _, topology = topology_case
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-m", "generator", "render", str(topology), "--out", str(tmp_path / seed)],
            capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert result.returncode == 0, result.stderr
    result = subprocess.run(["diff", "-r", "-x", ".*.lock", str(tmp_path / "1"), str(tmp_path / "2")], capture_output=True)
    assert result.returncode == 0, result.stdout


def test_render_removes_nodes_that_left_the_topology(tmp_path):
    out = tmp_path / "out"
    harborgen("render", str(TOPOLOGY), "--out", str(out))
    smaller = tmp_path / "topology.yaml"
    smaller.write_text(
        TOPOLOGY.read_text()
        .replace("  node1: {address: 10.222.78.8, roles: [harbor]}\n", "")
        .replace("mds: [admin, node0, node1]", "mds: [admin, node0]")
    )
    result = harborgen("render", str(smaller), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert not (out / "harbor-ceph" / "node1").exists()
    assert "10.222.78.8" not in (out / "harbor-ceph" / "nginx" / "nginx" / "default.conf").read_text()


def test_usage_errors_exit_2_without_traceback(tmp_path):
    for args in (("render",), ("frobnicate",), ("validate", str(tmp_path / "missing.yaml"))):
        result = harborgen(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_an_unwritable_output_is_a_short_message(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = harborgen("render", str(TOPOLOGY), "--out", str(blocker / "out"))
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip()


def test_installed_console_script_runs():
    script = shutil.which("harborgen", path=str(ROOT / ".venv" / "bin")) or shutil.which("harborgen")
    assert script, "the harborgen console script is not installed"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "harborgen" in result.stdout
