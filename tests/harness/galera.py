"""A MariaDB Galera cluster of a render's database nodes, each in a network namespace of its own
(tests/harness/netlab.py) at its topology address, run by the real mariadbd with the bundle's drop-in.

Each machine is a network namespace and a private mount namespace, held open by a sleeping process,
in which its own directories are bind-mounted at the distribution's paths (/etc/mysql,
/var/lib/mysql, /run/mysqld): the bundle's files and scripts run there exactly as they would on the
machine. machine_command() enters both; the ssh stand-in (tests/stubs/lab-ssh) does the same for
galera.sh's "ssh ADDRESS", and galera_new_cluster is the stand-in for the distribution's script
(it starts mariadbd with --wsrep-new-cluster, where systemd is not there to do it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from generator.pipeline import load_cluster
from tests.harness.netlab import Lab, keepalived_files
from tests.harness.sql_writer import acknowledged, writing
from tests.helpers import ROOT, TOPOLOGIES, require_tool

TOPOLOGY = TOPOLOGIES / "galera.yaml"
_CLUSTER = load_cluster(TOPOLOGY)
MEMBERS = {node.name: node.address for node in _CLUSTER.database.nodes}
HARBOR_NODES = {node.name: node.address for node in _CLUSTER.harbor_nodes}
SOCKET = "/run/mysqld/mysqld.sock"
STUBS = ROOT / "tests" / "stubs"
START_TIMEOUT = 90
SETTLE = 30  # seconds the lab waits at most for the floating address to settle
# Small enough for three servers on a shared machine; the rest is the bundle's.
TEST_SETTINGS = "[mysqld]\ninnodb_buffer_pool_size = 32M\nlog_error = /var/lib/mysql/error.log\nperformance_schema = OFF\n"
MOUNTED = ("/etc/mysql", "/var/lib/mysql", "/run/mysqld", "/etc/keepalived")
VIP = _CLUSTER.database.address


class GaleraLab:
    def __init__(self, directory: Path, tree):
        self.directory, self.tree = directory, tree
        self.lab = Lab("gl")
        self.sleepers: dict[str, int] = {}
        self.ssh_map = directory / "ssh-map"
        self.stub_state = directory / "stub-state"  # the systemctl stand-in's: no systemd in the lab
        self.stub_state.mkdir()
        try:
            for name, address in {**MEMBERS, **HARBOR_NODES}.items():
                self.lab.machine(name, address)
            for name in MEMBERS:
                self._prepare(name)
        except BaseException:
            self.lab.close()  # the caller never gets the lab to close
            raise
        self.ssh_map.write_text("".join(f"{MEMBERS[name]} {pid}\n" for name, pid in self.sleepers.items()))

    def _prepare(self, name: str) -> None:
        """The machine's /etc/mysql (the distribution's, and the bundle's drop-in), an empty data directory."""
        own = self.directory / name
        etc = own / "etc-mysql"
        shutil.copytree("/etc/mysql", etc, symlinks=True)
        (etc / "mariadb.conf.d" / "70-harborgen-galera.cnf").write_bytes(self.tree[f"{name}/database/galera.cnf"].content)
        (etc / "mariadb.conf.d" / "99-test.cnf").write_text(TEST_SETTINGS)
        for sub in ("var-lib-mysql", "run-mysqld"):
            (own / sub).mkdir(parents=True)
            shutil.chown(own / sub, "mysql", "mysql")
        keepalived_files(self.tree, name, own / "etc-keepalived")
        sources = ("etc-mysql", "var-lib-mysql", "run-mysqld", "etc-keepalived")
        self.sleepers[name] = self.lab.hold_mounts(name, {own / source: target for source, target in zip(sources, MOUNTED, strict=True)})
        installed = self.run(name, "mariadb-install-db", "--user=mysql", "--skip-test-db", timeout=120)
        assert installed.returncode == 0, installed.stdout + installed.stderr

    def machine_command(self, name: str, *command: str) -> list[str]:
        return ["nsenter", "-t", str(self.sleepers[name]), "-m", "-n", *command]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{STUBS / 'galera'}:{os.environ['PATH']}", "STUB_STATE": str(self.stub_state),
                "HARBORGEN_SSH": str(STUBS / "galera" / "lab-ssh"), "LAB_SSH_MAP": str(self.ssh_map)}

    def run(self, name: str, *command: str, timeout: float = 120, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.machine_command(name, *command), capture_output=True, timeout=timeout, env=self.env(),
                              input=stdin, text=stdin is None)

    def bundle(self, name: str) -> Path:
        return self.directory / "bundles" / name

    def apply(self, name: str, root: Path, *arguments: str) -> subprocess.CompletedProcess:
        """The member's bundle applied on the machine: its files under ROOT, its SQL on the member's server."""
        root.mkdir(parents=True, exist_ok=True)
        return self.run(name, "bash", str(self.bundle(name) / "apply.sh"), "--root", str(root), *arguments)

    def galera_sh(self, name: str, *arguments: str) -> subprocess.CompletedProcess:
        return self.run(name, "bash", str(self.bundle(name) / "database" / "galera.sh"), *arguments)

    def start(self, name: str) -> None:
        """What systemctl start mariadb does: the server, as mysql, with the machine's configuration."""
        self.run(name, "galera_new_cluster", "--join")

    def sql(self, name: str, statement: str, *, host: str | None = None, user: str = "root", password: str | None = None,
            database: str | None = None, on: str | None = None) -> subprocess.CompletedProcess:
        """STATEMENT on NAME's server: as root over its socket, or over TCP from machine ON."""
        client = ["mysql", "--no-defaults", "--batch", "--skip-column-names", f"--user={user}", f"--execute={statement}"]
        if password is not None:
            client.append(f"--password={password}")
        if database:
            client.append(f"--database={database}")
        if host is None:
            return self.run(name, *client, f"--socket={SOCKET}")
        return self.lab.run(on or name, *client, f"--host={host}", "--connect-timeout=3")

    def state(self, name: str) -> str:
        result = self.sql(name, "SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'")
        return result.stdout.split()[-1] if result.returncode == 0 and result.stdout.split() else "down"

    def wait_synced(self, name: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.state(name) != "Synced":
            if time.monotonic() > deadline:
                log = self.directory / name / "var-lib-mysql" / "error.log"
                raise AssertionError(f"{name} is not Synced after {timeout} s:\n" + (log.read_text()[-3000:] if log.exists() else "no log"))
            time.sleep(0.5)

    def start_keepalived(self, name: str) -> None:
        """The distribution's keepalived with the bundle's files, in the machine's namespaces."""
        run = self.directory / name / "keepalived-run"
        run.mkdir(exist_ok=True)
        log = (self.directory / name / "keepalived.log").open("ab")
        process = subprocess.Popen(
            self.machine_command(name, require_tool("keepalived"), "--dont-fork", "--log-console", "--vrrp",
                                 "-f", "/etc/keepalived/keepalived.conf", "-p", str(run / "keepalived.pid"), "-r", str(run / "vrrp.pid")),
            stdout=log, stderr=subprocess.STDOUT)
        self.lab.processes.append(process)

    def holders(self) -> list[str]:
        return self.lab.holders(MEMBERS, VIP)

    def wait_for_one_holder(self, not_on: str | None = None) -> str:
        return self.lab.wait_for_one_holder(MEMBERS, VIP, SETTLE, not_on)

    def kill(self, name: str) -> None:
        """SIGKILL the member's mariadbd, and wait until it is gone."""
        self.lab.kill(name, "mariadbd")
        deadline = time.monotonic() + 20
        while self.lab.pids_of(name, "mariadbd") and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        self.lab.close()


def kill_the_writer(lab: GaleraLab, directory: Path, password: str) -> tuple[str, str, list[str], float | None]:
    """A client on a Harbor node writes through the floating address while the holder's mariadbd is
    killed: (old holder, new holder, acknowledged rows, seconds without a successful write)."""
    holder = lab.wait_for_one_holder()
    with writing(lab.lab, next(iter(HARBOR_NODES)), "mysql", VIP, password, directory, 60) as log:
        time.sleep(3)
        lab.kill(holder)
        new_holder = lab.wait_for_one_holder(not_on=holder)
        time.sleep(5)
    rows, window = acknowledged(log)
    return holder, new_holder, [f"w{number}" for number in rows], window


@contextlib.contextmanager
def galera_lab(directory: Path, tree) -> Iterator[GaleraLab]:
    for tool in ("mariadbd", "mariadb-install-db", "mysql", "mariabackup", "socat", "nsenter"):
        require_tool(tool)
    lab = None
    try:
        lab = GaleraLab(directory, tree)
        yield lab
    finally:
        if lab is not None:
            lab.close()
