"""A client that asks URL every INTERVAL seconds and logs each answer, for failover windows.

Usage: python -m tests.harness.poller URL INTERVAL LOG STOP_FILE MAX_SECONDS
Each line of LOG: the monotonic time, then "ok" or "fail". Stops when STOP_FILE exists, or after
MAX_SECONDS (a bounded loop even when the test that started it is gone).
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request


def main() -> None:
    url, interval, log, stop_file, limit = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
    deadline = time.monotonic() + limit
    with open(log, "a", buffering=1) as out:
        while time.monotonic() < deadline and not os.path.exists(stop_file):
            started = time.monotonic()
            try:
                with urllib.request.urlopen(url, timeout=0.5) as response:
                    ok = response.status == 200 and response.read() is not None
            except OSError:
                ok = False
            out.write(f"{started:.3f} {'ok' if ok else 'fail'}\n")
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


def outage(log: str, after: float) -> float | None:
    """Seconds from AFTER to the first success that follows a failure; 0 when none failed; None when
    the client never succeeded again."""
    with open(log) as lines:
        entries = [(float(t), state) for t, state in (line.split() for line in lines if line.strip())]
    later = [(t, state) for t, state in entries if t >= after]
    if all(state == "ok" for _, state in later):
        return 0.0
    first_fail = next(index for index, (_, state) in enumerate(later) if state == "fail")
    for t, state in later[first_fail:]:
        if state == "ok":
            return t - after
    return None


if __name__ == "__main__":
    main()
