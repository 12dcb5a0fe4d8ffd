"""Each golden topology renders to exactly the reviewed files in golden/<name>/."""

from __future__ import annotations

import os

import re

from generator.writer import mode_matches
from tests.conftest import GOLDEN, compiled


DATE_OR_TIME = re.compile(r"\b(19|20)\d\d-[01]\d-[0-3]\d\b|\b[0-2]\d:[0-5]\d:[0-5]\d\b|\bUTC\b")


def _files_under(root):
    return {
        os.path.relpath(os.path.join(directory, name), root)
        for directory, _, names in os.walk(root)
        for name in names
    }


def test_render_matches_golden(topology_case):
    name, topology = topology_case
    golden_dir = GOLDEN / name
    _, tree = compiled(topology)

    missing = sorted(path for path in tree if not (golden_dir / path).is_file())
    assert not missing, f"golden files missing (run `make golden` and review the diff): {missing}"
    assert _files_under(golden_dir) == set(tree), "golden/ holds files the render no longer produces"
    for path, artifact in tree.items():
        assert (golden_dir / path).read_bytes() == artifact.content, f"{name}/{path} differs from golden"
        assert mode_matches((golden_dir / path).stat().st_mode, artifact), f"{name}/{path}: mode differs"


def test_render_is_deterministic(topology_case):
    _, topology = topology_case
    first = compiled(topology)[1]
    second = compiled(topology)[1]
    assert {p: a.content for p, a in first.items()} == {p: a.content for p, a in second.items()}


def test_no_timestamp_or_absolute_checkout_path_in_output(topology_case):
    _, topology = topology_case
    _, tree = compiled(topology)
    checkout = str(GOLDEN.parent)
    for path, artifact in tree.items():
        text = artifact.content.decode()
        assert checkout not in text, f"{path} names the checkout directory"
        assert not DATE_OR_TIME.search(text), f"{path} looks time-stamped"
