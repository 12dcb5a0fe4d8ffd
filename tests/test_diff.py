"""harborgen diff: a cluster change reviewed like code, with its impact plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

from generator.pipeline import load_cluster
from generator.resources import SCHEMA_FILE
from generator.targets.harbor2.patroni import plan_warnings
from generator.targets.harbor2.sentinel import plan_warnings as sentinel_plan_warnings
from tests.diff_cases import CASES, PATRONI, case_files
from tests.golden_tool import DIFF_FORMATS, diff_output
from tests.helpers import GOLDEN, ROOT, run_cli, run_harborgen

TOPOLOGY = ROOT / "topology.yaml"


@pytest.mark.parametrize("suffix", sorted(DIFF_FORMATS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_diff(name, suffix):
    assert case_files(name)[1].read_text() == CASES[name][1], "run `make golden`"
    assert diff_output(name, suffix) == (GOLDEN / "diff" / f"{name}.{suffix}").read_text(), "run `make golden` and review"


def _diff(name: str, *options: str) -> tuple[int, str]:
    base, new = case_files(name)
    code, stdout, stderr = run_cli("diff", str(base), str(new), *options)
    assert code in (0, 1), stderr
    return code, stdout


def _plan(text: str) -> list[str]:
    block = text[text.index("\nPlan\n") + 6:].split("\n\n")[0]
    return [line.split(". ", 1)[1].split(" ")[0] for line in block.splitlines()]


def test_adding_a_node_names_the_three_real_edits_and_plans_database_node_balancer():
    _, text = _diff("add-node")
    assert "mysql: database/create-database.sql: + `CREATE USER IF NOT EXISTS 'harbor'@'10.222.78.9'" in text
    assert "nginx: nginx/default.conf: upstream harbor_harbor-ceph: + `server 10.222.78.9:80" in text
    assert "`proxy_next_upstream_tries 3` → `proxy_next_upstream_tries 4`" in text
    assert "+ bundle node2/: 16 files" in text
    assert _plan(text) == ["mysql", "node2", "nginx"]
    assert "ip_hash sends some clients to another node" in text
    assert len(text.splitlines()) <= 40, "one screen"
    assert "MANIFEST" not in text


def test_removing_a_node_moves_the_balancer_first_and_the_node_last():
    _, text = _diff("remove-node")
    assert _plan(text) == ["mysql", "nginx", "admin", "node1"]
    assert "apply.sh never drops anything" in text


def test_an_address_change_comes_first_and_remaps_clients():
    _, text = _diff("change-address")
    assert text.index("node `node0` address 10.222.78.7 → 10.222.78.17") < text.index("Changes")
    assert "ip_hash sends some clients" in text


def test_listen_port_and_url_touch_every_node_and_every_client():
    _, text = _diff("listen-port-and-url")
    assert "admin, node0, node1: harbor/harbor.cfg: `hostname` `10.222.76.70` → `10.222.76.70:8080`" in text
    assert "every Docker client must log in again" in text
    assert _plan(text) == ["admin", "node0", "node1", "nginx"]


def test_a_change_identical_on_every_node_is_shown_once():
    _, text = _diff("max-job-workers")
    assert text.count("max_job_workers") == 1
    assert "admin, node0, node1: harbor/harbor.cfg: `max_job_workers` `3` → `5`" in text
    assert "ResetRunningJobs" in text


def test_switching_to_fuse_remounts_every_harbor_node():
    _, text = _diff("mount-via-fuse")
    assert _plan(text) == ["admin", "node0", "node1"]
    assert text.count("CephFS is unmounted and mounted again") == 3


def test_a_dedicated_client_is_created_before_any_node_remounts():
    _, text = _diff("dedicated-client")
    plan = text[text.index("\nPlan\n"):]
    assert plan.index("bootstrap-cephfs.sh") < plan.index("unmount CephFS")


def test_renaming_a_secret_shows_names_and_never_a_value():
    _, text = _diff("rename-db-secret")
    assert "`db_password` `HARBORGEN_SECRET[harbor_db_password]` → `HARBORGEN_SECRET[harbor_db_password_v2]`" in text
    assert _plan(text)[0] == "mysql"


def test_with_trivy_plans_install_harbor_node_by_node():
    """Only install-harbor.sh reads with_trivy (prepare --with-trivy): apply.sh alone would change nothing."""
    _, text = _diff("harbor2-with-trivy", "--format", "json")
    plan = json.loads(text)["plan"]
    assert [step["node"] for step in plan] == ["admin", "node0", "node1"]
    assert all(step["actions"] == ["apply.sh, then install-harbor.sh"] and step["restarts_harbor"] for step in plan), plan


def test_a_pool_size_is_no_cluster_wide_change_but_a_sentinel_host_is():
    _, pool = _diff("harbor2-max-open-conns")
    assert "cluster-wide change" not in pool and "install-harbor.sh" in pool
    _, sentinel = _diff("harbor2-sentinel-host")
    assert "cluster-wide change (harbor/harbor.yml)" in sentinel and "save the GC schedule again" in sentinel


def test_a_redis_change_plans_the_redis_node_first():
    _, text = _diff("harbor2-redis-port", "--format", "json")
    plan = json.loads(text)["plan"]
    assert plan[0]["node"] == "redis" and plan[0]["roles"] == ["redis"]
    assert [step["node"] for step in plan[1:]] == ["admin", "node0", "node1"]


def test_a_patroni_setting_goes_to_etcd_and_restarts_nothing():
    _, text = _diff("patroni-ttl")
    assert "patronictl edit-config" in text and "nothing restarts" in text
    assert "cluster-wide change" not in text and "no Harbor restart" in text


def test_a_sentinel_timer_goes_to_each_running_sentinel_and_restarts_nothing():
    _, text = _diff("sentinel-down-after")
    assert _plan(text) == ["r1", "r2", "r3"], text
    assert text.count("SENTINEL SET") == 3 and "restart Redis" not in text and "Warnings" not in text


def test_a_single_postgresql_becoming_patroni_is_planned_as_a_restore_into_an_empty_cluster():
    _, text = _diff("harbor2-patroni-database")
    assert "Patroni makes a new, empty cluster" in text and "pg_dump registry on pg first" in text
    assert "pg still answers on 10.222.76.74, now the floating address" in text


def test_patroni_members_and_etcd_members_change_one_at_a_time(tmp_path):
    grown = tmp_path / "grown.yaml"
    grown.write_text(PATRONI.read_text().replace("nodes: [pg1, pg2, pg3]", "nodes: [pg1, pg2, pg3, pg4, pg5]").replace(
        "  pg3: {address: 10.79.0.33, roles: [database]}\n",
        "  pg3: {address: 10.79.0.33, roles: [database]}\n  pg4: {address: 10.79.0.34, roles: [database]}\n"
        "  pg5: {address: 10.79.0.35, roles: [database]}\n"))
    found = plan_warnings(load_cluster(PATRONI), load_cluster(grown))
    assert any("members change (+pg4, +pg5): one at a time" in warning for warning in found), found
    assert any("etcdctl member add or remove" in warning for warning in found), found  # etcd defaults to the members
    assert plan_warnings(load_cluster(PATRONI), load_cluster(PATRONI)) == []


def test_a_node_joining_or_leaving_the_sentinel_set_is_an_operator_step(tmp_path):
    moved = tmp_path / "moved.yaml"
    moved.write_text(PATRONI.read_text().replace("nodes: [r1, r2, r3]", "nodes: [r1, r2, r4]").replace(
        "  r3: {address: 10.79.0.43, roles: [redis]}\n", "  r4: {address: 10.79.0.44, roles: [redis]}\n"))
    found = sentinel_plan_warnings(load_cluster(PATRONI), load_cluster(moved))
    assert len(found) == 2, found
    assert found[0].startswith("r4 join the Sentinel set harbor") and "REPLICAOF" in found[0]
    assert found[1].startswith("r3 leave the Sentinel set") and "SENTINEL RESET harbor" in found[1]
    assert sentinel_plan_warnings(load_cluster(PATRONI), load_cluster(PATRONI)) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_json_report_follows_its_schema(name):
    _, text = _diff(name, "--format", "json")
    schema = json.loads((SCHEMA_FILE.parent / "diff-report.schema.json").read_text())
    report = json.loads(text)
    Draft202012Validator(schema).validate(report)
    assert not report["empty"] and report["plan"]


def test_diff_of_a_topology_with_itself_is_empty_exits_0_and_compiles_once(monkeypatch):
    from generator import cli

    compiles = []
    real = cli.compile_cluster
    monkeypatch.setattr(cli, "compile_cluster", lambda cluster: compiles.append(1) or real(cluster))
    code, stdout, _ = run_cli("diff", str(TOPOLOGY), str(TOPOLOGY), "--exit-code")
    assert code == 0 and "no change in any bundle" in stdout
    assert len(compiles) == 1


def test_exit_code_is_1_when_anything_changes():
    assert _diff("max-job-workers", "--exit-code")[0] == 1
    assert _diff("max-job-workers")[0] == 0


def test_a_change_of_every_nodes_values_file_is_one_line(tmp_path):
    new = tmp_path / "new.yaml"
    new.write_text(TOPOLOGY.read_text().replace("  port: 3306\n", "  port: 3307\n"))
    code, stdout, _ = run_cli("diff", str(TOPOLOGY), str(new))
    lines = [line for line in stdout.splitlines() if "`database_port`" in line]
    assert lines == ["  admin, mysql, node0, node1: values.sh: `database_port` `3306` → `3307`"]


def test_base_and_new_can_be_git_revisions(tmp_path):
    repository = tmp_path / "repo"
    repository.mkdir()
    git = ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    (repository / "topology.yaml").write_text(TOPOLOGY.read_text())
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "topology.yaml"], check=True)
    subprocess.run([*git, "commit", "-qm", "seed"], check=True)
    (repository / "topology.yaml").write_text(CASES["max-job-workers"][1])
    result = run_harborgen("diff", "HEAD:topology.yaml", "topology.yaml", cwd=repository)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("HEAD:topology.yaml → topology.yaml") and "`max_job_workers` `3` → `5`" in result.stdout
    missing = run_harborgen("diff", "HEAD:nothing.yaml", "topology.yaml", cwd=repository)
    assert missing.returncode == 2 and "cannot read HEAD:nothing.yaml from Git" in missing.stderr


def test_render_imports_neither_deepdiff_nor_crossplane(tmp_path):
    program = (
        "import sys\nfrom generator.cli import main\n"
        "try:\n    main(['render', sys.argv[1], '--out', sys.argv[2]])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('deepdiff', 'crossplane') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", program, str(TOPOLOGY), str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_check_diff_shows_what_drifted(tmp_path):
    out = tmp_path / "out"
    assert run_harborgen("render", str(TOPOLOGY), "--out", str(out)).returncode == 0
    config = out / "harbor-ceph/nginx/nginx/default.conf"
    config.write_text(config.read_text().replace("client_max_body_size 0;", "client_max_body_size 1024m;"))
    result = run_harborgen("check", str(TOPOLOGY), "--out", str(out), "--diff")
    assert result.returncode == 1
    assert "-    client_max_body_size 1024m;\n+    client_max_body_size 0;" in result.stderr


@pytest.mark.real_component
def test_pre_commit_runs_the_hooks_from_this_repository(tmp_path):
    """pre-commit try-repo installs harborgen from this checkout and runs every hook on a real repository."""
    from tests.helpers import require_tool

    pre_commit = require_tool("pre-commit") if not (ROOT / ".venv/bin/pre-commit").exists() else str(ROOT / ".venv/bin/pre-commit")
    source = tmp_path / "harborgen"
    subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(source)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(source), "checkout", "-q", "-B", "under-test"], check=True)
    # The working tree as it is, committed in the clone: try-repo installs what is committed.
    import shutil

    shutil.copytree(ROOT, source, dirs_exist_ok=True, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", ".hypothesis", "__pycache__", ".*.lock"))
    git = ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "under test", "--allow-empty"], check=True)
    user = tmp_path / "cluster"
    user.mkdir()
    subprocess.run(["git", "init", "-q", str(user)], check=True)
    (user / "topology.yaml").write_text(TOPOLOGY.read_text())
    subprocess.run([sys.executable, "-m", "generator", "render", str(user / "topology.yaml"), "--out", str(user / "out")],
                   check=True, cwd=ROOT, capture_output=True)
    subprocess.run(["git", "-C", str(user), "add", "-A"], check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    result = subprocess.run([pre_commit, "try-repo", str(source), "--all-files"], cwd=user, capture_output=True, text=True,
                            timeout=900, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    for hook in ("harborgen validate", "harborgen check", "harborgen lint"):
        assert f"{hook}." in result.stdout and "Passed" in result.stdout, result.stdout
    (user / "out/harbor-ceph/nginx/nginx/default.conf").write_text("# edited by hand\n")
    failed = subprocess.run([pre_commit, "try-repo", str(source), "harborgen-check", "--all-files"], cwd=user,
                            capture_output=True, text=True, timeout=900, env=env)
    assert failed.returncode == 1 and "hand-edited: nginx/nginx/default.conf" in failed.stdout
