"""harborgen lint: every rule fires on a topology made for it, and stays quiet on its near miss."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from generator.lint.run import RULES, RULES_BY_ID, run_lint
from generator.pipeline import load_checked
from generator.resources import SCHEMA_FILE
from tests.helpers import GOLDEN, ROOT, run_harborgen

# A cluster on which only the two rules the topology cannot avoid fire: it has
# exactly one load balancer and one database section (HG102, HG103).
QUIET = yaml.safe_load("""
cluster: quiet
harbor:
  version: "1.1.2"
  external_url: https://registry.example.com
  installer_dir: /opt/harbor
  admin_password: {secret: admin_pw}
  self_registration: false
  max_job_workers: 3
  token_expiration: 30
  verify_remote_cert: true
  email: {server: smtp.example.com, port: 587, username: registry, password: {secret: smtp_pw}, from: registry}
cephfs:
  monitors: ["10.0.4.1:6789", "10.0.4.2:6789", "10.0.4.3:6789"]
  fs_name: cephfs
  client: harbor
  mount_point: /mnt/cephfs
  harbor_dir: harbor
  data_pool: {name: cephfs_data, pg_num: 128}
  metadata_pool: {name: cephfs_metadata, pg_num: 32}
  mds: [c1, h1]
  selinux_relabel: false
database: {node: db, name: registry, user: harbor, password: {secret: db_pw}}
load_balancer:
  node: lb
  listen: 443
  server_name: registry.example.com
  stickiness: hash_remote_addr
  tls: {certificate: /etc/ssl/registry/fullchain.pem, certificate_key: /etc/ssl/registry/privkey.pem}
nodes:
  h1: {address: 10.0.1.1, roles: [harbor]}
  h2: {address: 10.0.1.2, roles: [harbor]}
  h3: {address: 10.0.1.3, roles: [harbor]}
  lb: {address: 10.0.2.1, roles: [load-balancer]}
  db: {address: 10.0.3.1, roles: [database]}
  c1: {address: 10.0.4.1, roles: [ceph-admin]}
