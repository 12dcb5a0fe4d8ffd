"""The Harbor 2.15 database bundle against a real PostgreSQL 15 on loopback.

A throw-away cluster on 127.0.0.24:15432 (Debian's packages), set up by the bundle's
own set-up-postgresql.sh: the SQL twice with nothing changed, the stock migrations
applied as the Harbor role, and pg_hba admitting that role from the Harbor nodes only
(pg8000 binds each client to the node's address with source_address).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pg8000.native
import pytest

from generator.secrets.derivations import scram_verifier
from generator.secrets.packs import materialize
from generator.writer import write_tree
from tests.harness.harbor2_schema import apply_migrations
from tests.harness.processes import stop
from tests.helpers import REFERENCE2, TOPOLOGIES, compiled, require_reference, require_tool, run_harborgen, secrets_for, write_secrets_file

pytestmark = pytest.mark.real_component

TOPOLOGY = TOPOLOGIES / "harbor2-loopback.yaml"
DB_ADDRESS, DB_PORT = "127.0.0.24", 15432
HARBOR_ADDRESSES = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
STRANGERS = ["127.0.0.20", "127.0.0.26"]  # the load balancer, and a machine of no role
START_TIMEOUT = 60
# Legal in every file the password lands in (harbor.yml, env files), and full of URL and shell syntax.
PASSWORD = "p@ss:w%rd!*^~=+.-_Zz9"


def _postgres_binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        require_tool(name)  # skips, or fails under CI=true
    return found[-1]


@pytest.fixture(scope="module")
def postgres():
    """A throw-away PostgreSQL cluster owned by the postgres user, listening on 127.0.0.24 and a socket of its own."""
    initdb, server = _postgres_binary("initdb"), _postgres_binary("postgres")
    require_tool("psql")
    require_tool("runuser")
    directory = Path(tempfile.mkdtemp(prefix="harborgen-pg-"))  # /tmp: the postgres user must reach it
    shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, initdb, "-D", str(data), "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256"],
                   check=True, capture_output=True, timeout=120)
    process = subprocess.Popen(
        [*as_postgres, server, "-D", str(data), "-c", f"listen_addresses={DB_ADDRESS}", "-c", f"port={DB_PORT}",
         "-c", f"unix_socket_directories={directory}", "-c", "fsync=off", "-c", "log_connections=on"],
        stdout=subprocess.DEVNULL, stderr=open(directory / "server.log", "w"),  # noqa: SIM115 (closed with the directory)
    )
    environment = {**os.environ, "PGHOST": str(directory), "PGPORT": str(DB_PORT), "HARBORGEN_PG_OS_USER": "postgres"}
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while subprocess.run([*as_postgres, "psql", "-h", str(directory), "-p", str(DB_PORT), "-c", "SELECT 1"],
                             capture_output=True).returncode:
            assert process.poll() is None, (directory / "server.log").read_text()
            assert time.monotonic() < deadline, "PostgreSQL did not start"
            time.sleep(0.3)
        yield {"directory": directory, "env": environment}
    finally:
        stop(process)
        shutil.rmtree(directory, ignore_errors=True)


def _superuser(postgres, sql: str, database: str = "postgres") -> str:
    result = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-d", database, "-c", sql],
                            capture_output=True, text=True, timeout=60, env=postgres["env"])
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def database_bundle(postgres, tmp_path_factory, token_pair):
    """The database node's bundle, filled, and set up once."""
    values = secrets_for(TOPOLOGY, token_pair, harbor_db_password=PASSWORD)
    _, tree = compiled(TOPOLOGY)
    bundles = tmp_path_factory.mktemp("pg-bundles")
    write_tree(materialize(tree, values), bundles / "loopback2")
    bundle = bundles / "loopback2" / "pg"
    first = _set_up(postgres, bundle)
    assert first.returncode == 0, first.stdout + first.stderr
    return {"bundle": bundle, "values": values, "first": first}


def _set_up(postgres, bundle: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(bundle / "database/set-up-postgresql.sh"), str(bundle / "database/create-database.sql"), str(bundle / "database/pg_hba.conf")],
        capture_output=True, text=True, timeout=120, env=postgres["env"],
    )


