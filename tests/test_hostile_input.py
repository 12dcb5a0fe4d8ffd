"""Hostile input never ends in a traceback, and nothing accepted renders a file that breaks on deploy.

The property test runs a bounded, fixed-seed number of examples in `make test`;
`make fuzz` runs many more with fresh seeds (HARBORGEN_FUZZ_EXAMPLES).
Failures hypothesis finds are kept in .hypothesis/ (out of Git) and replayed first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import LOCATED_LINE, ROOT, require_tool, run_cli
from tests.hostile import check_create_database, check_render, hostile_property, hostile_topologies, plausible_topologies

TOPOLOGY = ROOT / "topology.yaml"
_property = hostile_property


@pytest.fixture(scope="module", autouse=True)
def _tools():
    for tool in ("bash", "nginx", "unshare", "openssl"):
        require_tool(tool)


@pytest.mark.real_component
@_property
@given(text=hostile_topologies())
def test_hostile_topologies_end_cleanly_and_render_only_deployable_files(text):
    with tempfile.TemporaryDirectory() as scratch:
        check_render(text, Path(scratch))


@pytest.mark.real_component
@_property
@given(text=plausible_topologies())
def test_hostile_topologies_of_plausible_values_render_deployable_files(text):
    """Values of the right kind, not the golden ones: most render, and every render must deploy."""
    with tempfile.TemporaryDirectory() as scratch:
        check_render(text, Path(scratch))


@_property
@given(text=st.one_of(hostile_topologies(), plausible_topologies()))
def test_lint_and_diff_end_cleanly_on_hostile_topologies(text):
    """Every command ends cleanly: lint and diff read the same hostile documents as render."""
    with tempfile.TemporaryDirectory() as scratch:
        topology = Path(scratch) / "topology.yaml"
        topology.write_text(text, encoding="utf-8", errors="surrogatepass")
        for command, codes in ((("lint", str(topology)), (0, 1, 2)), (("diff", str(TOPOLOGY), str(topology)), (0, 2)),
                               (("lint", str(topology), "--format", "json"), (0, 1, 2))):
            code, _, stderr = run_cli(*command)
            assert code in codes, f"{command[0]} exit {code}: {stderr}"
            if code == 2:
                assert all(LOCATED_LINE.match(line) for line in stderr.splitlines()), stderr


# --- the reproductions of the adversarial pass, one by one ------------------------------

def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = TOPOLOGY.read_text()
    assert old in text
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, message", [
    ("  listen: 80\n", "  listen: 80.0\n", "load_balancer.listen: 80.0 is a number (expected an integer)"),
    ("pg_num: 128}", "pg_num: 128.0}", "cephfs.data_pool.pg_num: 128.0 is a number (expected an integer)"),
    ("  port: 3306\n", "  port: 3306.0\n", "database.port: 3306.0 is a number (expected an integer)"),
    ("max_job_workers: 3\n", "max_job_workers: 3.0\n", "harbor.max_job_workers: 3.0 is a number (expected an integer)"),
    ("    port: 25\n", "    port: 25.0\n", "harbor.email.port: 25.0 is a number (expected an integer)"),
    ("  stickiness: ip_hash\n", "  stickiness: ip_hash\n  timeout: 900.0\n", "load_balancer.timeout: 900.0 is a number"),
    ("  listen: 80\n", "  <<: {listen: 80}\n", "load_balancer: merge key '<<'"),
    ("    username: sample_admin@mydomain.com\n", '    username: "a\\ud800b"\n', "lone surrogate U+D800"),
    ("    username: sample_admin@mydomain.com\n", '    username: "admin\\u202e"\n', "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("    username: sample_admin@mydomain.com\n", '    username: "ad\\u200bmin"\n', "U+200B (ZERO WIDTH SPACE)"),
    ("cluster: harbor-ceph\n", "cluster: \"harbor\\ufeff\"\n", "U+FEFF"),
], ids=["listen", "pg_num", "db-port", "workers", "email-port", "timeout", "merge-key", "surrogate", "bidi", "zero-width", "bom"])
def test_each_reproduction_is_refused_with_its_position(tmp_path, old, new, message):
    variant = _variant(tmp_path, old, new)
    code, _, stderr = run_cli("render", str(variant), "--out", str(tmp_path / "out"))
    assert code == 2, stderr
    assert message in stderr and stderr.startswith(f"{variant}:")
    assert not (tmp_path / "out").exists()


def test_a_merge_key_at_the_top_is_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("<<: {a: 1}\n")
    code, _, stderr = run_cli("validate", str(path))
    assert (code, stderr) == (2, f"{path}:1:1: merge key '<<' (merge keys are not accepted: write the keys out)\n")


def test_a_quoted_merge_key_is_an_ordinary_unknown_key(tmp_path):
    variant = _variant(tmp_path, "cluster: harbor-ceph\n", "cluster: harbor-ceph\n'<<': 1\n")
    code, _, stderr = run_cli("validate", str(variant))
    assert code == 2 and "unknown key '<<'" in stderr


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "directory"])
def test_input_that_is_not_a_regular_file_is_refused_at_once(tmp_path, special):
    if special == "fifo":
        target = tmp_path / "fifo"
        os.mkfifo(target)
    elif special == "directory":
        target = tmp_path
    else:
        target = Path(special)
    code, _, stderr = run_cli("validate", str(target))
    assert code == 2 and "Traceback" not in stderr
    assert "expected a regular file" in stderr or "is a directory" in stderr, stderr


def test_a_huge_file_is_refused_after_reading_only_the_limit(tmp_path, monkeypatch):
    from generator import loader

    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as stream:
        stream.truncate(3 * 1024**3)  # sparse: 3 GB that costs nothing on disk
    reads = []
    real_read = os.read
    monkeypatch.setattr(loader.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    code, _, stderr = run_cli("validate", str(huge))
    assert code == 2 and "over 1048576 bytes" in stderr
    assert sum(reads) <= loader.MAX_DOCUMENT_BYTES + 1


def test_the_sql_check_of_the_property_test_can_fail():
    good = "CREATE DATABASE IF NOT EXISTS `r` DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci;\nFLUSH PRIVILEGES;\n"
    with pytest.raises(AssertionError):
        check_create_database(good)  # no user at all
    with pytest.raises(AssertionError):
        check_create_database(good.replace("`r`", "`r`; DROP DATABASE x"))


@pytest.mark.parametrize("name, text", [
    ("merge.yaml", "<<: {a: 1}\n"),
    ("unclosed.yaml", "cluster: [\n"),
    ("float.yaml", TOPOLOGY.read_text().replace("  listen: 80\n", "  listen: 80.0\n")),
    ("surrogate.yaml", TOPOLOGY.read_text().replace("sample_admin@mydomain.com\n", '"a\\ud800b"\n', 1)),
])
def test_the_real_process_refuses_hostile_files_without_a_traceback(tmp_path, name, text):
    from tests.helpers import run_harborgen

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = run_harborgen("validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{path}:"), result.stderr


def test_a_bug_is_one_sentence_with_its_own_exit_code(monkeypatch):
    from generator import cli

    def broken(topology):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(cli, "load_cluster", broken)
    code, _, stderr = run_cli("validate", str(TOPOLOGY))
    assert code == 70 and stderr == "harborgen: internal error: ZeroDivisionError: planted (run with --debug for a traceback)\n"
