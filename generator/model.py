"""Stage 3: the immutable plan of the cluster, built from a validated topology.

Templates see only these objects, never the raw document; everything a
template would otherwise compute (paths on CephFS, the upstream scheme, the
hostname Harbor advertises) is derived here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .conventions import (
    REGISTRY_HTTP_SECRET,
    SECRETKEY,
    TOKEN_CERTIFICATE,
    TOKEN_PRIVATE_KEY,
    cephx_secret_name,
    default_log_dir,
    placeholder,
)
from .formats import split_http_url

ROLE_ORDER = ("harbor", "ceph-admin", "load-balancer", "database")


@dataclass(frozen=True)
class SecretRef:
    name: str

    @property
    def placeholder(self) -> str:
        return placeholder(self.name)


@dataclass(frozen=True)
class Email:
    server: str
    port: int
    username: str
    password: SecretRef
    sender: str
    ssl: bool
    identity: str


@dataclass(frozen=True)
class Ldap:
    url: str
    base_dn: str
    uid: str
    scope: int
    timeout: int
    search_dn: str | None
    search_password: SecretRef | None
    filter: str | None


# What the stock harbor.cfg holds when LDAP is not used; Harbor's prepare reads these keys regardless.
STOCK_LDAP = Ldap(
    url="ldaps://ldap.mydomain.com",
    base_dn="ou=people,dc=mydomain,dc=com",
    uid="uid",
    scope=3,
    timeout=5,
    search_dn=None,
    search_password=None,
    filter=None,
)


@dataclass(frozen=True)
class HarborSettings:
    version: str
    scheme: str
    hostname: str  # host, with ":port" when external_url names one: what clients type
    installer_dir: str
    admin_password: SecretRef
    auth_mode: str
    self_registration: bool
    max_job_workers: int
    token_expiration: int
    project_creation_restriction: str
    verify_remote_cert: bool
    email: Email
    ldap: Ldap | None
    secretkey: SecretRef = SecretRef(SECRETKEY)
    registry_http_secret: SecretRef = SecretRef(REGISTRY_HTTP_SECRET)
    token_private_key: SecretRef = SecretRef(TOKEN_PRIVATE_KEY)
    token_certificate: SecretRef = SecretRef(TOKEN_CERTIFICATE)

    @property
    def ui_url(self) -> str:
        return f"{self.scheme}://{self.hostname}"

    @property
    def ldap_settings(self) -> Ldap:
        return self.ldap or STOCK_LDAP

    @property
    def image_tag(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True)
class Pool:
    name: str
    pg_num: int


@dataclass(frozen=True)
class CephFS:
    monitors: tuple[str, ...]
    fs_name: str
    client: str
    mount_point: str
    harbor_dir: str
    data_pool: Pool
    metadata_pool: Pool
    mds: tuple[str, ...]
    selinux_relabel: bool
    mount_via: str  # "kernel" or "fuse"
    conf_file: str  # the client configuration ceph-fuse reads: the monitors

    @property
    def harbor_root(self) -> str:
        """Where each Harbor node mounts the Harbor directory of the CephFS."""
        return f"{self.mount_point}/{self.harbor_dir}"

    @property
    def data_root(self) -> str:
        """What the stock installer calls /data, moved onto CephFS."""
        return f"{self.harbor_root}/data"

    @property
    def mount_source(self) -> str:
        return f"{','.join(self.monitors)}:/{self.harbor_dir}"

    @property
    def secret_file(self) -> str:
        return f"/etc/ceph/{self.client}.secret"

    @property
    def key(self) -> SecretRef:
        return SecretRef(cephx_secret_name(self.client))

    @property
    def fuse(self) -> bool:
        return self.mount_via == "fuse"

    @property
    def uses_admin_client(self) -> bool:
        return self.client == "admin"

    @property
    def selinux_context_option(self) -> str | None:
        # Without ':z' relabelling, containers may read the mount only if it carries their label.
        return None if self.selinux_relabel else "context=system_u:object_r:svirt_sandbox_file_t:s0"

    @property
    def extra_mount_options(self) -> str:
        """fstab and kernel mount options beside the client name and its secret file."""
        return ",".join(filter(None, ("noatime", "_netdev", self.selinux_context_option)))

    @property
    def volume_suffix(self) -> str:
        return ":z" if self.selinux_relabel else ""


@dataclass(frozen=True)
class Database:
    node: str
    address: str
    port: int
    name: str
    user: str
    password: SecretRef


@dataclass(frozen=True)
class Tls:
    certificate: str
    certificate_key: str


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    roles: tuple[str, ...]
    log_dir: str | None  # relative to the Harbor directory; Harbor nodes only

    def has(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class LoadBalancer:
    node: str
    address: str
    listen: int
    server_name: str
    stickiness: str
    timeout: int
    image: str
    tls: Tls | None
    upstreams: tuple[Node, ...]
    upstream_name: str

    @property
    def upstream_scheme(self) -> str:
        # With ui_url_protocol = https every node's own nginx redirects plain
        # http to https, so the balancer must speak TLS to the nodes.
        return "https" if self.tls else "http"

    @property
    def upstream_port(self) -> int:
        return 443 if self.tls else 80


@dataclass(frozen=True)
class Cluster:
    name: str
    harbor: HarborSettings
    cephfs: CephFS
    database: Database
    load_balancer: LoadBalancer
    nodes: tuple[Node, ...]

    @property
    def harbor_nodes(self) -> tuple[Node, ...]:
        return tuple(node for node in self.nodes if node.has("harbor"))

    def log_host_dir(self, node: Node) -> str:
        """The node's own log directory on CephFS (what the stock file calls /var/log/harbor)."""
        return f"{self.cephfs.harbor_root}/{node.log_dir}"


