"""A real single-node Ceph (mon, mgr, memstore OSD, MDS, cephx) on 127.0.0.1, for the CephFS tests.

Everything lives in one temporary directory; every daemon is started in the
foreground as a child and stopped by its PID. The recipe is the one measured
in shared/notes/ceph-loopback.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

CEPH_TOOLS = ("ceph-mon", "ceph-mgr", "ceph-osd", "ceph-mds", "ceph", "ceph-authtool", "monmaptool", "ceph-fuse")
START_TIMEOUT = 120
COMMAND_TIMEOUT = 60

DAEMON_KEYS = {
    "mon.": ["--cap", "mon", "allow *"],
    "client.admin": ["--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mds", "allow *", "--cap", "mgr", "allow *"],
    "mgr.x": ["--cap", "mon", "allow profile mgr", "--cap", "osd", "allow *", "--cap", "mds", "allow *"],
    "osd.0": ["--cap", "mon", "allow profile osd", "--cap", "mgr", "allow profile osd", "--cap", "osd", "allow *"],
    "mds.a": ["--cap", "mon", "allow profile mds", "--cap", "mgr", "allow profile mds", "--cap", "osd", "allow *", "--cap", "mds", "allow"],
}


class CephCluster:
    def __init__(self, directory: Path, memstore_bytes: int = 1024**3):
        # The OSD keeps objects in memory: a full one blocks writers, it does not fail them.
        self.directory, self.memstore_bytes = directory, memstore_bytes
        self.conf = directory / "ceph.conf"
        self.keyring = directory / "keyring"
        self.daemons: dict[str, subprocess.Popen] = {}
        self.env = {**os.environ, "CEPH_CONF": str(self.conf)}

    def _conf_text(self, fsid: str) -> str:
        d = self.directory
        return f"""[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = {d}/keyring
run dir = {d}/run
admin socket = {d}/run/$name.asok
log file = {d}/log/$name.log
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg autoscale mode = off
[mon]
mon data = {d}/data/mon-$id
pid file = {d}/run/$name.pid
[mgr]
mgr data = {d}/data/mgr-$id
pid file = {d}/run/$name.pid
[osd]
osd data = {d}/data/osd-$id
osd objectstore = memstore
memstore device bytes = {self.memstore_bytes}
pid file = {d}/run/$name.pid
[mds]
mds data = {d}/data/mds-$id
pid file = {d}/run/$name.pid
[client]
pid file = {d}/run/$name.$pid.pid
"""

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, env=self.env)
        if check and result.returncode:
            raise RuntimeError(f"{' '.join(command)}: {result.stderr}")
        return result

    def ceph_json(self, *command: str):
        return json.loads(self.run("ceph", *command, "-f", "json").stdout)

    def _spawn(self, name: str, *command: str) -> None:
        with open(self.directory / "log" / f"{name}.stdout", "wb") as log:  # the daemon keeps its own copy
            self.daemons[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)

    def start(self) -> None:
        for sub in ("run", "log", "data/mon-a", "data/mgr-x", "data/osd-0", "data/mds-a"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        fsid = str(uuid.uuid4())
        self.conf.write_text(self._conf_text(fsid))
        for index, (name, caps) in enumerate(DAEMON_KEYS.items()):
            create = ["--create-keyring"] if index == 0 else []
            self.run("ceph-authtool", str(self.keyring), *create, "--gen-key", "-n", name, *caps)
        monmap = self.directory / "monmap"
        self.run("monmaptool", "--create", "--fsid", fsid, "--addv", "a", "[v2:127.0.0.1:3300,v1:127.0.0.1:6789]", str(monmap))
        self.run("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap), "--keyring", str(self.keyring))
        self._spawn("mon.a", "ceph-mon", "-i", "a", "-f")
        self._spawn("mgr.x", "ceph-mgr", "-i", "x", "-f")
        osd_uuid = str(uuid.uuid4())
        osd_id = self._until(lambda: self.run("ceph", "osd", "new", osd_uuid, check=False), lambda r: r.returncode == 0).stdout.strip()
        self.run("ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("osd.0", "ceph-osd", "-i", osd_id, "-f")
        self._spawn("mds.a", "ceph-mds", "-i", "a", "-f")
        self._until(lambda: self.ceph_json("osd", "stat"), lambda stat: stat.get("num_up_osds") == 1)
        self._until(lambda: self.ceph_json("mgr", "stat"), lambda stat: stat.get("available"))

    def _until(self, probe, done, timeout: float = START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            for name, process in self.daemons.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited: {(self.directory / 'log' / f'{name}.stdout').read_text()[-2000:]}")
            try:
                value = probe()
                if done(value):
                    return value
            except (RuntimeError, json.JSONDecodeError, subprocess.TimeoutExpired):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Ceph cluster did not come up in time")
            time.sleep(0.25)

    def wait_for_active_mds(self) -> None:
        self._until(lambda: self.run("ceph", "mds", "stat").stdout, lambda text: "up:active" in text)

    def stop(self) -> None:
        """Stop every daemon it started, by PID: MDS, OSD, manager, monitor."""
        for name in ("mds.a", "osd.0", "mgr.x", "mon.a"):
            process = self.daemons.pop(name, None)
            if process and process.poll() is None:
                process.send_signal(signal.SIGKILL)  # memstore loses nothing that matters to a test
                process.wait(timeout=30)

    @property
    def running(self) -> bool:
        return bool(self.daemons)


def unmount(path: Path, grace: float = 10) -> None:
    """Unmount a FUSE mount, then stop its ceph-fuse (which daemonized: found by its mount point),
    which may otherwise wait forever for a cluster already stopped."""
    daemons = _fuse_daemons(path)
    subprocess.run(["umount", str(path)], capture_output=True, timeout=COMMAND_TIMEOUT)
    if is_mounted(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=COMMAND_TIMEOUT)
    deadline = time.monotonic() + grace
    while daemons and time.monotonic() < deadline:
        daemons = [pid for pid in daemons if _alive(pid)]
        time.sleep(0.1)
    for pid in daemons:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _fuse_daemons(path: Path) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if words and words[0].endswith(b"ceph-fuse") and str(path).encode() in words:
            found.append(int(cmdline.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def is_mounted(path: Path) -> bool:
    target = str(path)
    return any(line.split()[1] == target for line in Path("/proc/mounts").read_text().splitlines())


def mounts_of(path: Path) -> int:
    target = str(path)
    return sum(line.split()[1] == target for line in Path("/proc/mounts").read_text().splitlines())


class CephStorage:
    """Each Harbor node's CephFS mounts, made with ceph-fuse from the node's own filled bundle
    (its client.conf and cephx secret), each under the node's machine root."""

    def __init__(self, cluster: CephCluster, directory: Path, client: str, mounts: tuple[tuple[str, str], ...]):
        self.cluster, self.directory, self.client, self.mounts = cluster, directory, client, mounts
        self.mounted: list[Path] = []

    def root_for(self, node: str, files: dict[str, bytes]) -> Path:
        root = self.directory / node
        conf, secret = root / "client.conf", root / f"{self.client}.secret"
        root.mkdir(parents=True)
        conf.write_bytes(files["ceph/client.conf"])
        secret.write_bytes(files[f"ceph/{self.client}.secret"])
        secret.chmod(0o600)
        for source, target in self.mounts:
            path = root / target.lstrip("/")
            path.mkdir(parents=True)
            self.cluster.run("ceph-fuse", "--id", self.client, "--keyfile", str(secret), "-c", str(conf),
                             "--client_mount_timeout", "30", "-r", source, str(path))
            self.mounted.append(path)
        return root

    def close(self) -> None:
        for path in reversed(self.mounted):
            unmount(path)
        self.mounted.clear()


def bootstrap(cluster: CephCluster, bootstrap_script: Path, client: str) -> str:
    """Run the rendered bootstrap-cephfs.sh (the MDS is the cluster's own: --skip-mds); the client's key."""
    result = subprocess.run(["bash", str(bootstrap_script), "--skip-mds"], capture_output=True, text=True,
                            timeout=300, env=cluster.env)
    if result.returncode != 0:
        raise RuntimeError(result.stdout + result.stderr)
    cluster.wait_for_active_mds()
    return cluster.run("ceph", "auth", "get-key", f"client.{client}").stdout.strip()
