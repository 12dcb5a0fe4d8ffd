"""A load-balancer pair on one floating address in network namespaces of its own (tests/harness/netlab.py):
the real keepalived and nginx with a render's files, stub Harbor nodes behind them, and a client.

Each load balancer runs keepalived in a mount namespace of its own, where its bundle's files are at
the paths apply.sh installs them to (/etc/keepalived). Nothing touches the host's interfaces.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from generator.pipeline import load_cluster
from tests.harness.netlab import Lab, keepalived_files
from tests.harness.poller import outage
from tests.helpers import ROOT, TOPOLOGIES, compiled, require_tool

TOPOLOGY = TOPOLOGIES / "lb-pair.yaml"
_CLUSTER = load_cluster(TOPOLOGY)  # the lab's machines are the topology's, at its addresses
VIP = _CLUSTER.load_balancer.address
BALANCERS = {node.name: node.address for node in _CLUSTER.load_balancer.nodes}
UPSTREAMS = {node.name: node.address for node in _CLUSTER.harbor_nodes}
UPSTREAM_PORT = _CLUSTER.load_balancer.upstream_port
CLIENT = "10.77.0.100"  # no machine of the topology: a client on the same network
SETTLE = 20  # seconds a lab waits at most for an election or a failover


class Pair:
    def __init__(self, lab: Lab, directory: Path, tree):
        self.lab, self.directory, self.tree = lab, directory, tree
        self.nginx_binary, self.keepalived_binary = require_tool("nginx"), require_tool("keepalived")

    def _files(self, name: str) -> Path:
        return keepalived_files(self.tree, name, self.directory / name / "etc-keepalived")

    def start_nginx(self, name: str) -> None:
        directory = self.directory / name / "nginx"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "site.conf").write_bytes(self.tree[f"{name}/nginx/default.conf"].content)
        (directory / "nginx.conf").write_text(
            f"user root;\nworker_processes 1;\npid {directory}/nginx.pid;\nerror_log {directory}/error.log;\n"
            f"events {{ worker_connections 256; }}\nhttp {{\n    access_log off;\n    include {directory}/site.conf;\n}}\n")
        self.lab.start(name, self.nginx_binary, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-g", "daemon off;")

    def start_keepalived(self, name: str) -> None:
        etc, run = self._files(name), self.directory / name / "run"
        run.mkdir(parents=True, exist_ok=True)
        script = (f"mount --bind {etc} /etc/keepalived && exec {self.keepalived_binary} --dont-fork --log-console --vrrp "
                  f"-f /etc/keepalived/keepalived.conf -p {run}/keepalived.pid -r {run}/vrrp.pid")
        self.lab.start(name, "unshare", "--mount", "--propagation", "private", "bash", "-c", script,
                       log=self.directory / name / "keepalived.log")

    def kill(self, name: str, program: str) -> None:
        self.lab.kill(name, program)

    def holders(self) -> list[str]:
        return self.lab.holders(BALANCERS, VIP)

    def wait_for_one_holder(self, not_on: str | None = None) -> str:
        return self.lab.wait_for_one_holder(BALANCERS, VIP, SETTLE, not_on)

    def poll(self, log: Path, stop: Path, seconds: float = 60):
        return self.lab.start("client", sys.executable, "-m", "tests.harness.poller", f"http://{VIP}/whoami", "0.05",
                              str(log), str(stop), str(seconds), cwd=ROOT)


def wait_in(lab: Lab, name: str, address: str, port: int, process) -> None:
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        probe = lab.run(name, sys.executable, "-c", f"import socket; socket.create_connection(('{address}', {port}), 1)")
        if probe.returncode == 0:
            return
        assert process.poll() is None, f"the server on {address} exited"
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {address}:{port}")


def failover(pair: Pair, tmp_path: Path, act) -> tuple[float | None, str, str]:
    """Poll the VIP from the client while ACT breaks the holder; the outage, the old and the new holder."""
    old = pair.wait_for_one_holder()
    log, stop = tmp_path / "poll.log", tmp_path / "stop"
    poller = pair.poll(log, stop)
    time.sleep(1)
    acted = time.monotonic()
    act(old)
    new = pair.wait_for_one_holder(not_on=old)
    time.sleep(2)
    stop.touch()
    poller.wait(timeout=30)
    return outage(str(log), acted), old, new


@contextlib.contextmanager
def running_pair(directory: Path) -> Iterator[Pair]:
    """The pair, its upstreams and a client, started; every namespace and process gone afterwards."""
    require_tool("ip")
    _, tree = compiled(TOPOLOGY)
    lab = Lab("hgp")
    try:
        for name, address in {**BALANCERS, **UPSTREAMS, "client": CLIENT}.items():
            lab.machine(name, address)
        for name, address in UPSTREAMS.items():
            process = lab.start(name, sys.executable, "-m", "tests.harness.stub_harbor", address, str(UPSTREAM_PORT), name, cwd=ROOT)
            wait_in(lab, "client", address, UPSTREAM_PORT, process)
        pair = Pair(lab, directory, tree)
        for name in BALANCERS:
            pair.start_nginx(name)
            pair.start_keepalived(name)
        yield pair
    finally:
        lab.close()
