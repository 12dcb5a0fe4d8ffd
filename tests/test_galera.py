"""The Galera database against real MariaDB Galera, three members in network namespaces of their own
(tests/harness/galera.py): the bundles' drop-in, galera.sh's bootstrap and its refusals, the schema's
ids (goharbor/harbor#2141), and recovery from a whole-cluster outage with every acknowledged row."""

from __future__ import annotations

import time

import pytest

from generator.secrets.packs import materialize
from generator.writer import write_tree
from tests.harness.galera import HARBOR_NODES, MEMBERS, TOPOLOGY, galera_lab, kill_the_writer
from tests.helpers import compiled, require_reference, secrets_for

pytestmark = pytest.mark.real_component

PASSWORD = "Harbor-db-Pass_1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, token_pair):
    directory = tmp_path_factory.mktemp("galera")
    _, tree = compiled(TOPOLOGY)
    with galera_lab(directory, tree) as lab:
        values = secrets_for(TOPOLOGY, token_pair, harbor_db_password=PASSWORD)
        write_tree(materialize(tree, values), directory / "bundles", private=True)
        yield lab


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def _rows(lab, name: str, statement: str) -> list[str]:
    result = lab.sql(name, statement)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_bootstrap_from_nothing_starts_only_the_first_member_and_the_schema_ids_are_harbors(cluster, tmp_path):
    refused = cluster.galera_sh("db2", "bootstrap")
    assert refused.returncode == 1 and "the first of them, db1, starts the cluster" in refused.stderr, refused.stdout + refused.stderr
    assert cluster.state("db2") == "down"

    # db1 still runs the MariaDB it had before it became a member: it must stop before it bootstraps.
    cluster.run("db1", "bash", "-c", "setsid mariadbd --user=mysql --wsrep-on=OFF </dev/null >/dev/null 2>&1 &")
    _wait_for(lambda: cluster.sql("db1", "SELECT 1").returncode == 0)
    standalone = cluster.galera_sh("db1", "bootstrap")
    assert standalone.returncode == 1 and "runs MariaDB without Galera" in standalone.stderr, standalone.stdout + standalone.stderr
    cluster.kill("db1")

    started = cluster.galera_sh("db1", "bootstrap")
    assert started.returncode == 0, started.stdout + started.stderr
    cluster.wait_synced("db1")
    for name in ("db2", "db3"):
        cluster.start(name)
        cluster.wait_synced(name)
    assert _rows(cluster, "db3", "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'") == ["wsrep_cluster_size\t3"]

    again = cluster.galera_sh("db3", "bootstrap")
    assert again.returncode == 1 and "runs: the cluster exists" in again.stderr

    root = tmp_path / "root"
    applied = cluster.apply("db1", root, "--schema", str(require_reference() / "registry.sql"))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    checked = cluster.apply("db1", root, "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    for name in MEMBERS:
        owner = _rows(cluster, name, "SELECT u.username FROM registry.project p JOIN registry.user u ON u.user_id = p.owner_id "
                                     "WHERE p.name = 'library'")
        assert owner == ["admin"], f"{name}: the library project belongs to {owner} (goharbor/harbor#2141)"
        keys = _rows(cluster, name, "SELECT COUNT(*) FROM information_schema.table_constraints WHERE table_schema = 'registry' "
                                    "AND table_name = 'alembic_version' AND constraint_type = 'PRIMARY KEY'")
        assert keys == ["1"], name
    for harbor_node in HARBOR_NODES:
        login = cluster.sql("db1", "SELECT COUNT(*) FROM user", host=MEMBERS["db2"], user="harbor", password=PASSWORD,
                            database="registry", on=harbor_node)
        assert login.returncode == 0 and login.stdout.strip() == "2", (harbor_node, login.stderr)


def test_after_a_whole_cluster_outage_only_the_most_advanced_member_bootstraps(cluster):
    write = "INSERT INTO registry.access_log (user_id, project_id, repo_name, operation, op_time) VALUES (1, 1, 'r', 'push', NOW())"

    def written(name: str) -> int:
        return int(_rows(cluster, name, "SELECT COUNT(*) FROM registry.access_log")[0])

    cluster.kill("db3")
    cluster.wait_synced("db1")  # db1 and db2 are two of three: still the primary component
    for _ in range(3):
        assert cluster.sql("db1", write).returncode == 0
    acknowledged = written("db1")
    cluster.kill("db2")  # db1 alone is no majority: it takes no more writes, and then it crashes too
    _wait_for(lambda: cluster.state("db1") != "Synced")
    checked = cluster.apply("db1", cluster.directory / "check-root", "--check")
    assert checked.returncode == 1 and "this Galera member is not Synced" in checked.stdout, checked.stdout + checked.stderr
    stranded = cluster.galera_sh("db3", "bootstrap")
    assert stranded.returncode == 1 and "db1 runs, but in no primary component" in stranded.stderr, stranded.stdout + stranded.stderr
    cluster.kill("db1")

    # db3 missed three writes; db1 and db2 have them all, and the tie goes to the first listed.
    for name in ("db3", "db2"):
        refused = cluster.galera_sh(name, "bootstrap")
        assert refused.returncode == 1 and "db1 has the highest seqno" in refused.stderr, refused.stdout + refused.stderr
        for member in MEMBERS:
            assert member in refused.stdout, f"it does not print what it saw on {member}"
    started = cluster.galera_sh("db1", "bootstrap")
    assert started.returncode == 0, started.stdout + started.stderr
    cluster.wait_synced("db1")
    for name in ("db2", "db3"):
        cluster.start(name)
        cluster.wait_synced(name)
    for name in MEMBERS:
        assert written(name) == acknowledged, f"{name} lost acknowledged rows"


def test_killing_the_writer_loses_no_acknowledged_write_and_the_floating_address_moves(cluster, tmp_path):
    for name in MEMBERS:
        cluster.wait_synced(name)
        cluster.start_keepalived(name)
    holder, new_holder, rows, window = kill_the_writer(cluster, tmp_path / "writer", PASSWORD)
    assert window is not None, "writes never succeeded again after the writer was killed"
    print(f"\nGalera: {holder} killed under load; writes failed for {window:.2f} s, then went to {new_holder}")
    survivors = [name for name in MEMBERS if name != holder]
    for name in survivors:
        present = set(_rows(cluster, name, "SELECT repo_name FROM registry.access_log WHERE repo_name LIKE 'w%'"))
        lost = [row for row in rows if row not in present]
        assert not lost, f"{name} lacks {len(lost)} acknowledged write(s): {lost[:5]}"
    assert cluster.state(new_holder) == "Synced"

    error_log = cluster.directory / holder / "var-lib-mysql" / "error.log"
    before = error_log.stat().st_size
    cluster.start(holder)
    cluster.wait_synced(holder)
    since = error_log.read_bytes()[before:].decode(errors="replace")
    assert "IST received" in since and "Local state: 00000000" not in since, f"{holder} did not rejoin by IST"
    digest = "SELECT COUNT(*), COALESCE(SUM(CRC32(repo_name)), 0) FROM registry.access_log"
    assert _rows(cluster, holder, digest) == _rows(cluster, survivors[0], digest), f"{holder} rejoined with other rows"
    assert cluster.holders() == [new_holder], "the floating address moved back when the old writer rejoined (nopreempt)"
