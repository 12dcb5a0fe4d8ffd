"""`make bench`, the Patroni database: seconds during which a client on a Harbor node, writing one row at a
time through the floating address, gets no commit acknowledged, from the SIGKILL of the leader's Patroni
and PostgreSQL until the new leader holds the address and takes the writes (tests/harness/patroni.py),
with the default timers (ttl 20, loop_wait 5, retry_timeout 5). Medians of several runs; the test
suite asserts only the outcomes (0 lost acknowledged commits, no write reaching a replica)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from generator.secrets.generate import token_key_pair
from tests.harness.patroni import MEMBERS, TOPOLOGY, patroni_lab
from tests.helpers import compiled, secrets_for

RUNS = 3
PASSWORD = "Harbor-db-Pass_1"


def _bring_up(lab) -> None:
    for name in MEMBERS:
        applied = lab.apply(name)
        assert applied.returncode == 0, applied.stdout + applied.stderr
    leader = lab.leader()
    for name in MEMBERS:
        if name != leader:
            lab.wait_for_role(name, "replica")
    deadline = time.monotonic() + 60
    while lab.superuser_sql(leader, "SELECT 1 FROM pg_roles WHERE rolname = 'harbor'", "postgres") != ["1"]:
        assert time.monotonic() < deadline, "post_bootstrap never made the Harbor role"
        time.sleep(0.5)
    lab.as_harbor("CREATE TABLE harborgen_writes (n integer PRIMARY KEY)", PASSWORD)


def main() -> None:
    _, tree = compiled(TOPOLOGY)
    windows: list[float] = []
    with tempfile.TemporaryDirectory() as scratch, \
            patroni_lab(Path(scratch), tree, secrets_for(TOPOLOGY, token_key_pair("bench"), harbor_db_password=PASSWORD)) as lab:
        _bring_up(lab)
        for run in range(RUNS):
            lab.as_harbor("TRUNCATE harborgen_writes", PASSWORD)  # the writer numbers its rows from 1 again
            leader, _, _, window, _ = lab.kill_the_leader(Path(scratch) / f"run{run}", PASSWORD)
            windows.append(window if window is not None else float("inf"))
            started = lab.systemctl(leader, "start", "patroni")
            assert started.returncode == 0, started.stderr
            lab.wait_for_role(leader, "replica", timeout=120)
    print(f"patroni: the leader killed under load: no commit acknowledged for median {statistics.median(windows):5.2f} s over "
          f"{RUNS} runs (each: {', '.join(f'{value:.2f}' for value in windows)}; target <= 30 s with the default timers)")


if __name__ == "__main__":
    main()
