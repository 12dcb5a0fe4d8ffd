"""The database bundle against a real MariaDB on loopback: users, grants, schema, hostile passwords."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from generator.secrets.legality import value_problems
from generator.secrets.packs import materialize
from generator.secrets.placeholders import needed_secrets
from generator.writer import write_tree
from tests.harness.processes import stop
from tests.helpers import TOPOLOGIES, compiled, require_reference, require_tool, secrets_for
from tests.test_secrets import HOSTILE

pytestmark = pytest.mark.real_component

TOPOLOGY = TOPOLOGIES / "loopback.yaml"
DB_ADDRESS, DB_PORT = "127.0.0.14", 13306
HARBOR_ADDRESSES = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
STRANGER = "127.0.0.15"
START_TIMEOUT = 60


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    """A throw-away MariaDB on 127.0.0.14:13306; root logs in over its socket."""
    server = require_tool("mariadbd")
    installer = require_tool("mariadb-install-db")
    require_tool("mysql")
    directory = tmp_path_factory.mktemp("mariadb")
    data, socket = directory / "data", directory / "mysqld.sock"
    subprocess.run(
        [installer, "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db", "--auth-root-authentication-method=socket"],
        check=True, capture_output=True, timeout=120,
    )
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={data}", f"--socket={socket}", f"--bind-address={DB_ADDRESS}",
         f"--port={DB_PORT}", "--skip-name-resolve", "--user=root", f"--pid-file={directory / 'mysqld.pid'}",
         f"--log-error={directory / 'error.log'}", "--innodb-buffer-pool-size=32M"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while subprocess.run(["mysql", f"--socket={socket}", "-e", "SELECT 1"], capture_output=True).returncode:
            assert process.poll() is None, (directory / "error.log").read_text()
            assert time.monotonic() < deadline, "MariaDB did not start"
            time.sleep(0.3)
        yield {"socket": socket, "directory": directory}
    finally:
        stop(process)


def _admin(mariadb, sql: str) -> str:
    result = subprocess.run(["mysql", f"--socket={mariadb['socket']}", "--batch", "--skip-column-names", "-e", sql],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


class HarborLogin:
    """The outcome of statements run as the Harbor user: rows, or the server's refusal."""

    def __init__(self, rows=None, error: str = ""):
        self.rows, self.error = rows or [], error

    @property
    def ok(self) -> bool:
        return not self.error


def _as_harbor(password: str, source: str, statements: list[str]) -> HarborLogin:
    """Connect as the Harbor user from one loopback address (the client binds it) and run statements."""
    import pymysql

    try:
        connection = pymysql.connect(
            host=DB_ADDRESS, port=DB_PORT, user="harbor", password=password.encode("utf-8"),
            database="registry", bind_address=source, connect_timeout=10, autocommit=True,
        )
    except pymysql.err.MySQLError as error:
        return HarborLogin(error=str(error))
    rows = []
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                rows.extend(cursor.fetchall())
    except pymysql.err.MySQLError as error:
        return HarborLogin(rows, error=str(error))
    finally:
        connection.close()
    return HarborLogin(rows)


def _apply(mariadb, tmp_path: Path, token_pair, password: str, *schema: str) -> subprocess.CompletedProcess:
    _, tree = compiled(TOPOLOGY)
    values = secrets_for(TOPOLOGY, token_pair, harbor_db_password=password)
    out = tmp_path / "shipping"
    write_tree(materialize(tree, values), out / "loopback", private=True)
    # The administrator's usual client settings: ~/.my.cnf (it overrides Debian's /etc/mysql defaults).
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / ".my.cnf").write_text(f"[client]\nsocket={mariadb['socket']}\n")
    env = {**os.environ, "HOME": str(home)}
    arguments = ["--schema", schema[0]] if schema else []
    return subprocess.run(["bash", str(out / "loopback/db/apply.sh"), *arguments], capture_output=True, text=True, timeout=120, env=env)


def test_database_bundle_on_real_mariadb(mariadb, tmp_path, token_pair):
    schema = str(require_reference() / "registry.sql")
    password = "Harbor-db-Pass_1"
    result = _apply(mariadb, tmp_path, token_pair, password, schema)
    assert result.returncode == 0, result.stdout + result.stderr

    for source in HARBOR_ADDRESSES:
        login = _as_harbor(password, source, ["SELECT CURRENT_USER()"])
        assert login.ok, login.error
        assert login.rows == [(f"harbor@{source}",)]
    refused = _as_harbor(password, STRANGER, ["SELECT 1"])
    assert not refused.ok and ("not allowed to connect" in refused.error or "Access denied" in refused.error)

    crud = _as_harbor(password, HARBOR_ADDRESSES[0], [
        "INSERT INTO access (access_code, comment) VALUES ('X', 'test row')",
        "UPDATE access SET comment = 'updated' WHERE access_code = 'X'",
        "SELECT comment FROM access WHERE access_code = 'X'",
        "DELETE FROM access WHERE access_code = 'X'",
        "SELECT COUNT(*) FROM access WHERE access_code = 'X'",
    ])
    assert crud.ok, crud.error
    assert crud.rows == [("updated",), (0,)]
    for forbidden in ("SELECT user FROM mysql.user", "SELECT * FROM mysql.db", "CREATE DATABASE elsewhere"):
        denied = _as_harbor(password, HARBOR_ADDRESSES[0], [forbidden])
        assert not denied.ok and "denied" in denied.error, forbidden
    visible = _as_harbor(password, HARBOR_ADDRESSES[0], ["SHOW DATABASES"])
    assert {row[0] for row in visible.rows} == {"information_schema", "registry"}
    assert _admin(mariadb, "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.schemata WHERE schema_name = 'registry'").strip() in ("utf8", "utf8mb3")

    kept = _as_harbor(password, HARBOR_ADDRESSES[1], ["INSERT INTO project (owner_id, name, deleted, public) VALUES (1, 'kept', 0, 1)"])
    assert kept.ok, kept.error
    rows_before = _admin(mariadb, "CHECKSUM TABLE registry.project, registry.user, registry.access")
    again = _apply(mariadb, tmp_path, token_pair, password, schema)
    assert again.returncode == 0, again.stderr
    assert "schema not loaded, nothing changed" in again.stderr
    assert _admin(mariadb, "CHECKSUM TABLE registry.project, registry.user, registry.access") == rows_before


def _accepted_hostile_passwords() -> list[str]:
    """The hostile values of the secrets tests that secrets check accepts as the database password."""
    contexts = needed_secrets(compiled(TOPOLOGY)[1])["harbor_db_password"]
    return [value for value in HOSTILE if not value_problems(value, contexts)]


def test_some_hostile_passwords_are_accepted():
    accepted = _accepted_hostile_passwords()
    assert {"it's", "$(reboot)", "with space", "pä-ss wörd", "semi;colon"} <= set(accepted)


@pytest.mark.parametrize("password", _accepted_hostile_passwords(), ids=lambda v: repr(v)[:24])
def test_hostile_passwords_that_check_accepts_log_in_exactly(mariadb, tmp_path, token_pair, password):
    result = _apply(mariadb, tmp_path, token_pair, password)
    assert result.returncode == 0, result.stderr
    assert _as_harbor(password, HARBOR_ADDRESSES[2], ["SELECT 1"]).ok
    assert not _as_harbor(password + "x", HARBOR_ADDRESSES[2], ["SELECT 1"]).ok
