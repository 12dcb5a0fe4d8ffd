"""The render's Ansible inventory and playbooks, run by the real ansible-playbook against machines that
are directories (tests/harness/fleet.py), and checked by the real ansible-lint.

A site.yml run costs about half a minute here (Ansible copies a bundle file by file), so one fleet is
applied once for the module and its tests read what that run did, in the order they are written."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.harness.fleet import Fleet, ansible_tool, recap
from tests.helpers import ROOT, planted_needles, tree_state

pytestmark = pytest.mark.real_component

TOPOLOGY = ROOT / "topology.yaml"
BUNDLE_DIR = "var/lib/harborgen/bundle"  # where the fleet's hosts keep their bundle, under their root
INSTALLED = "home/cephd/harbor/harbor"
COMMITTED = sorted(path.relative_to(ROOT) for path in (*(ROOT / "out").glob("*/ansible"), *(ROOT / "golden").glob("*/ansible")))


def _roots(fleet: Fleet) -> dict[str, dict]:
    """Every machine's files, with its own root's path written as ROOT and the shipped bundle left out."""
    found = {}
    for name, machine in fleet.machines.items():
        root = str(machine.root).encode()
        state = tree_state(machine.root, lambda content, root=root: content.replace(root, b"ROOT"))
        found[name] = {path: value for path, value in state.items() if not path.startswith(BUNDLE_DIR + "/")}
    return found


def _succeeded(result: subprocess.CompletedProcess) -> dict[str, dict[str, int]]:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return recap(result.stdout)


def _changed(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    return {name: count["changed"] for name, count in counts.items()}


# What apply.sh --check asks the machine: questions, never actions.
QUESTIONS = ("docker container inspect ", "ip -o -4 address show ", "systemctl is-active ")


def _only_questions(calls: list[str]) -> bool:
    return all(call.startswith(QUESTIONS) for call in calls)


def _first(calls: list[str], pattern: str) -> int:
    return next(index for index, call in enumerate(calls) if re.search(pattern, call))


@pytest.fixture(scope="module")
def applied(tmp_path_factory, token_pair):
    """A fresh fleet after one site.yml at -vvv: (the fleet, that run)."""
    fleet = Fleet(tmp_path_factory.mktemp("fleet"), TOPOLOGY, token_pair)
    return fleet, fleet.playbook("site.yml", "-vvv")


@pytest.mark.parametrize("render", [str(path.parent) for path in COMMITTED])
def test_every_committed_playbook_passes_ansible_lint_production_and_the_syntax_check(render):
    directory = ROOT / render / "ansible"
    playbooks = sorted(path.name for path in directory.glob("*.yml") if path.name != "inventory.yml")
    assert {"site.yml", "check.yml"} <= set(playbooks)
    checked = subprocess.run([ansible_tool("ansible-playbook"), "-i", "inventory.yml", "--syntax-check", *playbooks],
                             cwd=directory, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    linted = subprocess.run([ansible_tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor", "-f", "pep8", "."],
                            cwd=directory, capture_output=True, text=True, timeout=300)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "it passed" in linted.stderr + linted.stdout


def test_site_goes_phase_by_phase_and_one_harbor_node_at_a_time(applied):
    fleet, run = applied
    assert all(count > 0 for count in _changed(_succeeded(run)).values())
    calls = fleet.calls()
    database = _first(calls, r"^mysql ")
    mounts = [_first(calls, rf"^mount .*/machines/{name}/") for name in ("admin", "node0", "node1")]
    starts = [_first(calls, rf"^docker-compose up -d \(in .*/machines/{name}/") for name in ("admin", "node0", "node1")]
    answers = [_first(calls, rf"^curl .*http://{address}/$") for address in ("10.222.77.73", "10.222.78.7", "10.222.78.8")]
    balancer = _first(calls, r"^docker run --detach --name nginx-harbor")
    assert database < mounts[0]
    # Each Harbor node is mounted, started and answers before the next one is touched.
    assert mounts[0] < starts[0] < answers[0] < mounts[1] < starts[1] < answers[1] < mounts[2] < starts[2] < answers[2] < balancer


def test_no_secret_value_reaches_ansibles_output_even_at_vvv(applied):
    fleet, run = applied
    output = (run.stdout + run.stderr).encode()
    assert b"<localhost> EXEC" in output or b"ESTABLISH LOCAL CONNECTION" in output  # it was -vvv
    assert sorted(name for name, needle in planted_needles(fleet.values).items() if needle in output) == []
    assert b"the output has been hidden" in output  # the pack's copy is no_log


def test_site_brings_the_machines_to_what_apply_brings_them_to_then_changes_nothing(applied, tmp_path, token_pair):
    fleet, _ = applied
    assert _changed(_succeeded(fleet.playbook("site.yml"))) == {name: 0 for name in fleet.nodes}
    by_hand = Fleet(tmp_path, TOPOLOGY, token_pair, fleet.values)
    for name in ("mysql", "admin", "node0", "node1", "nginx"):
        by_hand.apply_by_hand(name)
    assert _roots(fleet) == _roots(by_hand)


def test_check_mode_shows_what_would_change_and_changes_nothing(applied):
    fleet, _ = applied
    (fleet.machines["node0"].root / INSTALLED / "docker-compose.yml").write_text("version: '2'\n")
    before, calls = _roots(fleet), fleet.calls()
    checked = fleet.playbook("site.yml", "--check", "--diff")
    assert _changed(_succeeded(checked)) == {"admin": 0, "mysql": 0, "nginx": 0, "node0": 1, "node1": 0}
    assert f"would write {fleet.machines['node0'].root / INSTALLED / 'docker-compose.yml'}" in checked.stdout
    assert _roots(fleet) == before
    assert fleet.calls()[:len(calls)] == calls and _only_questions(fleet.calls()[len(calls):]), fleet.calls()[len(calls):]


def test_check_yml_fetches_every_report_and_audit_reads_them(applied):
    fleet, _ = applied
    (fleet.machines["node1"].root / INSTALLED / "harbor.cfg").write_text("tampered\n")
    assert _changed(_succeeded(fleet.playbook("check.yml"))) == {name: 0 for name in fleet.nodes}
    assert sorted(path.name for path in fleet.reports.iterdir()) == sorted(f"{name}.json" for name in fleet.nodes)
    audit = subprocess.run([ansible_tool("harborgen"), "audit", str(TOPOLOGY), "--reports", str(fleet.reports)],
                           capture_output=True, text=True, timeout=60)
    assert audit.returncode == 1, audit.stdout + audit.stderr
    rows = {line.split()[0]: line for line in audit.stdout.splitlines()[1:6]}
    assert "drifts" in rows["node1"] and "drifts" in rows["node0"]  # the check-mode test's change is still there
    assert all("up to date" in rows[name] for name in ("admin", "mysql", "nginx")), audit.stdout


def test_check_mode_on_fresh_machines_changes_nothing(tmp_path, token_pair):
    fleet = Fleet(tmp_path, TOPOLOGY, token_pair)
    before = _roots(fleet)
    checked = _succeeded(fleet.playbook("site.yml", "--check"))
    assert all(count > 0 for count in _changed(checked).values()), checked  # never applied: every node drifts
    assert _roots(fleet) == before and _only_questions(fleet.calls()), fleet.calls()


def test_a_harbor_node_that_fails_stops_the_run_before_the_next_one(tmp_path, token_pair):
    fleet = Fleet(tmp_path, TOPOLOGY, token_pair)
    (fleet.state / "curl-fail").touch()  # the first Harbor node never answers
    result = fleet.playbook("site.yml")
    assert result.returncode != 0
    assert "Harbor does not answer on http://10.222.77.73/" in result.stdout
    calls = fleet.calls()
    assert any(re.search(r"^docker-compose up -d \(in .*/machines/admin/", call) for call in calls)
    assert not any("/machines/node0/" in call or "/machines/node1/" in call or "nginx-harbor" in call for call in calls), calls
    assert not (fleet.machines["node0"].root / BUNDLE_DIR).exists()
