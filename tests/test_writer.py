"""Writing: only what changed, old output whole after an interruption, drift named by kind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator.artifacts import Artifact
from generator.bundle import MANIFEST, manifest
from generator.errors import OutputError
from generator.writer import compare, write_tree
from tests.helpers import ROOT, compiled


def _tree(files: dict[str, bytes], executable: frozenset = frozenset()) -> dict[str, Artifact]:
    tree = {path: Artifact(path, content, path in executable) for path, content in files.items()}
    tree[MANIFEST] = manifest(tree)
    return tree


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(Path(d, n).relative_to(root)): Path(d, n).read_bytes()
        for d, _, names in os.walk(root)
        for n in names
    }


def test_rewrites_only_changed_files_and_removes_vanished_ones(tmp_path):
    target = tmp_path / "c"
    write_tree(_tree({"a/x": b"1", "a/y": b"2", "b/z": b"3"}), target)
    kept_inode = (target / "a/x").stat().st_ino

    result = write_tree(_tree({"a/x": b"1", "a/y": b"changed"}), target)

    assert set(result.written) == {"a/y", MANIFEST}
    assert result.removed == ("b/z",)
    assert (target / "a/x").stat().st_ino == kept_inode, "an unchanged file was rewritten"
    assert not (target / "b").exists()
    assert (target / "a/y").read_bytes() == b"changed"


def test_nothing_is_touched_when_nothing_changed(tmp_path):
    target = tmp_path / "c"
    tree = _tree({"a/x": b"1"})
    write_tree(tree, target)
    before = {p: (target / p).stat().st_mtime_ns for p in tree}
    result = write_tree(tree, target)
    assert result.written == () and result.removed == ()
    assert {p: (target / p).stat().st_mtime_ns for p in tree} == before


def test_modes_follow_the_artifact(tmp_path):
    target = tmp_path / "c"
    write_tree(_tree({"run.sh": b"#!/bin/sh\n", "conf": b"x"}, executable=frozenset({"run.sh"})), target)
    assert (target / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (target / "conf").stat().st_mode & 0o777 == 0o644


def test_an_interrupted_render_leaves_the_old_output_whole(tmp_path, monkeypatch):
    target = tmp_path / "c"
    old = _tree({"a/x": b"old", "a/y": b"old"})
    write_tree(old, target)
    before = _snapshot(target)

    def interrupted(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr("generator.writer._swap_in", interrupted)
    with pytest.raises(OutputError):
        write_tree(_tree({"a/x": b"new"}), target)

    assert _snapshot(target) == before
    # The lock file stays: removing it while another run may wait on it would let two runs in.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".c.lock", "c"], "a temporary directory was left behind"


def test_a_cut_between_the_two_renames_is_repaired_by_the_next_run(tmp_path):
    target = tmp_path / "c"
    old = _tree({"a/x": b"old"})
    write_tree(old, target)
    os.rename(target, tmp_path / ".c.old")  # as if killed right after the first rename

    assert compare(old, target).missing  # the tree looks gone...
    write_tree(old, target)  # ...and the next run restores it instead of rendering blind
    assert _snapshot(target) == {p: a.content for p, a in old.items()}
    assert not (tmp_path / ".c.old").exists()


def test_check_names_missing_extra_stale_and_hand_edited_files(tmp_path):
    target = tmp_path / "c"
    write_tree(_tree({"edited": b"1", "stale": b"1", "gone": b"1"}), target)
    (target / "edited").write_bytes(b"by hand")
    (target / "gone").unlink()
    (target / "extra").write_bytes(b"?")

    drift = compare(_tree({"edited": b"1", "stale": b"2", "gone": b"1"}), target)

    assert drift.missing == ("gone",)
    assert drift.extra == ("extra",)
    assert "stale" in drift.stale and MANIFEST in drift.stale
    assert drift.edited == ("edited",)
    assert not drift.clean


def test_a_rendered_tree_checks_clean(tmp_path):
    _, tree = compiled(ROOT / "topology.yaml")
    write_tree(tree, tmp_path / "c")
    assert compare(tree, tmp_path / "c").clean


def test_a_template_cache_that_cannot_be_written_only_slows_a_render(tmp_path, monkeypatch):
    """The bytecode cache is an optimisation: a read-only or full cache directory never fails a render."""
    import jinja2.bccache

    from generator.pipeline import compile_cluster, load_cluster

    def broken(self, *args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(jinja2.bccache.FileSystemBytecodeCache, "dump_bytecode", broken)
    monkeypatch.setattr(jinja2.bccache.FileSystemBytecodeCache, "load_bytecode", broken)
    tree = compile_cluster(load_cluster(ROOT / "topology.yaml"))
    assert tree == compiled(ROOT / "topology.yaml")[1]
