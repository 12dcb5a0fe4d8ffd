"""A Redis Sentinel set of a render's redis.nodes on loopback, each node a real redis-server and a real
redis-sentinel started from what its bundle's apply.sh installed, and a client that uses Harbor's Redis
URLs the way Harbor's clients do (ask a sentinel for the master, then authenticate and select the URL's
database on it).

Each node's apply.sh runs with --root, a directory of its own: the server reads the bundle's harbor.conf
through an include at the end of a redis.conf of the test's own, as Debian's redis.conf includes it, and
the sentinel reads the file apply.sh seeded. What the machine would own is overridden on their command
lines: the pid and log files and the working directory, and the server's bind (harbor.conf also binds
127.0.0.1, which three servers on one host cannot share). systemd cannot run here: the test starts the
programs the way Debian's units do, and makes the replicas with the RUNBOOK's REPLICAOF.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from generator.model import Node
from tests.harness.processes import stop
from tests.harness.resp import command
from tests.helpers import require_tool

START_TIMEOUT = 30
TIMEOUT = 1.0  # of each connection and reply, as a client's dial and read timeouts


def _open(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=TIMEOUT)


@dataclass
class SentinelSet:
    directory: Path
    bundles: Path  # out/<cluster>, filled
    cluster: str
    members: tuple[Node, ...]
    redis_port: int
    sentinel_port: int
    master_set: str
    password: str
    servers: dict[str, subprocess.Popen] = field(default_factory=dict)
    sentinels: dict[str, subprocess.Popen] = field(default_factory=dict)

    def address(self, name: str) -> tuple[str, int]:
        return self.node(name).address, self.redis_port

    def node(self, name: str) -> Node:
        return next(member for member in self.members if member.name == name)

    def name_of(self, address: tuple[str, int]) -> str:
        return next(member.name for member in self.members if (member.address, self.redis_port) == address)

    def root(self, name: str) -> Path:
        return self.directory / name / "root"

    def sentinel_conf(self, name: str) -> Path:
        return self.root(name) / "etc/redis/sentinel.conf"

    def apply(self, name: str, *arguments: str) -> subprocess.CompletedProcess:
        self.root(name).mkdir(parents=True, exist_ok=True)
        return subprocess.run(["bash", str(self.bundles / name / "apply.sh"), "--root", str(self.root(name)), *arguments],
                              capture_output=True, text=True, timeout=120)

    def start_server(self, name: str) -> None:
        data = self.directory / name / "redis"
        data.mkdir(parents=True, exist_ok=True)
        main = data / "redis.conf"
        if not main.exists():  # a restarted server keeps what Sentinel rewrote into it
            main.write_text(f'dir {data}\nsave ""\nlogfile {data}/redis.log\n'
                            f"include {self.root(name)}/etc/redis/harborgen-{self.cluster}.conf\n")
        host, port = self.address(name)
        self.servers[name] = subprocess.Popen([require_tool("redis-server"), str(main), "--bind", host],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for((host, port), self.servers[name], data / "redis.log")

    def replicate(self, name: str, master: tuple[str, int]) -> None:
        """The RUNBOOK's step for a node that joins the set: REPLICAOF the master, kept in its redis.conf."""
        with _open(*self.address(name)) as connection:
            assert command(connection, "AUTH", self.password) == "OK"
            assert command(connection, "REPLICAOF", master[0], str(master[1])) == "OK"
            assert command(connection, "CONFIG", "REWRITE") == "OK"

    def start_sentinel(self, name: str) -> None:
        data = self.directory / name / "sentinel"
        data.mkdir(parents=True, exist_ok=True)
        self.sentinels[name] = subprocess.Popen(
            [require_tool("redis-sentinel"), str(self.sentinel_conf(name)),
             "--pidfile", str(data / "sentinel.pid"), "--logfile", str(data / "sentinel.log"), "--dir", str(data)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for((self.node(name).address, self.sentinel_port), self.sentinels[name], data / "sentinel.log")

    def ask_sentinel(self, name: str, *arguments: str):
        with _open(self.node(name).address, self.sentinel_port) as connection:
            return command(connection, *arguments)

    def master_named_by(self, name: str) -> tuple[str, int] | None:
        with contextlib.suppress(OSError, RuntimeError):
            answer = self.ask_sentinel(name, "SENTINEL", "get-master-addr-by-name", self.master_set)
            return (answer[0], int(answer[1])) if answer else None
        return None

    def role(self, name: str) -> list:
        with _open(*self.address(name)) as connection:
            command(connection, "AUTH", self.password)
            return command(connection, "ROLE")

    def watched_by_all(self, master: tuple[str, int]) -> bool:
        """Every sentinel names MASTER and knows the other sentinels and every replica, and MASTER streams to
        every other server. A sentinel learns a replica only from the master's INFO, every 10 s: one that
        wins the election knowing none aborts the failover, and the next waits twice failover-timeout."""
        others = len(self.servers) - 1
        with contextlib.suppress(OSError, RuntimeError):
            for name in self.sentinels:
                state = self.ask_sentinel(name, "SENTINEL", "master", self.master_set)
                fields = dict(zip(state[::2], state[1::2], strict=True))
                if ((fields["ip"], int(fields["port"])) != master or int(fields["num-other-sentinels"]) != len(self.sentinels) - 1
                        or int(fields["num-slaves"]) != others):
                    return False
            role = self.role(self.name_of(master))
            return role[0] == "master" and len(role[2]) == others
        return False

    def wait_until_named(self, master: tuple[str, int], by: int, timeout: float = 60) -> None:
        """Until BY of the running sentinels name MASTER."""
        deadline = time.monotonic() + timeout
        while sum(self.master_named_by(name) == master for name in self.sentinels) < by:
            assert time.monotonic() < deadline, f"fewer than {by} sentinels ever named {master}"
            time.sleep(0.1)

    def wait_until_watched(self, master: tuple[str, int], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.watched_by_all(master):
            assert time.monotonic() < deadline, f"the set never settled on {master}"
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        process = self.servers.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def close(self) -> None:
        for process in [*self.sentinels.values(), *self.servers.values()]:
            stop(process, grace=10)


def _wait_for(address: tuple[str, int], process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with _open(*address):
                return
        except OSError:
            assert process.poll() is None, log.read_text() if log.exists() else "the server exited"
            assert time.monotonic() < deadline, f"nothing listens on {address}"
            time.sleep(0.2)


@contextlib.contextmanager
def sentinel_set(directory: Path, bundles: Path, cluster, password: str) -> Iterator[SentinelSet]:
    """CLUSTER's redis.nodes brought up as the RUNBOOK says, one node at a time: apply.sh, the server (a
    replica of the first but for the first), the sentinel from the seeded file."""
    redis = cluster.redis
    group = SentinelSet(directory, bundles, cluster.name, redis.nodes, redis.port, redis.sentinel.port,
                        redis.sentinel.master_set, password)
    try:
        first = group.address(redis.nodes[0].name)
        for member in redis.nodes:
            applied = group.apply(member.name)
            assert applied.returncode == 0, applied.stdout + applied.stderr
            group.start_server(member.name)
            if member != redis.nodes[0]:
                group.replicate(member.name, first)
            group.start_sentinel(member.name)
        group.wait_until_watched(first)
        yield group
    finally:
        group.close()


def use(url: str, key: str) -> tuple[tuple[str, int], int]:
    """What Harbor's clients do with a redis+sentinel:// URL: ask each sentinel in turn for the master,
    authenticate there, select the URL's database, and write KEY. (the master, the database)."""
    parts = urlsplit(url)
    assert parts.scheme == "redis+sentinel", url
    path = parts.path.split("/")
    master_set_name, database = path[1], int(path[2]) if len(path) == 3 and path[2] else 0
    master = None
    for sentinel in parts.netloc.rpartition("@")[2].split(","):
        host, _, port = sentinel.rpartition(":")
        with contextlib.suppress(OSError, RuntimeError), _open(host, int(port)) as connection:
            answer = command(connection, "SENTINEL", "get-master-addr-by-name", master_set_name)
            if answer:
                master = (answer[0], int(answer[1]))
                break
    if master is None:
        raise OSError("no sentinel named a master")
    with _open(*master) as connection:
        assert command(connection, "AUTH", unquote(parts.password or "")) == "OK"
        assert command(connection, "SELECT", str(database)) == "OK"
        if command(connection, "ROLE")[0] != "master":
            raise OSError(f"{master} is no master yet")
        assert command(connection, "SET", key, url) == "OK"
    return master, database


def kill_the_master(group: SentinelSet, urls: dict[str, str], limit: float = 60) -> tuple[tuple[str, int], dict[str, tuple], float]:
    """SIGKILL the master while every URL is used in a loop: (the old master, each URL's (new master,
    database) once it worked again, seconds from the kill until every URL worked)."""
    old = {name: use(url, f"harborgen-before-{name}")[0] for name, url in urls.items()}
    (master,) = set(old.values())
    group.kill(group.name_of(master))
    killed = time.monotonic()
    found: dict[str, tuple] = {}
    while len(found) < len(urls):
        assert time.monotonic() - killed < limit, f"after {limit} s only {sorted(found)} reach a master"
        for name, url in urls.items():
            if name not in found:
                with contextlib.suppress(OSError, RuntimeError):
                    found[name] = use(url, f"harborgen-after-{name}")
        time.sleep(0.05)
    return master, found, time.monotonic() - killed
