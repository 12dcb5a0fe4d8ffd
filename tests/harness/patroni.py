"""A Patroni PostgreSQL cluster of a render's database nodes, each in a network namespace of its own
(tests/harness/netlab.py) at its topology address: the bundles' apply.sh starts the real etcd,
Patroni (which runs PostgreSQL 15) and keepalived with the bundles' files.

Each machine is a network namespace and a private mount namespace (netlab.Lab.hold_mounts) in which
its own directories sit at the distribution's paths (/etc/patroni, /etc/default, /etc/keepalived,
/var/lib/postgresql, /run/postgresql, /var/lib/etcd): apply.sh installs there exactly as on the
machine. systemd cannot run in a lab machine: tests/stubs/patroni/systemctl, the stand-in, starts
each unit's program the way Debian's unit does.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from generator.pipeline import load_cluster
from generator.secrets.packs import materialize
from generator.writer import write_tree
from tests.harness.netlab import Lab
from tests.harness.sql_writer import acknowledged, writing
from tests.helpers import ROOT, TOPOLOGIES, require_tool

TOPOLOGY = TOPOLOGIES / "patroni.yaml"
_CLUSTER = load_cluster(TOPOLOGY)
MEMBERS = {node.name: node.address for node in _CLUSTER.database.nodes}
HARBOR_NODES = {node.name: node.address for node in _CLUSTER.harbor_nodes}
VIP = _CLUSTER.database.address
REST_API_PORT = _CLUSTER.database.patroni.rest_api_port
TTL = _CLUSTER.database.patroni.ttl
STUBS = ROOT / "tests" / "stubs"
CLIENT = next(iter(HARBOR_NODES))  # the Harbor node whose client writes through the floating address
SETTLE = 60  # seconds the lab waits at most for a leader, or for the floating address to settle
# (private directory, mount point, owner): what each machine has of its own.
MOUNTS = (
    ("etc-patroni", "/etc/patroni", "root"),
    ("etc-default", "/etc/default", "root"),
    ("etc-keepalived", "/etc/keepalived", "root"),
    ("etc-systemd-system", "/etc/systemd/system", "root"),
    ("var-lib-postgresql", "/var/lib/postgresql", "postgres"),
    ("run-postgresql", "/run/postgresql", "postgres"),
    ("var-lib-etcd", "/var/lib/etcd", "etcd"),
    ("var-lib-harborgen", "/var/lib/harborgen", "root"),
)


class PatroniLab:
    def __init__(self, directory: Path, tree, secrets: dict[str, str]):
        self.directory, self.secrets = directory, secrets
        self.lab = Lab("pt")
        self.sleepers: dict[str, int] = {}
        # The install record's directory is no package's: where it is missing, the lab makes the mount
        # point, and removes it again at close.
        self.made_mount_point = not os.path.isdir("/var/lib/harborgen")
        os.makedirs("/var/lib/harborgen", exist_ok=True)
        write_tree(materialize(tree, secrets), directory / "bundles", private=True)
        try:
            for name, address in {**MEMBERS, **HARBOR_NODES}.items():
                self.lab.machine(name, address)
            for name in MEMBERS:
                self.sleepers[name] = self.lab.hold_mounts(name, self._own_directories(name))
        except BaseException:
            self.close()  # the caller never gets the lab to close
            raise

    def _own_directories(self, name: str) -> dict[Path, str]:
        own = self.directory / name
        binds = {}
        for source, target, owner in MOUNTS:
            if source == "etc-default":
                shutil.copytree("/etc/default", own / source, symlinks=True)
            else:
                (own / source).mkdir(parents=True)
            shutil.chown(own / source, owner, owner)
            binds[own / source] = target
        (own / "var-lib-postgresql" / "15").mkdir()
        shutil.chown(own / "var-lib-postgresql" / "15", "postgres", "postgres")
        (own / "var-lib-etcd").chmod(0o700)
        (own / "units").mkdir()
        return binds

    def env(self, name: str) -> dict[str, str]:
        return {**os.environ, "PATH": f"{STUBS / 'patroni'}:{os.environ['PATH']}", "LAB_UNITS": str(self.directory / name / "units")}

    def run(self, name: str, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["nsenter", "-t", str(self.sleepers[name]), "-m", "-n", *command], capture_output=True, text=True,
                              timeout=timeout, env=self.env(name))

    def apply(self, name: str, *arguments: str) -> subprocess.CompletedProcess:
        """The member's bundle applied on the machine, as the operator runs it: at /, which is the machine's."""
        return self.run(name, "bash", str(self.directory / "bundles" / name / "apply.sh"), *arguments)

    def systemctl(self, name: str, *arguments: str) -> subprocess.CompletedProcess:
        return self.run(name, "systemctl", *arguments)

    def role(self, name: str) -> str:
        """What the member's Patroni says it is (primary, replica, ...), or 'down'."""
        with contextlib.suppress(ValueError, KeyError, subprocess.TimeoutExpired):
            result = self.lab.run(name, "curl", "--silent", "--max-time", "2", f"http://{MEMBERS[name]}:{REST_API_PORT}/patroni")
            state = json.loads(result.stdout)
            return state["role"] if state.get("state") == "running" else state.get("state", "down")
        return "down"

    def leader(self, timeout: float = SETTLE, not_on: str | None = None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leaders = [name for name in MEMBERS if name != not_on and self.role(name) in ("primary", "master")]
            if len(leaders) == 1:
                return leaders[0]
            time.sleep(0.5)
        raise AssertionError(f"no one leader after {timeout} s: {[(name, self.role(name)) for name in MEMBERS]}\n{self.logs()}")

    def wait_for_role(self, name: str, role: str, timeout: float = SETTLE) -> None:
        deadline = time.monotonic() + timeout
        while self.role(name) != role:
            assert time.monotonic() < deadline, f"{name} is {self.role(name)}, not {role}, after {timeout} s\n{self.logs(name)}"
            time.sleep(0.5)

    def superuser_sql(self, name: str, statement: str, database: str = "registry") -> list[str]:
        """STATEMENT on NAME's server, as postgres over its socket: the rows, tab-separated."""
        result = self.run(name, "runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-F", "\t", "--host=/run/postgresql",
                          f"--dbname={database}", "-c", statement)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    def as_harbor(self, statement: str, password: str) -> None:
        """STATEMENT as the Harbor role through the floating address, from a Harbor node."""
        program = ("import sys, pg8000.native as pg; c = pg.Connection('harbor', host=sys.argv[1], password=sys.argv[2], "
                   "database='registry', timeout=5); c.run(sys.argv[3]); c.close()")
        result = self.lab.run(CLIENT, sys.executable, "-c", program, VIP, password, statement)
        assert result.returncode == 0, result.stderr

    def kill_the_leader(self, directory: Path, password: str, limit: float = 120) -> tuple[str, str, list[int], float | None, list[str]]:
        """A client on a Harbor node writes through the floating address while the leader's Patroni and
        PostgreSQL are killed: (old leader, new leader, acknowledged rows, seconds without a successful
        write, the writer's refusals by a replica)."""
        leader = self.leader()
        assert self.wait_for_one_holder() == leader
        with writing(self.lab, CLIENT, "postgresql", VIP, password, directory, limit) as log:
            time.sleep(3)
            self.kill(leader, "patroni", "postgres")
            new_leader = self.leader(not_on=leader)
            assert self.wait_for_one_holder(not_on=leader) == new_leader
            time.sleep(5)
        rows, window = acknowledged(log)
        refused_by_replicas = [line for line in log.read_text().splitlines() if line.endswith("read-only")]
        return leader, new_leader, rows, window, refused_by_replicas

    def holders(self) -> list[str]:
        return self.lab.holders(MEMBERS, VIP)

    def wait_for_one_holder(self, not_on: str | None = None) -> str:
        return self.lab.wait_for_one_holder(MEMBERS, VIP, SETTLE, not_on)

    def kill(self, name: str, *programs: str) -> None:
        """SIGKILL every process of PROGRAMS on the machine (a crash), and wait until they are gone."""
        for program in programs:
            self.lab.kill(name, program)
        deadline = time.monotonic() + 20
        while any(self.lab.pids_of(name, program) for program in programs) and time.monotonic() < deadline:
            time.sleep(0.1)

    def logs(self, *names: str) -> str:
        found = []
        for name in names or MEMBERS:
            for log in sorted((self.directory / name / "units").glob("*.log")):
                found.append(f"--- {name} {log.name}\n{log.read_text(errors='replace')[-1500:]}")
        return "\n".join(found)

    def close(self) -> None:
        self.lab.close()
        if self.made_mount_point:
            with contextlib.suppress(OSError):
                os.rmdir("/var/lib/harborgen")


@contextlib.contextmanager
def patroni_lab(directory: Path, tree, secrets: dict[str, str]) -> Iterator[PatroniLab]:
    for tool in ("etcd", "patroni", "patronictl", "keepalived", "nsenter", "setpriv", "curl", "/usr/lib/postgresql/15/bin/postgres"):
        require_tool(tool)
    lab = None
    try:
        lab = PatroniLab(directory, tree, secrets)
        yield lab
    finally:
        if lab is not None:
            lab.close()
