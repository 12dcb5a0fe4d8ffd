"""A Redis master set of three real redis-server and three real redis-sentinel on loopback, and a
client that uses Harbor's Redis URLs the way Harbor's clients do (ask a sentinel for the master, then
authenticate and select the URL's database on it).

harborgen renders no sentinel.conf yet: the servers' and sentinels' files here are the test's own,
the operator's side of the RUNBOOK ("every Redis of the set needs the same password"). What is
harborgen's is the URLs: the real 2.15.2 prepare builds them from the rendered harbor.yml.
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

from tests.harness.processes import stop
from tests.harness.resp import command
from tests.helpers import require_tool

MASTER_SET = "harbor-master"
SERVERS = (("127.0.0.41", 16391), ("127.0.0.42", 16392), ("127.0.0.43", 16393))
SENTINELS = (("127.0.0.44", 26391), ("127.0.0.45", 26392), ("127.0.0.46", 26393))
QUORUM = 2
DOWN_AFTER_MS = 1000  # how long a silent master lasts before a sentinel calls it down
START_TIMEOUT = 30
TIMEOUT = 1.0  # of each connection and reply, as a client's dial and read timeouts


def _open(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=TIMEOUT)


@dataclass
class MasterSet:
    directory: Path
    password: str
    servers: dict[tuple[str, int], subprocess.Popen] = field(default_factory=dict)
    sentinels: list[subprocess.Popen] = field(default_factory=list)

    def start_server(self, address: tuple[str, int], master: tuple[str, int] | None) -> None:
        host, port = address
        data = self.directory / f"redis-{port}"
        data.mkdir(exist_ok=True)
        conf = data / "redis.conf"
        if not conf.exists():  # a restarted server keeps what Sentinel rewrote into its file
            replica = f"replicaof {master[0]} {master[1]}\n" if master else ""
            conf.write_text(f'bind {host}\nport {port}\ndir {data}\nsave ""\nappendonly yes\nlogfile {data}/redis.log\n'
                            f"requirepass {self.password}\nmasterauth {self.password}\nreplica-announce-ip {host}\n{replica}")
        self.servers[address] = subprocess.Popen([require_tool("redis-server"), str(conf)],
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(address, self.servers[address], data / "redis.log")

    def start_sentinel(self, address: tuple[str, int], master: tuple[str, int]) -> None:
        host, port = address
        data = self.directory / f"sentinel-{port}"
        data.mkdir()
        conf = data / "sentinel.conf"  # Sentinel rewrites it: each its own
        # On loopback every connection leaves from 127.0.0.1: each says which address is its own.
        conf.write_text(f"bind {host}\nport {port}\ndir {data}\nlogfile {data}/sentinel.log\nsentinel announce-ip {host}\n"
                        f"sentinel monitor {MASTER_SET} {master[0]} {master[1]} {QUORUM}\n"
                        f"sentinel auth-pass {MASTER_SET} {self.password}\n"
                        f"sentinel down-after-milliseconds {MASTER_SET} {DOWN_AFTER_MS}\n"
                        f"sentinel failover-timeout {MASTER_SET} 10000\n")
        process = subprocess.Popen([require_tool("redis-sentinel"), str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.sentinels.append(process)
        _wait_for(address, process, data / "sentinel.log")

    def kill(self, address: tuple[str, int]) -> None:
        process = self.servers.pop(address)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def replicas_in_sync(self, master: tuple[str, int], count: int) -> bool:
        with contextlib.suppress(OSError, RuntimeError), _open(*master) as connection:
            command(connection, "AUTH", self.password)
            info = command(connection, "INFO", "replication")
            return f"connected_slaves:{count}" in info and info.count("state=online") == count
        return False

    def close(self) -> None:
        for process in [*self.sentinels, *self.servers.values()]:
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
def master_set(directory: Path, password: str) -> Iterator[MasterSet]:
    """The first server the master, the others its replicas, three sentinels watching them."""
    group = MasterSet(directory, password)
    try:
        first, *others = SERVERS
        group.start_server(first, None)
        for address in others:
            group.start_server(address, first)
        for address in SENTINELS:
            group.start_sentinel(address, first)
        deadline = time.monotonic() + START_TIMEOUT
        while not group.replicas_in_sync(first, len(others)):
            assert time.monotonic() < deadline, "the replicas never caught up with the master"
            time.sleep(0.2)
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


def kill_the_master(group: MasterSet, urls: dict[str, str], limit: float = 60) -> tuple[tuple[str, int], dict[str, tuple], float]:
    """SIGKILL the master while every URL is used in a loop: (the old master, each URL's (new master,
    database) once it worked again, seconds from the kill until every URL worked)."""
    old = {name: use(url, f"harborgen-before-{name}")[0] for name, url in urls.items()}
    (master,) = set(old.values())
    group.kill(master)
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

