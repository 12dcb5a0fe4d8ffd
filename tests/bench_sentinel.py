"""`make bench`, Redis Sentinel: seconds from the SIGKILL of the Redis master until every Harbor Redis URL
(core, jobservice, registry, trivy; the real prepare's, tests/harness/sentinel.py) writes again, on the
promoted replica, with down-after-milliseconds 1000. Medians of several runs; the test suite asserts
only the outcomes (one new master, each URL's own database)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from tests.harness.sentinel import MASTER_SET, SENTINELS, kill_the_master, master_set

RUNS = 3
PASSWORD = "Bench-redis-Pass_1"


def _urls() -> dict[str, str]:
    hosts = ",".join(f"{host}:{port}" for host, port in SENTINELS)
    base = f"redis+sentinel://:{PASSWORD}@{hosts}/{MASTER_SET}"
    return {"core": f"{base}/0", "jobservice": f"{base}/2", "registry": f"{base}/1", "trivy": f"{base}/5"}


def main() -> None:
    windows = []
    for _run in range(RUNS):
        with tempfile.TemporaryDirectory() as scratch, master_set(Path(scratch), PASSWORD) as group:
            windows.append(kill_the_master(group, _urls())[2])
    print(f"sentinel: the Redis master killed: every Harbor URL writes again after median {statistics.median(windows):5.2f} s over "
          f"{RUNS} runs (each: {', '.join(f'{value:.2f}' for value in windows)})")


if __name__ == "__main__":
    main()