def _state(postgres) -> dict[str, str]:
    hba_file = _superuser(postgres, "SHOW hba_file").strip()
    return {
        "role": _superuser(postgres, "SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, "
                                     "rolbypassrls, rolconnlimit, rolpassword FROM pg_authid WHERE rolname = 'harbor'"),
        "database": _superuser(postgres, "SELECT pg_get_userbyid(datdba), datacl, pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'registry'"),
        "schema": _superuser(postgres, "SELECT pg_get_userbyid(nspowner), nspacl FROM pg_namespace WHERE nspname = 'public'", "registry"),
        "hba": Path(hba_file).read_text(),
    }


def _connect(address: str, password: str = PASSWORD, database: str = "registry") -> pg8000.native.Connection:
    return pg8000.native.Connection(
        user="harbor", password=password, host=DB_ADDRESS, port=DB_PORT, database=database,
        source_address=(address, 0), timeout=30,
    )


def test_the_sql_runs_twice_and_the_second_run_changes_nothing(postgres, database_bundle):
    before = _state(postgres)
    second = _set_up(postgres, database_bundle["bundle"])
    assert second.returncode == 0, second.stderr
    assert "unchanged: " in second.stdout
    assert _state(postgres) == before
    role = before["role"].strip().split("|")
    # no superuser, no CREATEROLE, no CREATEDB, no replication, no BYPASSRLS; login; the topology's limit
    assert role[:8] == ["f", "t", "f", "f", "t", "f", "f", "60"], role
    assert role[8] == scram_verifier("harbor_db_password", PASSWORD), "the server keeps the verifier harborgen computed"
    assert before["database"].startswith("harbor|{harbor=CTc/harbor}|UTF8"), before["database"]
    assert before["schema"].startswith("harbor|"), before["schema"]
    # Nobody else may connect to the database (no PUBLIC entry), nor create in its schema (PUBLIC keeps USAGE only).
    assert before["schema"].strip().split("|")[1] == "{harbor=UC/harbor,=U/harbor}", before["schema"]


def test_the_harbor_role_connects_from_each_harbor_node_and_from_nowhere_else(postgres, database_bundle):
    for address in HARBOR_ADDRESSES:
        connection = _connect(address)
        assert connection.run("SELECT current_user, inet_client_addr()::text") == [["harbor", f"{address}/32"]]
        connection.close()
    for address in STRANGERS:
        with pytest.raises(pg8000.exceptions.DatabaseError) as refused:
            _connect(address)
        assert "pg_hba.conf rejects connection" in str(refused.value), refused.value
    with pytest.raises(pg8000.exceptions.DatabaseError) as wrong:
        _connect(HARBOR_ADDRESSES[0], password="not-the-password")
    assert "password authentication failed" in str(wrong.value)
    with pytest.raises(pg8000.exceptions.DatabaseError) as other_database:
        _connect(HARBOR_ADDRESSES[0], database="postgres")
    assert "pg_hba.conf rejects connection" in str(other_database.value)


def test_the_stock_migrations_apply_as_the_harbor_role(postgres, database_bundle):
    require_reference(REFERENCE2)
    connection = _connect(HARBOR_ADDRESSES[0])
    try:
        apply_migrations(connection)
        assert connection.run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [[False]]
        tables = {row[0] for row in connection.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"harbor_user", "project", "artifact", "repository", "execution", "task"} <= tables
        with pytest.raises(pg8000.exceptions.DatabaseError):
            connection.run("CREATE DATABASE not_allowed")
    finally:
        connection.close()


def test_a_password_no_file_can_carry_is_refused_by_name(tmp_path, token_pair):
    for hostile, context in (("it's", "harbor.yml"), ("pa$word", "env files"), ("back\\slash", "env files")):
        values = secrets_for(TOPOLOGY, token_pair, harbor_db_password=hostile)
        secrets = write_secrets_file(tmp_path / "secrets.yaml", values)
        result = run_harborgen("secrets", "check", str(TOPOLOGY), "--secrets", str(secrets))
        assert result.returncode == 2, result.stdout
        assert "harbor_db_password" in result.stderr and context in result.stderr, result.stderr
        assert hostile not in result.stderr, "a refusal must never show the value"
