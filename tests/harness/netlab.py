"""Network namespaces of a test's own: a bridge in a lab namespace, and one namespace per machine
joined to it by a veth pair whose machine end is named eth0. Nothing touches the host's interfaces.

Every namespace is named after this process, so that concurrent runs do not meet, and close()
kills what runs inside (by PID, then whatever is left in the namespace) and deletes them all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.harness.processes import stop


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class Lab:
    def __init__(self, tag: str = "hg"):
        self.prefix = f"{tag}{os.getpid() % 100000}"
        self.bridge_ns = f"{self.prefix}-lab"
        self.machines: dict[str, str] = {}  # name -> namespace
        self.processes: list[subprocess.Popen] = []
        _ip("netns", "add", self.bridge_ns)
        _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge_ns, "link", "set", "br0", "up")

    def machine(self, name: str, address: str, prefix_length: int = 24) -> str:
        """A machine with ADDRESS on its eth0, on the lab's bridge; its namespace's name."""
        namespace = f"{self.prefix}-{name}"
        port = f"p-{name}"[:15]
        _ip("netns", "add", namespace)
        self.machines[name] = namespace
        _ip("-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("-n", self.bridge_ns, "link", "set", port, "master", "br0", "up")
        _ip("-n", namespace, "addr", "add", f"{address}/{prefix_length}", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        return namespace

    def command(self, name: str, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.machines[name], *command]

    def run(self, name: str, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(name, *command), capture_output=True, text=True, timeout=timeout)

    def start(self, name: str, *command: str, log: Path | None = None, cwd: Path | None = None) -> subprocess.Popen:
        output = log.open("ab") if log else subprocess.DEVNULL
        process = subprocess.Popen(self.command(name, *command), stdout=output, stderr=subprocess.STDOUT, cwd=cwd)
        self.processes.append(process)
        return process

    def link(self, name: str, up: bool) -> None:
        """The machine's cable: its port on the bridge, up or down."""
        _ip("-n", self.bridge_ns, "link", "set", f"p-{name}"[:15], "up" if up else "down")

    def pids_of(self, name: str, program: str) -> list[int]:
        """The processes of PROGRAM (its file name, or its script's under an interpreter: Patroni is
        python3 /usr/bin/patroni) that run in the machine's namespace."""
        found = subprocess.run(["ip", "netns", "pids", self.machines[name]], capture_output=True, text=True, timeout=30)
        pids = []
        for pid in found.stdout.split():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            words = argv[0].split()  # nginx rewrites its title: "nginx: master process ..."
            names = [os.path.basename(word) for word in [*words[:1], *argv[1:2]]]
            if words and (names[0].startswith(program) or (names[0].startswith("python") and program in names[1:])):
                pids.append(int(pid))
        return pids

    def kill(self, name: str, program: str) -> None:
        """SIGKILL every process of PROGRAM in the machine: a crash, not a stop."""
        for pid in self.pids_of(name, program):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def holders(self, names, address: str) -> list[str]:
        """Which of the machines NAMES have ADDRESS (a floating address) on their eth0."""
        return [name for name in names if address in self.addresses(name)]

    def wait_for_one_holder(self, names, address: str, timeout: float, not_on: str | None = None) -> str:
        """The one machine of NAMES that holds ADDRESS, once exactly one does (and it is not NOT_ON)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            holders = self.holders(names, address)
            if len(holders) == 1 and holders[0] != not_on:
                return holders[0]
            time.sleep(0.1)
        raise AssertionError(f"{address} is on {self.holders(names, address)} after {timeout} s")

    def hold_mounts(self, name: str, binds: dict[Path, str]) -> int:
        """A private mount namespace in machine NAME, with each directory (or file) of BINDS mounted
        at its path there, held open by a sleeping process: that process's PID, for nsenter."""
        mounts = " && ".join(f"mount --bind {source} {target}" for source, target in binds.items())
        holder = self.start(name, "unshare", "--mount", "--propagation", "private", "bash", "-c", f"{mounts} && exec sleep 3600")
        deadline = time.monotonic() + 10
        while True:
            sleeper = _sleeper(holder.pid)
            if sleeper is not None and all(f" {target} " in Path(f"/proc/{sleeper}/mountinfo").read_text() for target in binds.values()):
                return sleeper
            assert time.monotonic() < deadline and holder.poll() is None, f"{name}: its mount namespace did not come up"
            time.sleep(0.05)

    def addresses(self, name: str) -> set[str]:
        result = self.run(name, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
        return {line.split()[3].split("/")[0] for line in result.stdout.splitlines()}

    def close(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(subprocess.TimeoutExpired):  # its namespace's sweep below kills it
                stop(process, grace=10)
        self.processes.clear()
        for namespace in [*self.machines.values(), self.bridge_ns]:
            _kill_everything_in(namespace)
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
        self.machines.clear()


def keepalived_files(tree, node: str, etc: Path) -> Path:
    """NODE's keepalived files of a render, in ETC at the names apply.sh installs them under
    /etc/keepalived (the catalogue's destinations): a lab bind-mounts ETC there."""
    from generator.artifacts.keepalived import ROWS

    etc.mkdir(parents=True, exist_ok=True)
    for row in ROWS:
        destination = Path(row.install.destination(None, None))  # fixed paths: they ask nothing of the cluster
        artifact = tree.get(f"{node}/{row.path}")
        if artifact is not None and destination.parent == Path("/etc/keepalived"):
            (etc / destination.name).write_bytes(artifact.content)
            (etc / destination.name).chmod(0o755 if artifact.executable else 0o644)
    return etc


def _sleeper(pid: int) -> int | None:
    """ip netns exec, then unshare, then the sleep it execs: the process whose namespaces are the machine's."""
    for candidate in (pid, *_descendants(pid)):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{candidate}/cmdline").read_bytes().startswith(b"sleep"):
                return candidate
    return None


def _descendants(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _kill_everything_in(namespace: str) -> None:
    """Daemons that forked away from their PID (keepalived's children, nginx workers) die with their namespace."""
    found = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, timeout=30)
    for pid in found.stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, timeout=30).stdout.split()
        if not left:
            return
        time.sleep(0.1)
