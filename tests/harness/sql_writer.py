"""A client that writes one row at a time through an address, and logs every write the server acknowledged.

Usage: python -m tests.harness.sql_writer ENGINE HOST PASSWORD LOG STOP_FILE MAX_SECONDS
ENGINE: mysql (a row of Harbor 1.1.2's access_log) or postgresql (a row of harborgen_writes, which
the test created). Each line of LOG: the monotonic time, then "ok N" (row N committed: the server
said so) or "fail", with "read-only" after it when the server that refused was a replica. Stops
when STOP_FILE exists, or after MAX_SECONDS. A write whose answer never came is neither: it is not
counted as acknowledged, so a row found for it later is no loss and no duplicate either.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

PAUSE = 0.02  # between writes, and after a failure before the next connection


class MySQL:
    import pymysql as driver

    errors = (driver.err.MySQLError, OSError)

    def __init__(self, host: str, password: str):
        self.connection = self.driver.connect(host=host, user="harbor", password=password, database="registry",
                                              connect_timeout=1, read_timeout=2, write_timeout=2, autocommit=True)

    def write(self, number: int) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("INSERT INTO access_log (user_id, project_id, repo_name, operation, op_time) "
                           "VALUES (1, 1, %s, 'push', NOW())", (f"w{number}",))

    def close(self) -> None:
        self.connection.close()


class PostgreSQL:
    import pg8000.native as driver

    errors = (driver.DatabaseError, driver.InterfaceError, OSError)

    def __init__(self, host: str, password: str):
        self.connection = self.driver.Connection("harbor", host=host, password=password, database="registry", timeout=2)

    def write(self, number: int) -> None:
        self.connection.run("INSERT INTO harborgen_writes (n) VALUES (:n)", n=number)  # autocommit: one statement, one commit

    def close(self) -> None:
        self.connection.close()


ENGINES = {"mysql": MySQL, "postgresql": PostgreSQL}


def main() -> None:
    engine, host, password, log, stop_file, limit = *sys.argv[1:6], float(sys.argv[6])
    client = ENGINES[engine]
    deadline, number, connection = time.monotonic() + limit, 0, None
    with open(log, "a", buffering=1) as out:
        while time.monotonic() < deadline and not os.path.exists(stop_file):
            started = time.monotonic()
            try:
                if connection is None:
                    connection = client(host, password)
                number += 1
                connection.write(number)
                out.write(f"{started:.3f} ok {number}\n")
            except client.errors as error:
                out.write(f"{started:.3f} fail{' read-only' if 'read-only' in str(error) else ''}\n")
                if connection is not None:
                    with contextlib.suppress(*client.errors):
                        connection.close()
                connection = None
            time.sleep(PAUSE)


def acknowledged(log: Path) -> tuple[list[int], float | None]:
    """The numbers of the rows the server acknowledged, and the seconds from the writer's first failure
    to its next success (0 when none failed, None when it never succeeded again)."""
    entries = [line.split() for line in log.read_text().splitlines() if line.strip()]
    rows = [int(entry[2]) for entry in entries if entry[1] == "ok"]
    first_fail = next((float(entry[0]) for entry in entries if entry[1] == "fail"), None)
    if first_fail is None:
        return rows, 0.0
    back = next((float(entry[0]) for entry in entries if entry[1] == "ok" and float(entry[0]) > first_fail), None)
    return rows, None if back is None else back - first_fail


@contextlib.contextmanager
def writing(lab, machine: str, engine: str, host: str, password: str, directory: Path, limit: float) -> Iterator[Path]:
    """A writer on MACHINE of a netlab.Lab while the body runs, stopped after it: its log."""
    from tests.helpers import ROOT

    directory.mkdir(parents=True, exist_ok=True)
    stop, log = directory / "stop", directory / "writes.log"
    writer = lab.start(machine, sys.executable, "-m", "tests.harness.sql_writer", engine, host, password, str(log), str(stop),
                       str(limit), cwd=ROOT)
    try:
        yield log
    finally:
        stop.touch()
        writer.wait(timeout=30)


if __name__ == "__main__":
    main()
