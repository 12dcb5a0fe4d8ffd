"""A Harbor data path on loopback, from a render of a test topology and its bundles' own files.

Harbor 1.1.2 (Harbor1DataPath), per Harbor node (its topology address):
- Debian's docker-registry (distribution 2.8) with the config.yml that the real 1.1.2 prepare
  writes from the node's filled bundle (tests/real_prepare.py runs the unmodified program);
- the stand-in token service (tests/harness/token_service.py), signing with the private key
  that prepare put in common/config/ui;
- real nginx with the nginx.conf prepare wrote from the stock nginx.http.conf;
then real nginx with the rendered load-balancer site.

Harbor 2.15 (Harbor2DataPath): per Harbor node, docker-registry with the config.yml and passwd
that the real 2.15.2 prepare writes from the node's harbor.yml, after the bundle's
pin-secrets.sh; and real Redis, configured by the Redis node's bundle, as the registry's cache.
Its clients are the registry's own (htpasswd basic auth with the pinned credential, as core
uses it): Harbor 2.15's node proxy leads to core, which cannot run here.
Harbor 2.15 ships distribution 3; Debian has 2.8, which reads the same keys (layerinfo is
its older name of blobdescriptor) and ignores the two it does not know (redis.username, enableTLS).

The registries' storage is one switch:
a directory all nodes share (SharedDirectory), or real CephFS, mounted on each node with
ceph-fuse from that node's filled client.conf and cephx secret (tests/harness/ceph.py's
CephStorage).

What must change to run outside Harbor's containers is changed in code, in outside_containers()
and node_proxy_rewrites() below, and nowhere else; a secret-bearing value never changes.
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
import time
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
from tests.real_prepare import run_prepare1, run_prepare2

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_PORT, DEBUG_PORT, UI_PORT, PROXY_PORT = 5000, 5001, 8081, 80


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
            if isinstance(volume, dict):  # the long syntax, as 2.15's prepare writes it
                host, container = volume.get("source", ""), volume.get("target", "")
            else:
                host, _, rest = volume.partition(":")
                container = rest.split(":")[0]
            if container == "/storage":
                return host
    raise AssertionError("no service of the compose file has /storage")


def outside_containers(config: dict[str, Any], *, address: str, storage: Path, directory: Path, ui: str | None) -> dict[str, Any]:
    """The registry's config.yml as prepare wrote it, with only what a container gave it replaced:
    its storage volume, its listen and debug addresses, the paths of its certificate or password
    file (now in DIRECTORY), and the name of the ui that its notifications go to."""
    changed = json.loads(json.dumps(config))
    changed["storage"]["filesystem"]["rootdirectory"] = str(storage)
    changed["http"]["addr"] = f"{address}:{REGISTRY_PORT}"
    changed["http"]["debug"]["addr"] = f"{address}:{DEBUG_PORT}"
    auth = changed["auth"]
    if "token" in auth:
        auth["token"]["rootcertbundle"] = str(directory / "root.crt")
    if "htpasswd" in auth:
        auth["htpasswd"]["path"] = str(directory / "passwd")
    for endpoint in changed.get("notifications", {}).get("endpoints", []):
        endpoint["url"] = endpoint["url"].replace("http://ui/", f"http://{ui}/")
    assert changed["http"]["secret"] == config["http"]["secret"]
    assert changed.get("redis") == config.get("redis")
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
    config_dir: Path  # the installer's common/config, as prepare left it
    config: dict[str, Any]  # the registry's, outside containers
    url: str  # where its clients reach it: the node's proxy (1.1.2) or its registry (2.15)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def registry(self) -> str:
        return f"{self.address}:{REGISTRY_PORT}"


class DataPath:
    """What every version's data path has: registries on one storage, started by start() and
    stopped, whatever happened, by stop(). A version's subclass prepares and adds its services."""

    def __init__(self, topology: Path, directory: Path, secrets: dict[str, str], *, storage: Storage | None = None,
                 prepared: Callable[[str, Path], None] = lambda node, installer: None):
        self.registry_binary = require_tool("docker-registry")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.storage = storage or SharedDirectory(directory / "storage")
        self.cluster, self.secrets = load_cluster(topology), secrets
        self.tree = materialize(compile_cluster(self.cluster), secrets)
        self.services: list[subprocess.Popen] = []
        self.nodes = {node.name: self._node(node.name, node.address, prepared) for node in self.cluster.harbor_nodes}

    def _bundle(self, node: str, under: str = "") -> dict[str, bytes]:
        prefix = f"{node}/{under}"
        return {path[len(prefix):]: artifact.content for path, artifact in self.tree.items() if path.startswith(prefix)}

    def _node(self, name: str, address: str, prepared: Callable[[str, Path], None]) -> Node:
        directory = self.directory / name
        installer = directory / "machine" / self.cluster.harbor.installer_dir.lstrip("/")
        installer.mkdir(parents=True)
        self._prepare(name, installer, prepared)
        config_dir = installer / "common" / "config"
        written = yaml.safe_load((config_dir / "registry" / "config.yml").read_text())
        storage = self.storage.root_for(name, self._bundle(name)) / registry_storage((installer / "docker-compose.yml").read_text()).lstrip("/")
        storage.mkdir(parents=True, exist_ok=True)
        config = outside_containers(written, address=address, storage=storage, directory=config_dir / "registry",
                                    ui=f"{address}:{UI_PORT}")
        return Node(name, address, directory, config_dir, config, self._url(address))

    def _prepare(self, name: str, installer: Path, prepared: Callable[[str, Path], None]) -> None:
        raise NotImplementedError

    def _url(self, address: str) -> str:
        raise NotImplementedError

    @property
    def hosts(self) -> list[str]:
        """Where clients reach each node, in the topology's order."""
        return [node.url for node in self.nodes.values()]

    def start(self) -> DataPath:
        for node in self.nodes.values():
            self.start_registry(node.name)
        return self

    def start_registry(self, name: str, config: dict[str, Any] | None = None) -> None:
        """The node's registry, with its own configuration or (for a negative control) another."""
        node = self.nodes[name]
        path = node.directory / "registry.yml"
        path.write_text(yaml.safe_dump(config or node.config))
        log = node.directory / "registry.log"
        process = subprocess.Popen([self.registry_binary, "serve", str(path)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
        node.processes["registry"] = process
        wait_for_port(node.address, REGISTRY_PORT, process, log)

    def kill_registry(self, name: str) -> None:
        process = self.nodes[name].processes.pop("registry")
        process.kill()
        process.wait(timeout=10)

    def registry_log(self, name: str) -> str:
        return (self.nodes[name].directory / "registry.log").read_text(errors="replace")

    def stop(self) -> None:
        """Every process, even when one will not die (a registry stuck in a hung FUSE mount)."""
        processes = [process for node in self.nodes.values() for process in node.processes.values()] + self.services
        for node in self.nodes.values():
            node.processes.clear()
        self.services = []
        stuck = []
        for process in processes:
            try:
                stop(process, grace=10)
            except subprocess.TimeoutExpired:
                stuck.append(str(process.args[0]))
        if stuck:
            raise RuntimeError(f"these did not exit when killed: {', '.join(stuck)}")


class Harbor1DataPath(DataPath):
    """Registries behind the stock node proxies and the rendered load balancer; a token service per node."""

    def __init__(self, topology: Path, directory: Path, secrets: dict[str, str], **options: Any):
        self.nginx_binary = require_tool("nginx")
        super().__init__(topology, directory, secrets, **options)
        balancer = self.cluster.load_balancer
        self.entry = f"{balancer.address}:{balancer.listen}"  # what external_url names

    def _url(self, address: str) -> str:
        return f"{address}:{PROXY_PORT}"

    def _prepare(self, name: str, installer: Path, prepared: Callable[[str, Path], None]) -> None:
        """The stock installer with the bundle's harbor/ files laid over it, then the real prepare."""
        shutil.copytree(REFERENCE / "common" / "templates", installer / "common" / "templates")
        for path, content in self._bundle(name, "harbor/").items():
            target = installer / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        prepared(name, installer)
        # prepare reads the secretkey at harbor.cfg's absolute secretkey_path: under the node's root here.
        (secretkey_path,) = [line.split("=", 1)[1].strip() for line in (installer / "harbor.cfg").read_text().splitlines()
                             if line.startswith("secretkey_path")]
        result = run_prepare1(installer, self.directory / name / "machine", secretkey_path)
        assert result.returncode == 0, result.stdout + result.stderr

    def private_key(self, name: str) -> Path:
        return self.nodes[name].config_dir / "ui" / "private_key.pem"

    def start(self) -> DataPath:
        super().start()
        for node in self.nodes.values():
            self._start_token_service(node)
            self._start_proxy(node)
        (site,) = [artifact.content.decode() for path, artifact in self.tree.items() if path.endswith("/nginx/default.conf")]
        balancer = Nginx(self.directory / "balancer", site, int(self.entry.rsplit(":", 1)[1]))
        balancer.start(self.nginx_binary)
        self.services.append(balancer.process)
        return self

    def _start_token_service(self, node: Node) -> None:
        log = node.directory / "token.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.token_service", node.address, str(UI_PORT), str(self.private_key(node.name))],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("ab"),
        )
        node.processes["token"] = process
        wait_for_port(node.address, UI_PORT, process, log)

    def _start_proxy(self, node: Node) -> None:
        directory = node.directory / "proxy"
        directory.mkdir(exist_ok=True)
        stock = (node.config_dir / "nginx" / "nginx.conf").read_text()
        (directory / "nginx.conf").write_text(_rewritten(stock, node_proxy_rewrites(node.address, directory)))
        process = subprocess.Popen(
            [self.nginx_binary, "-p", str(directory), "-c", str(directory / "nginx.conf"),
             "-g", f"daemon off; user root; pid {directory}/nginx.pid; error_log {directory}/error.log;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        node.processes["proxy"] = process
        wait_for_port(node.address, PROXY_PORT, process, directory / "error.log")

    def token(self, host: str, scope: str, user: str = "admin") -> str:
        """A token from the token service behind HOST (a node's proxy, or the load balancer)."""
        credentials = base64.b64encode(f"{user}:unused".encode()).decode()
        status, _, body = request(host, "GET", f"/service/token?service=harbor-registry&scope={scope}",
                                  authorization=f"Basic {credentials}")
        assert status == 200, body
        return json.loads(body)["token"]

    def authorization(self, scope: str) -> str:
        return f"Bearer {self.token(self.entry, scope)}"

    def sticky_node(self, token: str) -> str:
        """The node the load balancer sends this client to (ip_hash): the one whose proxy logs its request."""
        def logged(node: Node) -> int:
            log = node.directory / "proxy" / "access.log"
            return len(log.read_bytes().splitlines()) if log.exists() else 0

        before = {name: logged(node) for name, node in self.nodes.items()}
        request(self.entry, "GET", "/v2/", token=token)
        # nginx logs a request after it has answered it: the line may land a moment after the reply.
        deadline = time.monotonic() + 10
        while not (grown := [name for name, node in self.nodes.items() if logged(node) > before[name]]):
            if time.monotonic() > deadline:
                raise AssertionError("no node's proxy logged the request")
            time.sleep(0.01)
        (name,) = grown
        return name


class Harbor2DataPath(DataPath):
    """Registries with htpasswd auth and the real Redis as their cache; clients talk to the registries."""

    def _url(self, address: str) -> str:
        return f"{address}:{REGISTRY_PORT}"

    def _prepare(self, name: str, installer: Path, prepared: Callable[[str, Path], None]) -> None:
        """The real 2.15.2 prepare on the node's harbor.yml, then the bundle's pin-secrets.sh with its pins."""
        bundle = self.directory / name / "bundle"
        for path, content in self._bundle(name).items():
            target = bundle / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        prepared(name, bundle)
        machine = self.directory / name / "machine"
        run_prepare2((bundle / "harbor" / "harbor.yml").read_text(), machine, self.directory / name / "prepare-state",
                     with_trivy=self.cluster.harbor.with_trivy)
        pinned = subprocess.run(["bash", str(bundle / "pin-secrets.sh"), "common/config", str(bundle / "harbor" / "harborgen" / "pins")],
                                cwd=installer, capture_output=True, text=True, timeout=60)
        assert pinned.returncode == 0, pinned.stdout + pinned.stderr

    def start(self) -> DataPath:
        self._start_redis()
        return super().start()

    def _start_redis(self) -> None:
        """redis-server with the Redis node's harbor.conf included, as its RUNBOOK says."""
        redis = self.cluster.redis
        directory = self.directory / "redis"
        directory.mkdir()
        (directory / "harbor.conf").write_bytes(self._bundle(redis.node)["redis/harbor.conf"])
        (directory / "redis.conf").write_text(f'daemonize no\ndir {directory}\nsave ""\nlogfile {directory}/redis.log\n'
                                              f"include {directory}/harbor.conf\n")
        process = subprocess.Popen([require_tool("redis-server"), str(directory / "redis.conf")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.services.append(process)
        wait_for_port(redis.host, redis.port, process, directory / "redis.log")

    def credentials(self) -> str:
        """USER:PASSWORD of the pinned registry credential, which core uses."""
        passwd = next(iter(self.nodes.values())).config_dir / "registry" / "passwd"
        user = passwd.read_text().partition(":")[0]  # the file holds a hash; the value is the secrets file's
        return f"{user}:{self.secrets['registry_credential_password']}"

    def authorization(self, scope: str = "") -> str:
        """What core sends the registry: the pinned registry credential, as basic auth."""
        return "Basic " + base64.b64encode(self.credentials().encode()).decode()


VERSIONS = {"1.1.2": Harbor1DataPath, "2.15": Harbor2DataPath}


def request(host: str, method: str, path: str, *, token: str | None = None, authorization: str | None = None,
            body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to HOST ("address:port"), with a bearer TOKEN or an AUTHORIZATION header;
    the status, the headers and the body."""
    address, port = host.rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=timeout)
    try:
        sent = dict(headers or {})
        if token:
            authorization = f"Bearer {token}"
        if authorization:
            sent["Authorization"] = authorization
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def path_of(location: str) -> str:
    """The path and query of a Location header, which the registry writes as an absolute URL."""
    return "/" + location.split("://", 1)[1].split("/", 1)[1] if "://" in location else location


def hop(hosts: list[str], authorization: str, repository: str, data: bytes) -> tuple[int, bytes]:
    """One blob upload across three nodes: POST on the first, PATCH on the second, PUT on the third.
    The last status and body (a failed PATCH's, when it fails there)."""
    status, headers, body = request(hosts[0], "POST", f"/v2/{repository}/blobs/uploads/", authorization=authorization)
    assert status == 202, body
    status, headers, body = request(hosts[1], "PATCH", path_of(headers["Location"]), authorization=authorization,
                                    body=data, headers={"Content-Type": "application/octet-stream"})
    if status != 202:
        return status, body
    location = path_of(headers["Location"])
    separator = "&" if "?" in location else "?"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, _, body = request(hosts[2], "PUT", f"{location}{separator}digest={digest}", authorization=authorization)
    return status, body


@contextlib.contextmanager
def changed_registry(datapath: DataPath, name: str, change: Callable[[dict], None]) -> Iterator[None]:
    """NAME's registry runs with a changed copy of its configuration (a negative control), then with its own again."""
    config = json.loads(json.dumps(datapath.nodes[name].config))
    change(config)
    datapath.kill_registry(name)
    datapath.start_registry(name, config)
    try:
        yield
    finally:
        datapath.kill_registry(name)
        datapath.start_registry(name)


def upload_blob(host: str, authorization: str, repository: str, data: bytes) -> None:
    """A monolithic blob upload (POST, then PUT with the body), as a client pushes a layer."""
    status, headers, body = request(host, "POST", f"/v2/{repository}/blobs/uploads/", authorization=authorization)
    assert status == 202, body
    path = path_of(headers["Location"])
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    separator = "&" if "?" in path else "?"
    status, _, body = request(host, "PUT", f"{path}{separator}digest={digest}", authorization=authorization, body=data,
                              headers={"Content-Type": "application/octet-stream"}, timeout=300)
    assert status == 201, body


def download_blob(host: str, authorization: str, repository: str, digest: str) -> int:
    """The blob's bytes, read to the end; their count."""
    address, port = host.rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=300)
    try:
        connection.request("GET", f"/v2/{repository}/blobs/{digest}", headers={"Authorization": authorization})
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
def running(topology: Path, directory: Path, secrets: dict[str, str], **options: Any) -> Iterator[Any]:
    """The data path of the topology's Harbor version, started; stopped when the block ends."""
    datapath = VERSIONS[load_cluster(topology).harbor.version](topology, directory, secrets, **options)
    try:
        yield datapath.start()
    finally:
        datapath.stop()
