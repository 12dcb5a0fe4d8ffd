"""Harbor 2.15's 37 stock PostgreSQL migrations, applied the way golang-migrate applies them, as
the Harbor role: the proof that the role may do what Harbor's core does at its first start.

Usage (inside a lab machine): python -m tests.harness.harbor2_schema HOST PORT PASSWORD
"""

from __future__ import annotations

import sys

import pg8000.native

from tests.helpers import REFERENCE2

EXPECTED = 37


def migrations() -> list:
    found = sorted((REFERENCE2 / "make/migrations/postgresql").glob("*.up.sql"), key=lambda path: int(path.name.split("_")[0]))
    if len(found) != EXPECTED:
        raise AssertionError(f"{len(found)} stock migrations, expected {EXPECTED}")
    return found


def apply_migrations(connection: pg8000.native.Connection) -> None:
    # golang-migrate's own table, which it creates before the first migration.
    connection.run("CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)")
    for migration in migrations():
        connection.execute_simple(migration.read_text())
        connection.run("DELETE FROM schema_migrations")
        connection.run("INSERT INTO schema_migrations VALUES (:v, false)", v=int(migration.name.split("_")[0]))


def main() -> None:
    host, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    connection = pg8000.native.Connection("harbor", host=host, port=port, password=password, database="registry", timeout=10)
    try:
        apply_migrations(connection)
        print(connection.run("SELECT version FROM schema_migrations")[0][0])
    finally:
        connection.close()


if __name__ == "__main__":
    main()
