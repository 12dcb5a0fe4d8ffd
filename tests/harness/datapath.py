"""A Harbor 1.1.2 data path on loopback, from a render of a test topology and its bundles' own files.

Per Harbor node (its topology address, 127.0.0.11-13):
- Debian's docker-registry (distribution 2.8) with the config.yml that the real 1.1.2 prepare
  writes from the node's filled bundle (tests/real_prepare.py runs the unmodified program);
- the stand-in token service (tests/harness/token_service.py), signing with the private key
  that prepare put in common/config/ui;
- real nginx with the nginx.conf prepare wrote from the stock nginx.http.conf.
Then real nginx with the rendered load-balancer site. The registries' storage is one switch:
a directory all nodes share (SharedDirectory), or real CephFS, mounted on each node with
ceph-fuse from that node's filled client.conf and cephx secret (tests/harness/ceph.py's
CephStorage).

What must change to run outside Harbor's containers is changed in code, in OUTSIDE_CONTAINERS
and NODE_PROXY_REWRITES below, and nowhere else; a secret-bearing value never changes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from generator.pipeline import compile_cluster, load_cluster
from generator.secrets.packs import materialize
from tests.harness.nginx import Nginx, wait_for_port
from tests.harness.processes import stop
from tests.helpers import REFERENCE, require_tool
from tests.real_prepare import run_prepare1

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_PORT, DEBUG_PORT, UI_PORT, PROXY_PORT = 5000, 5001, 8081, 80
SECRETKEY_PATH = "/mnt/cephfs/harbor/data"


class Storage(Protocol):
    """Where a node's machine root lies for the files the registry keeps (its CephFS mounts).
    Whoever makes a Storage closes it: the data path only asks it for roots."""

    def root_for(self, node: str, files: dict[str, bytes]) -> Path: ...


class SharedDirectory:
    """One directory stands for the CephFS every node mounts: all nodes have the same root."""

    def __init__(self, directory: Path):
        self.directory = directory

    def root_for(self, node: str, files: dict[str, bytes]) -> Path:
        return self.directory


def registry_storage(compose: str) -> str:
    """The host directory the rendered compose file gives the registry as /storage."""
    for service in yaml.safe_load(compose)["services"].values():
        for volume in service.get("volumes", []):
            host, _, rest = volume.partition(":")
            if rest.split(":")[0] == "/storage":
                return host
    raise AssertionError("no service of the compose file has /storage")


@dataclass(frozen=True)
class NodeFiles:
    """What the installer's prepare left for one node's registry, token service and proxy."""

    registry_config: dict[str, Any]
    root_crt: Path
    private_key: Path
    nginx_conf: str


def outside_containers(config: dict[str, Any], *, address: str, storage: Path, root_crt: Path) -> dict[str, Any]:
    """The registry's config.yml as prepare wrote it, with only what a container gave it replaced:
    its storage volume, its listen and debug addresses, its certificate's path and the ui's name."""
    changed = json.loads(json.dumps(config))
    changed["storage"]["filesystem"]["rootdirectory"] = str(storage)
    changed["http"]["addr"] = f"{address}:{REGISTRY_PORT}"
    changed["http"]["debug"]["addr"] = f"{address}:{DEBUG_PORT}"
    changed["auth"]["token"]["rootcertbundle"] = str(root_crt)
    for endpoint in changed.get("notifications", {}).get("endpoints", []):
        endpoint["url"] = endpoint["url"].replace("http://ui/", f"http://{address}:{UI_PORT}/")
    assert changed["http"]["secret"] == config["http"]["secret"]
    return changed


def node_proxy_rewrites(address: str, directory: Path) -> list[tuple[str, str]]:
    """Harbor's stock proxy names its containers; here they are the node's loopback services."""
    return [
        ("server registry:5000;", f"server {address}:{REGISTRY_PORT};"),
        ("server ui:80;", f"server {address}:{UI_PORT};"),
        ("listen 80;", f"listen {address}:{PROXY_PORT};"),
        ("access_log /dev/stdout timed_combined;", f"access_log {directory}/access.log timed_combined;"),
    ]


def _rewritten(text: str, rewrites: list[tuple[str, str]]) -> str:
    for old, new in rewrites:
        if text.count(old) != 1:
            raise AssertionError(f"the stock nginx.conf should hold {old!r} once")
        text = text.replace(old, new)
    return text


@dataclass
class Node:
    name: str
    address: str
    directory: Path
    files: NodeFiles
    config: dict[str, Any]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.address}:{PROXY_PORT}"


class DataPath:
    """The cluster's data path, started by start() and stopped, whatever happened, by stop()."""

    def __init__(self, topology: Path, directory: Path, secrets: dict[str, str], *, storage: Storage | None = None,
                 prepared: Callable[[str, Path], None] = lambda node, installer: None):
        self.registry = require_tool("docker-registry")
        self.nginx_binary = require_tool("nginx")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.storage = storage or SharedDirectory(directory / "storage")
        cluster = load_cluster(topology)
        self.tree = materialize(compile_cluster(cluster), secrets)
        self.nodes = {node.name: self._prepare(node.name, node.address, prepared)
                      for node in cluster.nodes if node.has("harbor")}
        (balancer,) = [node for node in cluster.nodes if node.has("load-balancer")]
        self.entry = f"{balancer.address}:{cluster.load_balancer.listen}"
        self.balancer: Nginx | None = None

    # --- set-up -------------------------------------------------------------------

    def _bundle(self, node: str, under: str) -> dict[str, bytes]:
        prefix = f"{node}/{under}"
        return {path[len(prefix):]: artifact.content for path, artifact in self.tree.items() if path.startswith(prefix)}

    def _balancer_site(self) -> str:
        (path,) = [p for p in self.tree if p.endswith("/nginx/default.conf")]
        return self.tree[path].content.decode()

    def _prepare(self, name: str, address: str, prepared: Callable[[str, Path], None]) -> Node:
        """The node's installer: the stock one, with the bundle's harbor/ files laid over it, then prepare."""
        directory = self.directory / name
        root = directory / "machine"
        installer = root / "opt" / "harbor"
        shutil.copytree(REFERENCE / "common" / "templates", installer / "common" / "templates")
        harbor = self._bundle(name, "harbor/")
        for path, content in harbor.items():
            target = installer / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        prepared(name, installer)
        result = run_prepare1(installer, root, SECRETKEY_PATH)
        assert result.returncode == 0, result.stdout + result.stderr
        config_dir = installer / "common" / "config"
        files = NodeFiles(
            registry_config=yaml.safe_load((config_dir / "registry" / "config.yml").read_text()),
            root_crt=config_dir / "registry" / "root.crt",
            private_key=config_dir / "ui" / "private_key.pem",
            nginx_conf=(config_dir / "nginx" / "nginx.conf").read_text(),
        )
        storage = self.storage.root_for(name, self._bundle(name, "")) / registry_storage(harbor["docker-compose.yml"].decode()).lstrip("/")
        storage.mkdir(parents=True, exist_ok=True)
        config = outside_containers(files.registry_config, address=address, storage=storage, root_crt=files.root_crt)
        return Node(name, address, directory, files, config)

    # --- processes ----------------------------------------------------------------

    def start(self) -> DataPath:
        for node in self.nodes.values():
            self.start_registry(node.name)
            self._start_token_service(node)
            self._start_proxy(node)
        self.balancer = Nginx(self.directory / "balancer", self._balancer_site(), int(self.entry.rsplit(":", 1)[1]))
        self.balancer.start(self.nginx_binary)
        return self

    def start_registry(self, name: str, config: dict[str, Any] | None = None) -> None:
        """The node's registry, with its own configuration or (for a negative control) another."""
        node = self.nodes[name]
        path = node.directory / "registry.yml"
        path.write_text(yaml.safe_dump(config or node.config))
        log = node.directory / "registry.log"
        process = subprocess.Popen([self.registry, "serve", str(path)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
        node.processes["registry"] = process
        wait_for_port(node.address, REGISTRY_PORT, process, log)

    def kill_registry(self, name: str) -> None:
        process = self.nodes[name].processes.pop("registry")
        process.kill()
        process.wait(timeout=10)

    def registry_log(self, name: str) -> str:
        return (self.nodes[name].directory / "registry.log").read_text(errors="replace")

    def _start_token_service(self, node: Node) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.token_service", node.address, str(UI_PORT), str(node.files.private_key)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(node.directory / "token.log").open("ab"),
        )
        node.processes["token"] = process
        wait_for_port(node.address, UI_PORT, process, node.directory / "token.log")

    def _start_proxy(self, node: Node) -> None:
        directory = node.directory / "proxy"
        directory.mkdir(exist_ok=True)
        (directory / "nginx.conf").write_text(_rewritten(node.files.nginx_conf, node_proxy_rewrites(node.address, directory)))
        process = subprocess.Popen(
            [self.nginx_binary, "-p", str(directory), "-c", str(directory / "nginx.conf"),
             "-g", f"daemon off; user root; pid {directory}/nginx.pid; error_log {directory}/error.log;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        node.processes["proxy"] = process
        wait_for_port(node.address, PROXY_PORT, process, directory / "error.log")

    def stop(self) -> None:
        """Every process, even when one will not die (a registry stuck in a hung FUSE mount)."""
        processes = [process for node in self.nodes.values() for process in node.processes.values()]
        if self.balancer and self.balancer.process:
            processes.append(self.balancer.process)
        for node in self.nodes.values():
            node.processes.clear()
        stuck = []
        for process in processes:
            try:
                stop(process, grace=10)
            except subprocess.TimeoutExpired:
                stuck.append(process.args[0])
        if stuck:
            raise RuntimeError(f"these did not exit when killed: {', '.join(stuck)}")

    # --- the client side ----------------------------------------------------------

    def token(self, host: str, scope: str, user: str = "admin") -> str:
        """A token from the token service behind HOST (a node's proxy, or the load balancer)."""
        credentials = base64.b64encode(f"{user}:unused".encode()).decode()
        status, _, body = request(host, "GET", f"/service/token?service=harbor-registry&scope={scope}",
                                  headers={"Authorization": f"Basic {credentials}"})
        assert status == 200, body
        return json.loads(body)["token"]


def request(host: str, method: str, path: str, *, token: str | None = None, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to HOST ("address:port"); the status, the headers and the body."""
    address, port = host.rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=timeout)
    try:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def path_of(location: str) -> str:
    """The path and query of a Location header, which the registry writes as an absolute URL."""
    return "/" + location.split("://", 1)[1].split("/", 1)[1] if "://" in location else location


def upload_blob(host: str, token: str, repository: str, data: bytes) -> None:
    """A monolithic blob upload (POST, then PUT with the body), as a client pushes a layer."""
    status, headers, body = request(host, "POST", f"/v2/{repository}/blobs/uploads/", token=token)
    assert status == 202, body
    path = path_of(headers["Location"])
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    separator = "&" if "?" in path else "?"
    status, _, body = request(host, "PUT", f"{path}{separator}digest={digest}", token=token, body=data,
                              headers={"Content-Type": "application/octet-stream"}, timeout=300)
    assert status == 201, body


def download_blob(host: str, token: str, repository: str, digest: str) -> int:
    """The blob's bytes, read to the end; their count."""
    address, port = host.rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=300)
    try:
        connection.request("GET", f"/v2/{repository}/blobs/{digest}", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        total = 0
        while chunk := response.read(1024 * 1024):
            total += len(chunk)
        return total
    finally:
        connection.close()


@contextlib.contextmanager
def storage_switch(kind: str, directory: Path, topology: Path, token_pair: tuple[str, str], *,
                   ceph_memory: int = 1024**3) -> Iterator[tuple[Storage, dict[str, str]]]:
    """The one switch of storage ("directory" or "cephfs"), and the secrets that go with it: on
    CephFS, the key of the client that the rendered bootstrap script made."""
    from generator.writer import write_tree
    from tests.harness.ceph import CEPH_TOOLS, CephCluster, CephStorage, bootstrap
    from tests.helpers import secrets_for

    if kind == "directory":
        yield SharedDirectory(directory / "shared"), secrets_for(topology, token_pair)
        return
    for tool in CEPH_TOOLS:
        require_tool(tool)
    cluster = CephCluster(directory / "ceph", memstore_bytes=ceph_memory)
    cephfs = load_cluster(topology).cephfs
    storage = CephStorage(cluster, directory / "nodes", cephfs.client, tuple((m.source, m.target) for m in cephfs.mounts))
    try:
        cluster.start()
        render = directory / "render"
        write_tree(compile_cluster(load_cluster(topology)), render)
        (script,) = render.glob("*/ceph/bootstrap-cephfs.sh")
        key = bootstrap(cluster, script, cephfs.client)
        yield storage, secrets_for(topology, token_pair, **{cephfs.key.name: key})
    finally:
        storage.close()
        cluster.stop()


@contextlib.contextmanager
def running(topology: Path, directory: Path, secrets: dict[str, str], **options: Any) -> Iterator[DataPath]:
    datapath = DataPath(topology, directory, secrets, **options)
    try:
        yield datapath.start()
    finally:
        datapath.stop()
