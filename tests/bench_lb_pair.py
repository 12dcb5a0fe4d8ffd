"""`make bench`, the load-balancer pair: seconds during which a client polling the floating address
every 50 ms fails, from the failure of the holder until the other node answers (tests/harness/lbpair.py).
Medians of several runs; the test suite asserts only the outcomes."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from tests.harness.lbpair import failover, running_pair

RUNS = 3


def main() -> None:
    windows: dict[str, list[float]] = {"the holder's nginx killed": [], "the holder's link down": []}
    with tempfile.TemporaryDirectory() as scratch, running_pair(Path(scratch) / "pair") as pair:
        for run in range(RUNS):
            directory = Path(scratch) / f"run{run}"
            (directory / "nginx").mkdir(parents=True)
            window, old, _ = failover(pair, directory / "nginx", lambda holder: pair.kill(holder, "nginx"))
            windows["the holder's nginx killed"].append(window if window is not None else float("inf"))
            pair.start_nginx(old)
            time.sleep(3)
            (directory / "link").mkdir()
            holder = pair.wait_for_one_holder()
            try:
                window, _, _ = failover(pair, directory / "link", lambda name: pair.lab.link(name, up=False))
            finally:
                pair.lab.link(holder, up=True)
            windows["the holder's link down"].append(window if window is not None else float("inf"))
            time.sleep(3)
    for what, values in windows.items():
        print(f"load-balancer pair: {what:26s} clients fail for median {statistics.median(values):5.2f} s over {RUNS} runs "
              f"(each: {', '.join(f'{value:.2f}' for value in values)}; target <= 3 s)")


if __name__ == "__main__":
    main()
