"""The artifact catalogue and the targets: a row that leaves a fact out fails when it is built, and a new
target is one module whose rows reach the bundles, the install list and the secrets."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest

from generator import targets
from generator.artifacts.catalogue import Catalogue, ClusterFile, Install, Row, RunsFromBundle, When
from generator.bundle import render_cluster
from generator.errors import RenderError
from generator.lint.run import run_lint
from generator.loader import load_file
from generator.pipeline import Checked, load_checked, secrets_needed
from generator.resources import SCHEMA_FILE, TEMPLATES_DIR
from generator.review.impacts import Action, Impact
from generator.secrets.generate import generate_missing
from generator.templating import Renderer
from generator.validate import validate
from tests.helpers import ROOT

ANY_CHANGE = (Impact(Action.APPLY),)


def _row(**changes) -> Row:
    row = Row("extra/file", "secrets/whole-file.j2", ("harbor",), "text", ANY_CHANGE, RunsFromBundle("the operator"))
    return dataclasses.replace(row, **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"differ": "toml"}, "no differ 'toml'"),
        ({"impacts": ()}, "its last impact must say what any change costs"),
        ({"impacts": (Impact(Action.REINSTALL, key="log.*"),)}, "its last impact must say what any change costs"),
        ({"impacts": (Impact(Action.APPLY, role="harbor"),)}, "its last impact must say what any change costs"),
        ({"install": None}, "no destination"),
        ({"roles": ()}, "in no role's bundle"),
        ({"contexts": ("json",)}, "no legality context 'json'"),
    ],
)
def test_a_row_that_leaves_a_fact_out_is_refused_when_the_catalogue_is_built(changes, message):
    with pytest.raises(RenderError, match=message):
        Catalogue((_row(**changes),))


def test_two_rows_for_one_path_are_refused():
    with pytest.raises(RenderError, match="two rows for extra/file"):
        Catalogue((_row(), _row(source="scripts/apply.sh")))


def test_a_cluster_file_in_a_folder_a_node_could_own_is_refused():
    Catalogue((_row(),), (ClusterFile("ansible/extra.yml", "ansible/site.yml", "yaml"),))
    with pytest.raises(RenderError, match="its folder 'playbooks' is not one of CLUSTER_FOLDERS"):
        Catalogue((_row(),), (ClusterFile("playbooks/site.yml", "ansible/site.yml", "yaml"),))


def test_every_version_the_schema_admits_has_a_target():
    schema = json.loads(SCHEMA_FILE.read_text())
    assert sorted(targets.TARGETS) == sorted(schema["$defs"]["harbor-version"]["enum"])


EXTRA_TARGET = '''
import dataclasses

from generator.artifacts.catalogue import Install, Row
from generator.review.impacts import Action, Impact
from generator.lint.rule import Finding, Rule
from generator.secrets.managed import ManagedSecret
from generator.model import SecretRef
from generator.targets.harbor1 import TARGET as HARBOR1

TOKEN = ManagedSecret("extra_token", 12, ("word",))


def _key(cluster, node, bundle):
    return {"secret": SecretRef(TOKEN.name)}


def _always(checked):
    yield Finding(("harbor", "version"), "this is the extra target", "it is a test's", "nothing to fix")


EXTRA = Row("extra/key", "secrets/whole-file.j2", ("harbor",), "secret", (Impact(Action.REINSTALL),),
            Install(lambda cluster, node: "/etc/extra/key"), contexts=("yaml-plain",), values=_key)
TARGET = dataclasses.replace(
    HARBOR1, version="9.9", rows=HARBOR1.rows + (EXTRA,), own_secrets=(TOKEN,),
    lint_rules=HARBOR1.lint_rules + (Rule("HG999", "info", "the extra target", "a test's", _always),),
)
'''


def test_a_new_target_is_one_module_and_its_rows_reach_every_stage(tmp_path, monkeypatch):
    (tmp_path / "extra_target.py").write_text(EXTRA_TARGET)
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = targets.load(["extra_target"])
    monkeypatch.setitem(targets.TARGETS, "9.9", loaded["9.9"])
    document = validate(load_file(ROOT / "topology.yaml"))
    document["harbor"]["version"] = "9.9"  # past the schema: this target is the test's own
    cluster = targets.build_cluster(document)
    tree = render_cluster(cluster, Renderer(TEMPLATES_DIR))
    assert tree["node0/extra/key"].content.strip() == b"HARBORGEN_SECRET[extra_token]"
    assert b"after-mount\t0600\textra/key\t/etc/extra/key\t\n" in tree["node0/INSTALL"].content
    assert b"'extra/key'" in tree["node0/values.sh"].content.split(b"secret_files=")[1].split(b"\n")[0]
    assert "extra/key" not in tree.get("mysql/INSTALL").content.decode()
    # its managed secret: the contexts its row and its consumer ask for, and made as long as it says
    needed = secrets_needed(cluster, tree)
    assert needed["extra_token"] == frozenset({"yaml-plain", "word"})
    added, _ = generate_missing({"extra_token": needed["extra_token"]}, {}, cluster_name="c", cephx_name="x",
                                managed=targets.target_of(cluster).managed_secrets)
    assert len(added["extra_token"]) == 12
    # its lint rule runs on its clusters alone
    located = load_file(ROOT / "topology.yaml")
    assert "HG999" in {result.rule.id for result in run_lint(Checked(located, document, cluster))}
    assert "HG999" not in {result.rule.id for result in run_lint(load_checked(ROOT / "topology.yaml"))}
    sys.modules.pop("extra_target", None)


def test_a_row_installs_where_the_node_lies_only_at_an_absolute_path():
    relative = dataclasses.replace(targets.TARGETS["1.1.2"], version="9.8", rows=(
        _row(source="scripts/apply.sh", install=Install(lambda cluster, node: "etc/extra", When.AFTER_MOUNT)),))
    document = validate(load_file(ROOT / "topology.yaml"))
    document["harbor"]["version"] = "9.8"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(targets.TARGETS, "9.8", relative)
        cluster = targets.build_cluster(document)
        with pytest.raises(RenderError, match="is not an absolute path"):
            render_cluster(cluster, Renderer(TEMPLATES_DIR))
