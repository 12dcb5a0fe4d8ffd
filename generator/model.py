"""Stage 3: the immutable plan of the cluster, built from a validated topology.

Templates see only these objects, never the raw document; everything a
template would otherwise compute (paths on CephFS, the upstream scheme, the
hostname Harbor advertises) is derived here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .secrets.managed import REGISTRY_HTTP_SECRET, SECRETKEY, TOKEN_CERTIFICATE, TOKEN_PRIVATE_KEY
from .secrets.placeholders import placeholder

ROLE_ORDER = ("harbor", "ceph-admin", "load-balancer", "database", "redis")


@dataclass(frozen=True)
class SecretRef:
    name: str

    @property
    def placeholder(self) -> str:
        return placeholder(self.name)

    @property
    def bcrypt(self) -> str:
        """Where the bcrypt hash of the value lands (an htpasswd line): the same hash on every node."""
        return placeholder(self.name, "bcrypt")

    @property
    def scram(self) -> str:
        """Where PostgreSQL's SCRAM-SHA-256 verifier of the value lands, instead of the value itself."""
        return placeholder(self.name, "scram")


@dataclass(frozen=True, kw_only=True)
class HarborSettings:
    """What every target's Harbor has; a target's settings add their own (kw_only: defaults may come first)."""

    version: str
    scheme: str
    external_url: str  # what clients use: the load balancer's URL
    installer_dir: str
    admin_password: SecretRef
    max_job_workers: int
    secretkey: SecretRef = SecretRef(SECRETKEY.name)
    registry_http_secret: SecretRef = SecretRef(REGISTRY_HTTP_SECRET.name)
    token_private_key: SecretRef = SecretRef(TOKEN_PRIVATE_KEY)
    token_certificate: SecretRef = SecretRef(TOKEN_CERTIFICATE)


@dataclass(frozen=True)
class Mount:
    """One CephFS directory mounted on a Harbor node."""

    source: str  # the directory on CephFS, from its root
    target: str  # where it is mounted on the node


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
    mounts: tuple[Mount, ...]  # what each Harbor node mounts
    subdirectories: tuple[str, ...]  # below harbor_dir, made by the bootstrap: the sources of the mounts

    @property
    def harbor_root(self) -> str:
        """Where each Harbor node mounts the Harbor directory of the CephFS."""
        return f"{self.mount_point}/{self.harbor_dir}"

    @property
    def data_root(self) -> str:
        """What the stock installer calls /data, moved onto CephFS."""
        return f"{self.harbor_root}/data"

    def mount_source(self, mount: Mount) -> str:
        return f"{','.join(self.monitors)}:{mount.source}"

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


@dataclass(frozen=True, kw_only=True)
class SqlDatabase:
    """The external database every Harbor node uses; a target's database adds its own settings."""

    engine: ClassVar[str]  # which set-up apply.sh runs on the database node (values.sh's database_engine)
    node: str
    address: str
    port: int
    name: str
    user: str
    password: SecretRef
    nodes: tuple[Node, ...]  # the one server, or every member of a replicated database
    vrrp: Vrrp | None = None  # how a replicated database moves the address Harbor connects to


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
class Vrrp:
    """How a pair of load balancers moves the floating address (keepalived)."""

    virtual_address: str
    interface: str
    virtual_router_id: int
    advert_int: int
    priorities: tuple[tuple[str, int], ...]  # every member's, in the order of the group's nodes
    members: tuple[Node, ...]

    def priority(self, node: Node) -> int:
        return dict(self.priorities)[node.name]

    def peers(self, node: Node) -> tuple[Node, ...]:
        """The other members, which this one sends its VRRP adverts to (unicast)."""
        return tuple(other for other in self.members if other.name != node.name)


# Priorities of a group's nodes (a load-balancer pair, a replicated database) when the topology gives none: distinct, highest first, and near
# the top of the range, because a BACKUP waits three adverts plus (256 - priority)/256 s before it takes
# the address from a silent MASTER: 150 and 100 cost 0.4-0.6 s of every failover, 254 and 244 under 0.05 s.
DEFAULT_PRIORITIES = (254, 244, 234, 224, 214, 204, 194, 184)


