"""Each golden topology renders to exactly the reviewed files in golden/<name>/."""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from generator.artifacts.catalogue import CLUSTER_FOLDERS
from generator.bundle import MANIFEST
from generator.writer import mode_matches
from tests.golden_tool import reviewable
from tests.helpers import GOLDEN, compiled, golden_topologies

DATE_OR_TIME = re.compile(r"\b(19|20)\d\d-[01]\d-[0-3]\d\b|\b[0-2]\d:[0-5]\d:[0-5]\d\b|\bUTC\b")


def _files_under(root):
    return {
        os.path.relpath(os.path.join(directory, name), root)
        for directory, _, names in os.walk(root)
        for name in names
    }


@pytest.mark.parametrize("name", sorted(golden_topologies()))
def test_render_matches_golden(name):
    golden_dir = GOLDEN / name
    _, tree = compiled(golden_topologies()[name])
    tree = reviewable(tree)

    missing = sorted(path for path in tree if not (golden_dir / path).is_file())
    assert not missing, f"golden files missing (run `make golden` and review the diff): {missing}"
    assert _files_under(golden_dir) == set(tree), "golden/ holds files the render no longer produces"
    for path, artifact in tree.items():
        assert (golden_dir / path).read_bytes() == artifact.content, f"{name}/{path} differs from golden"
        assert mode_matches((golden_dir / path).stat().st_mode, artifact), f"{name}/{path}: mode differs"


def test_golden_holds_no_copy_of_out():
    assert not (GOLDEN / "seed").exists()
    cases = {line.split("`")[1] for line in (GOLDEN / "README.md").read_text().splitlines() if line.startswith("- `")}
    assert cases == set(golden_topologies()), "golden/README.md says what each case proves, one line each"


def test_every_manifest_lists_exactly_its_files_with_their_digests(topology_case):
    _, topology = topology_case
    _, tree = compiled(topology)
    manifests = [path for path in tree if path.rsplit("/", 1)[-1] == MANIFEST]
    bundles = {path.partition("/")[0] for path in tree if "/" in path} - CLUSTER_FOLDERS
    assert len(manifests) == len(bundles) + 1
    for manifest in manifests:
        prefix = manifest[: -len(MANIFEST)]
        covered = {path[len(prefix):]: artifact for path, artifact in tree.items() if path.startswith(prefix) and path != manifest}
        if not prefix:
            covered = {path: artifact for path, artifact in tree.items() if path != manifest}
        listed = {}
        for line in tree[manifest].content.decode().splitlines():
            digest, _, path = line.partition("  ")
            listed[path] = digest
        assert listed == {path: hashlib.sha256(artifact.content).hexdigest() for path, artifact in covered.items()}, manifest


def test_no_timestamp_or_absolute_checkout_path_in_output(topology_case):
    _, topology = topology_case
    _, tree = compiled(topology)
    checkout = str(GOLDEN.parent)
    for path, artifact in tree.items():
        text = artifact.content.decode()
        assert checkout not in text, f"{path} names the checkout directory"
        assert not DATE_OR_TIME.search(text), f"{path} looks time-stamped"
