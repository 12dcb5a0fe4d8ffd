"""A client that writes one row at a time through an address, and logs every write the server acknowledged.

Usage: python -m tests.harness.galera_writer HOST PASSWORD LOG STOP_FILE MAX_SECONDS
Each line of LOG: the monotonic time, then "ok N" (row N committed: the server said so) or "fail".
Stops when STOP_FILE exists, or after MAX_SECONDS. A write whose answer never came is neither: it is
not counted as acknowledged, so a row found for it later is no loss and no duplicate either.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import pymysql

PAUSE = 0.02  # between writes, and after a failure before the next connection


def main() -> None:
    host, password, log, stop_file, limit = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    deadline, number, connection = time.monotonic() + limit, 0, None
    with open(log, "a", buffering=1) as out:
        while time.monotonic() < deadline and not os.path.exists(stop_file):
            started = time.monotonic()
            try:
                if connection is None:
                    connection = pymysql.connect(host=host, user="harbor", password=password, database="registry",
                                                 connect_timeout=1, read_timeout=2, write_timeout=2, autocommit=True)
                number += 1
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO access_log (user_id, project_id, repo_name, operation, op_time) "
                                   "VALUES (1, 1, %s, 'push', NOW())", (f"w{number}",))
                out.write(f"{started:.3f} ok {number}\n")
            except (pymysql.err.MySQLError, OSError):
                out.write(f"{started:.3f} fail\n")
                if connection is not None:
                    with contextlib.suppress(pymysql.err.MySQLError, OSError):
                        connection.close()
                connection = None
            time.sleep(PAUSE)


if __name__ == "__main__":
    main()
