"""gc.sh and the harbor-db migration, played against stand-ins for ssh, docker and mysql."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from generator.writer import write_tree
from tests.helpers import ROOT, compiled

TOPOLOGY = ROOT / "topology.yaml"
STUBS = Path(__file__).parent / "stubs"
NODES = ["10.222.77.73", "10.222.78.7", "10.222.78.8"]


def _run(script: Path, *args: str, state: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{STUBS}:{os.environ['PATH']}", "STUB_STATE": str(state), "HARBORGEN_SSH": str(STUBS / "ssh"),
           "HARBORGEN_POLL_SECONDS": "0", "HARBORGEN_START_TIMEOUT": "1"}
    return subprocess.run(["bash", str(script), *args], input=stdin, capture_output=True, text=True, timeout=60, env=env)


def _rendered(tmp_path: Path) -> Path:
    _, tree = compiled(TOPOLOGY)
    write_tree(tree, tmp_path / "harbor-ceph")
    return tmp_path / "harbor-ceph"


def test_gc_stops_every_node_dry_runs_collects_once_and_restarts_all(tmp_path):
    cluster_dir = _rendered(tmp_path)
    result = _run(cluster_dir / "gc.sh", state=tmp_path, stdin="harbor-ceph\n")
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "ssh").read_text().splitlines()
    stops = [c for c in calls if c.endswith("docker-compose stop")]
    gcs = [c for c in calls if "garbage-collect" in c]
    starts = [c for c in calls if c.endswith("docker-compose start")]
    assert [c.split()[0] for c in stops] == NODES and [c.split()[0] for c in starts] == NODES
    assert len(gcs) == 2 and "--dry-run" in gcs[0] and "--dry-run" not in gcs[1]
    assert {c.split()[0] for c in gcs} == {NODES[0]}
    assert calls.index(stops[-1]) < calls.index(gcs[0]) and calls.index(gcs[1]) < calls.index(starts[0])


def test_gc_starts_each_node_only_once_the_previous_one_answers(tmp_path):
    cluster_dir = _rendered(tmp_path)
    result = _run(cluster_dir / "gc.sh", "--yes", state=tmp_path)
    assert result.returncode == 0, result.stderr
    calls = [c for c in (tmp_path / "ssh").read_text().splitlines() if c.endswith("docker-compose start") or " curl " in c]
    expected = []
    for address in NODES:
        expected += [f"{address} cd /home/cephd/harbor/harbor && docker-compose start",
                     f"{address} curl --silent --insecure --fail --output /dev/null --max-time 10 http://{address}/"]
    assert calls == expected


def test_gc_waits_a_bounded_time_fails_loudly_and_still_starts_the_others(tmp_path):
    cluster_dir = _rendered(tmp_path)
    (tmp_path / "ssh-fail").write_text("curl --silent --insecure --fail --output /dev/null --max-time 10 http://10.222.78.7/\n")
    result = _run(cluster_dir / "gc.sh", "--yes", state=tmp_path)
    assert result.returncode == 1
    assert "WARNING: Harbor on 10.222.78.7 does not answer on http://10.222.78.7/ after 1 s" in result.stderr
    calls = (tmp_path / "ssh").read_text().splitlines()
    assert [c.split()[0] for c in calls if c.endswith("docker-compose start")] == NODES


def test_gc_without_confirmation_deletes_nothing_and_restarts_all(tmp_path):
    cluster_dir = _rendered(tmp_path)
    result = _run(cluster_dir / "gc.sh", state=tmp_path, stdin="no\n")
    assert result.returncode == 1
    calls = (tmp_path / "ssh").read_text().splitlines()
    assert sum("garbage-collect" in c for c in calls) == 1  # the dry run only
    assert sum(c.endswith("docker-compose start") for c in calls) == 3


def test_gc_restarts_every_node_when_collection_fails(tmp_path):
    cluster_dir = _rendered(tmp_path)
    (tmp_path / "ssh-fail").write_text("garbage-collect /etc/registry/config.yml\n")
    result = _run(cluster_dir / "gc.sh", "--yes", state=tmp_path)
    assert result.returncode != 0
    calls = (tmp_path / "ssh").read_text().splitlines()
    assert sum(c.endswith("docker-compose start") for c in calls) == 3


def test_migration_dumps_inside_the_container_and_never_puts_a_password_on_a_command_line(tmp_path):
    cluster_dir = _rendered(tmp_path)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "docker").write_text(
        "#!/usr/bin/env bash\nprintf 'docker %s\\n' \"$*\" >> \"$STUB_STATE/calls\"\n"
        "case \"$1\" in container) exit 0 ;; exec) echo 'CREATE TABLE access (access_id int);' ;; esac\n"
    )
    (stubs / "mysql").write_text(
        "#!/usr/bin/env bash\nprintf 'mysql %s\\n' \"$*\" >> \"$STUB_STATE/calls\"\n"
        "for a in \"$@\"; do case \"$a\" in --defaults-extra-file=*) cat \"${a#*=}\" > \"$STUB_STATE/options\" ;; esac; done\n"
        "case \"$*\" in *--execute=*) echo 0 ;; *) cat > \"$STUB_STATE/loaded\" ;; esac\n"
    )
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    script = cluster_dir / "node0/database/migrate-harbor-db.sh"
    config = tmp_path / "harbor.cfg"
    config.write_text('db_password = s3cret"pw\n')
    values = cluster_dir / "node0/values.sh"
    cluster_key = tmp_path / "cephfs-secretkey"
    cluster_key.write_text("0123456789abcdef")
    values.write_text(values.read_text()
                      .replace("installer_dir='/home/cephd/harbor/harbor'", f"installer_dir='{tmp_path}'")
                      .replace("secretkey_path='/mnt/cephfs/harbor/data/secretkey'", f"secretkey_path='{cluster_key}'"))
    old_data = tmp_path / "old-data"
    old_data.mkdir()
    (old_data / "secretkey").write_text("0123456789abcdef")
    (tmp_path / "harbor.cfg.harborgen-orig").write_text(f"hostname = 10.222.77.73\nsecretkey_path = {old_data}\n")
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "STUB_STATE": str(tmp_path)}
    result = subprocess.run(["bash", str(script), str(tmp_path / "dump.sql")], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls").read_text()
    assert "s3cret" not in calls and "MYSQL_ROOT_PASSWORD" in calls
    assert 'password="s3cret\\"pw"' in (tmp_path / "options").read_text()
    assert "host=10.222.76.74" in (tmp_path / "options").read_text()
    assert (tmp_path / "loaded").read_text() == "CREATE TABLE access (access_id int);\n"
    assert oct((tmp_path / "dump.sql").stat().st_mode & 0o777) == "0o600"


def _migration(tmp_path: Path, old_key: str, *args: str) -> subprocess.CompletedProcess:
    cluster_dir = _rendered(tmp_path)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "docker").write_text("#!/usr/bin/env bash\nprintf 'docker %s\\n' \"$*\" >> \"$STUB_STATE/calls\"\n")
    (stubs / "mysql").write_text("#!/usr/bin/env bash\nprintf 'mysql %s\\n' \"$*\" >> \"$STUB_STATE/calls\"\necho 0\n")
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    (tmp_path / "harbor.cfg").write_text("db_password = pw\n")
    cluster_key = tmp_path / "cephfs-secretkey"
    cluster_key.write_text("0123456789abcdef")
    values = cluster_dir / "node0/values.sh"
    values.write_text(values.read_text()
                      .replace("installer_dir='/home/cephd/harbor/harbor'", f"installer_dir='{tmp_path}'")
                      .replace("secretkey_path='/mnt/cephfs/harbor/data/secretkey'", f"secretkey_path='{cluster_key}'"))
    (tmp_path / "old-secretkey").write_text(old_key)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "STUB_STATE": str(tmp_path)}
    script = cluster_dir / "node0/database/migrate-harbor-db.sh"
    return subprocess.run(["bash", str(script), *args, str(tmp_path / "dump.sql")], capture_output=True, text=True, timeout=60, env=env)


def test_migration_refuses_when_the_cluster_key_is_not_the_old_nodes(tmp_path):
    result = _migration(tmp_path, "fedcba9876543210", "--old-secretkey", str(tmp_path / "old-secretkey"))
    assert result.returncode == 1
    assert "is not the cluster's harbor_secretkey" in result.stderr and "as harbor_secretkey" in result.stderr
    calls = (tmp_path / "calls").read_text()
    assert "mysqldump" not in calls and "mysql " not in calls, "it migrated anyway"
    assert not (tmp_path / "dump.sql").exists()


def test_migration_closing_advice_stops_harbor_db_with_the_old_compose_file(tmp_path):
    result = _migration(tmp_path, "0123456789abcdef", "--old-secretkey", str(tmp_path / "old-secretkey"))
    assert result.returncode == 0, result.stderr
    assert "docker-compose -f docker-compose.yml.harborgen-orig down" in result.stdout
    assert "stored passwords stay readable" in result.stdout


def test_runbook_restarts_one_node_at_a_time_and_says_why(harbor1_case):
    _, topology = harbor1_case
    _, tree = compiled(topology)
    runbook = tree["RUNBOOK.md"].content.decode()
    assert "make/common/db/registry.sql" in runbook and "make/photon/db" not in runbook
    assert "./install-harbor.sh" in runbook and "&& ./install.sh" not in runbook
    restart = runbook[runbook.index("**Restart nodes one at a time**"):runbook.index("**Garbage collection**")]
    assert "ResetRunningJobs" in restart and "replication_job WHERE status IN ('running', 'pending', 'retrying')" in restart
    assert "config.json" in restart and "not atomically" in restart
    assert "RequiresMountsFor=" in runbook