@dataclass(frozen=True)
class LoadBalancer:
    node: str  # the first of nodes: where the RUNBOOK's single-machine steps run
    address: str  # what clients reach: the floating address of a pair, or the one node's address
    listen: int
    server_name: str
    stickiness: str
    timeout: int
    image: str
    tls: Tls | None
    upstreams: tuple[Node, ...]
    upstream_name: str
    upstream_scheme: str
    upstream_port: int
    conf_dir: str  # where apply.sh installs the site; the container mounts the directory, never the file
    nodes: tuple[Node, ...]  # the load-balancer machines: one, or a pair sharing vrrp.virtual_address
    vrrp: Vrrp | None

    def node_url(self, node: Node) -> str:
        """What a Harbor node answers on, as the load balancer reaches it."""
        default = {"http": 80, "https": 443}[self.upstream_scheme]
        port = "" if self.upstream_port == default else f":{self.upstream_port}"
        return f"{self.upstream_scheme}://{node.address}{port}/"


@dataclass(frozen=True)
class Cluster:
    name: str
    harbor: HarborSettings
    cephfs: CephFS
    database: SqlDatabase
    load_balancer: LoadBalancer
    nodes: tuple[Node, ...]

    @property
    def harbor_nodes(self) -> tuple[Node, ...]:
        return tuple(node for node in self.nodes if node.has("harbor"))

    def services(self) -> tuple[tuple[str, str], ...]:
        """(what, node) of every service outside the Harbor nodes that a machine of the topology runs."""
        balancers = tuple(("load balancer", node.name) for node in self.load_balancer.nodes)
        return (*balancers, *(("database", node.name) for node in self.database.nodes))

    def template_names(self) -> dict[str, Any]:
        """What the target's templates may use beside the shared names (a target's cluster adds its parts)."""
        return {}

    def log_host_dir(self, node: Node) -> str:
        """The node's own log directory on CephFS (what the stock file calls /var/log/harbor)."""
        return f"{self.cephfs.harbor_root}/{node.log_dir}"


def default_log_dir(node_name: str) -> str:
    return f"logs/{node_name}"


def cephx_secret_name(client: str) -> str:
    return f"cephx_key_{client.replace('-', '_')}"


def nodes_of(document: dict[str, Any]) -> tuple[Node, ...]:
    """The machines of a document that ``validate`` accepted, by name."""
    return tuple(node_of(name, spec) for name, spec in sorted(document["nodes"].items()))


def node_of(name: str, spec: dict[str, Any]) -> Node:
    roles = tuple(role for role in ROLE_ORDER if role in spec["roles"])
    log_dir = spec.get("log_dir", default_log_dir(name)) if "harbor" in roles else None
    return Node(name=name, address=spec["address"], roles=roles, log_dir=log_dir)


def secret_ref(spec: dict[str, str]) -> SecretRef:
    return SecretRef(spec["secret"])


def cephfs_of(spec: dict[str, Any], cluster: str, mounts: tuple[Mount, ...], subdirectories: tuple[str, ...]) -> CephFS:
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
        mounts=mounts,
        subdirectories=subdirectories,
    )


def load_balancer_of(
    spec: dict[str, Any], nodes: dict[str, Node], harbor_nodes: tuple[Node, ...], cluster: str, upstream: tuple[str, int]
) -> LoadBalancer:
    tls = spec.get("tls")
    machines = tuple(nodes[name] for name in spec.get("nodes", [spec.get("node")]))
    vrrp = vrrp_of(spec, machines) if len(machines) > 1 else None
    return LoadBalancer(
        node=machines[0].name,
        address=vrrp.virtual_address if vrrp else machines[0].address,
        listen=spec["listen"],
        server_name=spec["server_name"],
        stickiness=spec["stickiness"],
        timeout=spec["timeout"],
        image=spec["image"],
        tls=Tls(**tls) if tls else None,
        upstreams=harbor_nodes,
        upstream_name=f"harbor_{cluster}",
        upstream_scheme=upstream[0],
        upstream_port=upstream[1],
        conf_dir=f"/etc/harborgen/{cluster}/nginx/conf.d",
        nodes=machines,
        vrrp=vrrp,
    )


def vrrp_of(spec: dict[str, Any], machines: tuple[Node, ...]) -> Vrrp:
    """How the machines of a group (a load-balancer pair, a replicated database) move its floating address."""
    settings = spec["vrrp"]
    given = settings.get("priorities", {})  # every node's, or none (the cross-checks): then the defaults
    return Vrrp(
        virtual_address=spec["virtual_address"],
        interface=settings["interface"],
        virtual_router_id=settings["virtual_router_id"],
        advert_int=settings["advert_int"],
        priorities=tuple((node.name, given.get(node.name, default)) for node, default in zip(machines, DEFAULT_PRIORITIES, strict=False)),  # the schema allows 8 nodes
        members=machines,
    )