def build_cluster(document: dict[str, Any]) -> Cluster:
    """The plan of a document that ``validate`` accepted (defaults filled in)."""
    nodes = tuple(_node(name, spec) for name, spec in sorted(document["nodes"].items()))
    by_name = {node.name: node for node in nodes}
    harbor_nodes = tuple(node for node in nodes if node.has("harbor"))
    return Cluster(
        name=document["cluster"],
        harbor=_harbor(document["harbor"]),
        cephfs=_cephfs(document["cephfs"], document["cluster"]),
        database=_database(document["database"], by_name),
        load_balancer=_load_balancer(document["load_balancer"], by_name, harbor_nodes, document["cluster"]),
        nodes=nodes,
    )


def _node(name: str, spec: dict[str, Any]) -> Node:
    roles = tuple(role for role in ROLE_ORDER if role in spec["roles"])
    log_dir = spec.get("log_dir", default_log_dir(name)) if "harbor" in roles else None
    return Node(name=name, address=spec["address"], roles=roles, log_dir=log_dir)


def _secret(spec: dict[str, str]) -> SecretRef:
    return SecretRef(spec["secret"])


def _harbor(spec: dict[str, Any]) -> HarborSettings:
    scheme, host, port = split_http_url(spec["external_url"])
    email = spec["email"]
    return HarborSettings(
        version=spec["version"],
        scheme=scheme,
        hostname=f"{host}:{port}" if port is not None else host,
        installer_dir=spec["installer_dir"],
        admin_password=_secret(spec["admin_password"]),
        auth_mode=spec["auth_mode"],
        self_registration=spec["self_registration"],
        max_job_workers=spec["max_job_workers"],
        token_expiration=spec["token_expiration"],
        project_creation_restriction=spec["project_creation_restriction"],
        verify_remote_cert=spec["verify_remote_cert"],
        email=Email(
            server=email["server"],
            port=email["port"],
            username=email["username"],
            password=_secret(email["password"]),
            sender=email["from"],
            ssl=email["ssl"],
            identity=email.get("identity", ""),
        ),
        ldap=_ldap(spec["ldap"]) if "ldap" in spec else None,
    )


def _ldap(spec: dict[str, Any]) -> Ldap:
    return Ldap(
        url=spec["url"],
        base_dn=spec["base_dn"],
        uid=spec["uid"],
        scope=spec["scope"],
        timeout=spec["timeout"],
        search_dn=spec.get("search_dn"),
        search_password=_secret(spec["search_password"]) if "search_password" in spec else None,
        filter=spec.get("filter"),
    )


def _cephfs(spec: dict[str, Any], cluster: str) -> CephFS:
    return CephFS(
        monitors=tuple(spec["monitors"]),
        fs_name=spec["fs_name"],
        client=spec["client"],
        mount_point=spec["mount_point"],
        harbor_dir=spec["harbor_dir"],
        data_pool=Pool(**spec["data_pool"]),
        metadata_pool=Pool(**spec["metadata_pool"]),
        mds=tuple(spec["mds"]),
        selinux_relabel=spec["selinux_relabel"],
        mount_via=spec["mount_via"],
        conf_file=f"/etc/ceph/harborgen-{cluster}.conf",
    )


def _database(spec: dict[str, Any], nodes: dict[str, Node]) -> Database:
    return Database(
        node=spec["node"],
        address=nodes[spec["node"]].address,
        port=spec["port"],
        name=spec["name"],
        user=spec["user"],
        password=_secret(spec["password"]),
    )


def _load_balancer(spec: dict[str, Any], nodes: dict[str, Node], harbor_nodes: tuple[Node, ...], cluster: str) -> LoadBalancer:
    tls = spec.get("tls")
    return LoadBalancer(
        node=spec["node"],
        address=nodes[spec["node"]].address,
        listen=spec["listen"],
        server_name=spec["server_name"],
        stickiness=spec["stickiness"],
        timeout=spec["timeout"],
        image=spec["image"],
        tls=Tls(**tls) if tls else None,
        upstreams=harbor_nodes,
        upstream_name=f"harbor_{cluster}",
    )
