"""The Patroni database against real etcd, Patroni, PostgreSQL 15 and keepalived, three members in
network namespaces of their own (tests/harness/patroni.py), started from nothing by the bundles'
apply.sh: one leader, the Harbor role made once by post_bootstrap, Harbor's 37 migrations through
the floating address; then the leader killed under writes with every acknowledged commit kept, the
old leader back as a replica with the same rows, and one etcd member lost without Harbor noticing."""

from __future__ import annotations

import sys
import time

import pytest

from tests.harness.patroni import CLIENT, MEMBERS, TOPOLOGY, TTL, VIP, patroni_lab
from tests.harness.sql_writer import acknowledged, writing
from tests.helpers import REFERENCE2, compiled, require_reference, secrets_for

pytestmark = pytest.mark.real_component

PASSWORD = "Harbor-db-Pass_1"
DIGEST = "SELECT COUNT(*), COALESCE(SUM(n), 0) FROM harborgen_writes"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, token_pair):
    directory = tmp_path_factory.mktemp("patroni")
    _, tree = compiled(TOPOLOGY)
    with patroni_lab(directory, tree, secrets_for(TOPOLOGY, token_pair, harbor_db_password=PASSWORD)) as lab:
        yield lab


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_from_nothing_the_bundles_make_one_leader_and_harbor_migrates_through_the_address(cluster):
    for name in MEMBERS:
        applied = cluster.apply(name)
        assert applied.returncode == 0, applied.stdout + applied.stderr
    leader = cluster.leader()
    # post_bootstrap made the Harbor role and database once, before any apply.sh ran on a leader.
    _wait_for(lambda: cluster.superuser_sql(leader, "SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'harbor'", "postgres")
              == ["harbor\tf"])
    for name in MEMBERS:
        if name != leader:
            cluster.wait_for_role(name, "replica")
    _wait_for(lambda: "sync" in cluster.superuser_sql(leader, "SELECT sync_state FROM pg_stat_replication", "postgres"))
    assert cluster.wait_for_one_holder() == leader

    for name in MEMBERS:  # a second run changes nothing, and the leader's applies the settings and the SQL
        again = cluster.apply(name)
        assert again.returncode == 0 and "wrote " not in again.stdout, again.stdout + again.stderr
        assert ("role harbor and database registry are set up" in again.stdout) == (name == leader), again.stdout
        checked = cluster.apply(name, "--check")
        assert checked.returncode == 0, checked.stdout + checked.stderr

    require_reference(REFERENCE2)
    migrated = cluster.lab.run(CLIENT, sys.executable, "-m", "tests.harness.harbor2_schema", VIP, "5432", PASSWORD, timeout=300)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == "180"  # 0180_2.15.0_schema: the last of the 37
    cluster.as_harbor("CREATE TABLE harborgen_writes (n integer PRIMARY KEY)", PASSWORD)


def test_killing_the_leader_loses_no_acknowledged_commit_and_the_old_leader_rejoins_with_the_same_rows(cluster, tmp_path):
    leader, new_leader, rows, window, refused = cluster.kill_the_leader(tmp_path / "writer", PASSWORD)
    assert rows, "the writer never wrote"
    assert window is not None, "writes never succeeded again after the leader was killed"
    print(f"\nPatroni: leader {leader} killed under load; writes failed for {window:.2f} s, then went to {new_leader}")
    assert not refused, f"a replica received Harbor's connections: {refused[:3]}"
    present = {int(row[0]) for row in (line.split() for line in cluster.superuser_sql(new_leader, "SELECT n FROM harborgen_writes"))}
    lost = [row for row in rows if row not in present]
    assert not lost, f"{new_leader} lacks {len(lost)} acknowledged commit(s): {lost[:5]}"

    started = cluster.systemctl(leader, "start", "patroni")
    assert started.returncode == 0, started.stderr
    cluster.wait_for_role(leader, "replica", timeout=120)
    _wait_for(lambda: cluster.superuser_sql(leader, DIGEST) == cluster.superuser_sql(new_leader, DIGEST))
    assert cluster.holders() == [new_leader], "the floating address left the leader when the old one rejoined"


def test_losing_one_etcd_member_changes_nothing_for_harbor(cluster, tmp_path):
    leader = cluster.leader()
    cluster.as_harbor("TRUNCATE harborgen_writes", PASSWORD)  # the writer numbers its rows from 1 again
    with writing(cluster.lab, CLIENT, "postgresql", VIP, PASSWORD, tmp_path, 60) as log:
        time.sleep(2)
        cluster.kill(leader, "etcd")  # the leader's own etcd: its Patroni must go on with the others
        time.sleep(TTL + 5)  # longer than the leader lock lives unrenewed
    rows, window = acknowledged(log)
    assert rows and window == 0, f"writes failed for {window} s after one etcd member was lost\n{cluster.logs(leader)}"
    assert cluster.leader() == leader and cluster.holders() == [leader]
    restarted = cluster.systemctl(leader, "start", "etcd")
    assert restarted.returncode == 0, restarted.stderr