""")
ALWAYS = {"HG102", "HG103"}


def _accept(*rules: str):
    def edit(document):
        document["lint"] = {"accept": [{"rule": rule, "reason": "tested"} for rule in rules]}
    return edit


def _set(path: str, value):
    def edit(document):
        *parents, last = path.split(".")
        target = document
        for part in parents:
            target = target[part]
        target[last] = value
    return edit


def _both(*edits):
    def edit(document):
        for one in edits:
            one(document)
    return edit


def _harbor_only(names):
    def edit(document):
        for name in list(document["nodes"]):
            if "harbor" in document["nodes"][name]["roles"] and name not in names:
                del document["nodes"][name]
        document["cephfs"]["mds"] = ["c1", names[0]]
    return edit


def _lb_on_h1(document):
    del document["nodes"]["lb"]
    document["nodes"]["h1"]["roles"] = ["harbor", "load-balancer"]
    document["load_balancer"].update(node="h1", listen=8443)
    document["harbor"]["external_url"] = "https://registry.example.com:8443"


def _no_ceph_admin(document):
    document["nodes"]["c1"]["roles"] = ["database"]
    document["nodes"]["db"]["roles"] = ["database"]
    document["database"]["node"] = "db"
    del document["nodes"]["c1"]
    document["cephfs"]["mds"] = ["h1", "h2"]


def _harbor2(document):
    """QUIET moved to Harbor 2.15: PostgreSQL, and Redis through Sentinel."""
    document["harbor"] = {"version": "2.15", "external_url": "https://registry.example.com", "installer_dir": "/opt/harbor",
                          "admin_password": {"secret": "admin_pw"}}
    document["database"]["connection_limit"] = 600  # 3 nodes x 2 pools x 100
    document["redis"] = {"password": {"secret": "redis_pw"},
                         "sentinel": {"master_set": "harbor", "hosts": ["10.0.5.1:26379", "10.0.5.2:26379", "10.0.5.3:26379"]}}


def _sentinel_set(**sentinel):
    """_harbor2 with a Sentinel set harborgen renders: three Redis nodes, each with a sentinel."""
    def edit(document):
        _harbor2(document)
        for index in (1, 2, 3):
            document["nodes"][f"r{index}"] = {"address": f"10.0.5.{index}", "roles": ["redis"]}
        document["redis"] = {"nodes": ["r1", "r2", "r3"], "password": {"secret": "redis_pw"},
                             "sentinel": {"master_set": "harbor", **sentinel}}
    return edit


def _one_redis(document):
    _harbor2(document)
    del document["redis"]["sentinel"]
    document["redis"]["host"] = "10.0.5.1"


def _pair(document):
    """QUIET with a load-balancer pair on a floating address."""
    document["nodes"]["lb2"] = {"address": "10.0.2.2", "roles": ["load-balancer"]}
    balancer = document["load_balancer"]
    del balancer["node"]
    balancer.update(nodes=["lb", "lb2"], virtual_address="10.0.2.10", vrrp={"interface": "eth0"})


def _pair_by_address(document):
    _pair(document)
    document["load_balancer"]["server_name"] = "10.0.2.10"
    document["harbor"]["external_url"] = "https://10.0.2.10"


def _galera(members: int):
    """QUIET with a Galera database of MEMBERS nodes behind a floating address."""
    def edit(document):
        names = ["db"] + [f"db{index}" for index in range(2, members + 1)]
        for index, name in enumerate(names[1:], start=2):
            document["nodes"][name] = {"address": f"10.0.3.{index}", "roles": ["database"]}
        database = document["database"]
        del database["node"]
        database.update(nodes=names, virtual_address="10.0.3.10", vrrp={"interface": "eth0"})
    return edit


def _patroni(members: int, etcd: list[str] | None = None, **settings):
    """QUIET on Harbor 2.15 with a Patroni database of MEMBERS nodes (etcd on ETCD, default on them)."""
    def edit(document):
        _harbor2(document)
        _galera(members)(document)
        document["database"]["patroni"] = {**({"etcd": etcd} if etcd else {}), **settings}
    return edit


def _http(document):
    document["harbor"]["external_url"] = "http://registry.example.com"
    document["load_balancer"]["listen"] = 80
    del document["load_balancer"]["tls"]


# rule -> (an edit of QUIET that makes it fire, a near miss that does not)
CASES = {
    "HG000": (_accept("HG201"), _both(_set("cephfs.client", "admin"), _accept("HG201"))),
    "HG001": (_accept("HG999"), _accept("HG102")),
    "HG101": (_harbor_only(["h1"]), _harbor_only(["h1", "h2"])),
    # The topology has exactly one load_balancer and one database section: these always fire;
    # their near miss is the accepted finding, which no longer fails lint.
    "HG102": (lambda d: None, _pair),
    "HG103": (lambda d: None, _galera(3)),
    "HG104": (_set("cephfs.monitors", ["10.0.4.1:6789", "10.0.4.2:6789", "10.0.4.2:6790"]),
              _set("cephfs.monitors", ["10.0.4.1:6789", "10.0.4.2:6789", "10.0.4.4:6789"])),
    "HG105": (_set("cephfs.mds", ["c1"]), _set("cephfs.mds", ["c1", "h2"])),
    "HG106": (_lb_on_h1, _set("cephfs.monitors", ["10.0.4.1:6789", "10.0.4.2:6789", "10.0.1.9:6789"])),
    "HG107": (_one_redis, _harbor2),
    "HG108": (_galera(2), _galera(3)),
    "HG109": (_galera(4), _galera(5)),
    "HG110": (_patroni(2), _patroni(2, etcd=["db", "db2", "c1"])),
    "HG111": (_patroni(3, synchronous_mode=False), _patroni(3, synchronous_mode=True)),
    "HG112": (_both(_harbor2, _set("redis.sentinel.hosts", ["10.0.5.1:26379", "10.0.5.2:26379"])), _harbor2),
    "HG201": (_set("cephfs.client", "admin"), _set("cephfs.client", "admins")),
    "HG202": (_http, lambda d: None),
    "HG203": (_set("harbor.email.password", {"secret": "db_pw"}), _set("harbor.email.password", {"secret": "db_pw2"})),
    "HG204": (_set("harbor.verify_remote_cert", False), _set("harbor.verify_remote_cert", True)),
    "HG205": (_set("harbor.self_registration", True),
              _both(_set("harbor.self_registration", True), _set("harbor.auth_mode", "ldap_auth"),
                    _set("harbor.ldap", {"url": "ldap://ldap.example.com", "base_dn": "dc=example"}))),
    "HG301": (_set("load_balancer.stickiness", "ip_hash"), _set("load_balancer.stickiness", "hash_remote_addr")),
    "HG308": (_pair, _pair_by_address),
    "HG302": (_set("cephfs.data_pool", {"name": "cephfs_data", "pg_num": 1024}),
              _set("cephfs.data_pool", {"name": "cephfs_data", "pg_num": 256})),
    "HG303": (_set("harbor.max_job_workers", 17), _set("harbor.max_job_workers", 16)),
    "HG304": (_both(_set("load_balancer.timeout", 3600), _set("harbor.token_expiration", 59)),
              _both(_set("load_balancer.timeout", 3600), _set("harbor.token_expiration", 60))),
    "HG305": (_no_ceph_admin, lambda d: None),
    "HG306": (_set("cephfs.selinux_relabel", True), _set("cephfs.selinux_relabel", False)),
    "HG307": (_both(_harbor2, _set("database.connection_limit", 599)), _harbor2),
}


def _lint(tmp_path: Path, edit) -> list:
    document = copy.deepcopy(QUIET)
    edit(document)
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return run_lint(load_checked(path))


def _unaccepted(results) -> set[str]:
    return {result.rule.id for result in results if result.severity != "accepted"}


def test_every_registered_rule_has_a_case_that_fires_and_a_near_miss():
    assert set(CASES) == set(RULES_BY_ID), "the catalogue and its tests drifted apart"


def test_the_quiet_topology_fires_only_what_a_topology_cannot_avoid(tmp_path):
    assert _unaccepted(_lint(tmp_path, lambda d: None)) == ALWAYS
    assert _unaccepted(_lint(tmp_path, _harbor2)) == ALWAYS, "the same cluster on Harbor 2.15"


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_on_its_case(tmp_path, rule):
    fires, _ = CASES[rule]
    results = _lint(tmp_path, fires)
    assert rule in _unaccepted(results), [str(r) for r in results]
    for result in results:
        assert result.finding.what and result.finding.why and result.finding.fix


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_stays_quiet_on_its_near_miss(tmp_path, rule):
    _, near_miss = CASES[rule]
    assert rule not in _unaccepted(_lint(tmp_path, near_miss))


def test_a_sentinel_quorum_that_one_lost_machine_leaves_unreachable_fires_hg112(tmp_path):
    assert "HG112" in _unaccepted(_lint(tmp_path, _sentinel_set(quorum=3)))
    assert "HG112" not in _unaccepted(_lint(tmp_path, _sentinel_set(quorum=2)))
    assert "HG112" not in _unaccepted(_lint(tmp_path, _sentinel_set()))


def test_accepted_findings_are_listed_as_accepted_with_their_reason(tmp_path):
    results = _lint(tmp_path, _accept("HG102"))
    (accepted,) = [result for result in results if result.rule.id == "HG102"]
    assert accepted.severity == "accepted" and str(accepted).endswith("(accepted: tested)")


def test_an_accept_without_a_reason_is_invalid(tmp_path):
    document = copy.deepcopy(QUIET)
    document["lint"] = {"accept": [{"rule": "HG102"}]}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    result = run_harborgen("lint", str(path))
    assert result.returncode == 2 and "lint.accept[0].reason: missing required key" in result.stderr


def _seed_without_accepts(tmp_path: Path) -> Path:
    text = (ROOT / "topology.yaml").read_text()
    path = tmp_path / "topology.yaml"
    path.write_text(text[: text.index("# What `harborgen lint` finds")])
    return path


def test_the_seed_without_its_accepts_names_every_weak_spot_and_fails(tmp_path):
    topology = _seed_without_accepts(tmp_path)
    result = run_harborgen("lint", str(topology), cwd=tmp_path)
    assert result.returncode == 1
    golden = (GOLDEN / "lint" / "seed-unaccepted.txt").read_text()
    assert result.stdout.replace(str(topology), "topology.yaml") == golden
    for rule in ("HG102", "HG103", "HG104", "HG201"):
        assert f"error {rule} " in result.stdout


def test_the_committed_seed_exits_0_and_lists_its_accepts():
    result = run_harborgen("lint", "topology.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sum(line.split()[1] == "accepted" for line in result.stdout.splitlines()[:-1]) == 4
    assert "0 error" in result.stdout.splitlines()[-1]


def test_findings_are_sorted_by_position():
    results = run_lint(load_checked(ROOT / "topology.yaml"))
    positions = [(result.line, result.column) for result in results]
    assert positions == sorted(positions)


def test_the_json_report_follows_its_schema(tmp_path):
    result = run_harborgen("lint", str(_seed_without_accepts(tmp_path)), "--format", "json")
    report = json.loads(result.stdout)
    schema = json.loads((SCHEMA_FILE.parent / "lint-report.schema.json").read_text())
    Draft202012Validator(schema).validate(report)
    assert report["counts"]["error"] == 4 and len(report["findings"]) == sum(report["counts"].values())


def test_the_github_format_is_one_workflow_command_per_finding(tmp_path):
    topology = _seed_without_accepts(tmp_path)
    text = run_harborgen("lint", str(topology), "--format", "text").stdout.splitlines()[:-1]
    github = run_harborgen("lint", str(topology), "--format", "github").stdout.splitlines()
    assert len(github) == len(text)
    for line, plain in zip(github, text, strict=True):
        location, severity, rule = plain.split(": ")[0], plain.split()[1], plain.split()[2]
        _, number, column = location.rsplit(":", 2)
        level = {"error": "error", "warning": "warning", "info": "notice"}[severity]
        assert line.startswith(f"::{level} file={topology},line={number},col={column},title={rule}::"), line
        assert "\n" not in line and "%0A" not in line


def test_list_rules_prints_the_catalogue_the_readme_shows():
    result = run_harborgen("lint", "--list-rules")
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines() if line.startswith("HG")] == [rule.id for rule in RULES]
    readme = (ROOT / "README.md").read_text()
    assert result.stdout in readme, "README's rule catalogue is not what --list-rules prints"


def test_a_load_balancer_pair_satisfies_hg102_and_the_seed_does_not():
    pair = run_lint(load_checked(ROOT / "tests" / "topologies" / "lb-pair.yaml"))
    seed = run_lint(load_checked(ROOT / "topology.yaml"))
    assert "HG102" not in {result.rule.id for result in pair}
    assert "HG102" in {result.rule.id for result in seed}


def test_a_patroni_cluster_with_three_etcd_members_and_sentinel_holds_no_single_point_of_the_state(tmp_path):
    fired = _unaccepted(_lint(tmp_path, _patroni(3)))
    assert not fired & {"HG103", "HG107", "HG110", "HG111", "HG112"}, fired
