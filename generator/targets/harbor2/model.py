"""The model of a Harbor 2.15 cluster: its settings, PostgreSQL, Redis, and the CephFS directories it mounts
on data_volume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import InternalError
from ...formats import split_http_url
from ...model import (
    Cluster,
    HarborSettings,
    Mount,
    Node,
    SecretRef,
    SqlDatabase,
    cephfs_of,
    load_balancer_of,
    nodes_of,
    secret_ref,
    vrrp_of,
)
from ...secrets.managed import ManagedSecret

# What prepare makes at random on every run, pinned to one value for the whole cluster, as long as prepare makes
# them (utils/configs.py:parse_yaml_config, utils/core.py:prepare_core). Harbor's Go code checks the words.
CORE_SECRET = ManagedSecret("harbor_core_secret", 16, ("word",))
JOBSERVICE_SECRET = ManagedSecret("harbor_jobservice_secret", 16, ("word",))
CSRF_KEY = ManagedSecret("harbor_csrf_key", 32, ("csrf-key",))
ROBOT_SCANNER_PREFIX = ManagedSecret("harbor_robot_scanner_prefix", 8, ("word",))
REGISTRY_CREDENTIAL_PASSWORD = ManagedSecret("registry_credential_password", 32)  # core's and jobservice's at the registry
REGISTRY_CREDENTIAL_USER = "harbor_registry_user"  # configs.py: REGISTRY_USER_NAME
PINNED = (CORE_SECRET, JOBSERVICE_SECRET, CSRF_KEY, ROBOT_SCANNER_PREFIX, REGISTRY_CREDENTIAL_PASSWORD)
# Patroni's accounts: in patroni.yml, so in the packs of the database nodes only.
PATRONI_SUPERUSER = ManagedSecret("patroni_superuser_password", 32)  # postgres: Patroni's own connections, pg_rewind
PATRONI_REPLICATION = ManagedSecret("patroni_replication_password", 32)  # the replicas' streaming connections
PATRONI_REST_API = ManagedSecret("patroni_rest_api_password", 32)  # the REST API's changing calls (switchover, restart)
PATRONI_SECRETS = (PATRONI_SUPERUSER, PATRONI_REPLICATION, PATRONI_REST_API)
# Debian 12's PostgreSQL, which Patroni runs: its programs, and a data directory beside the stock cluster's.
PG_MAJOR = 15
PG_BIN_DIR = f"/usr/lib/postgresql/{PG_MAJOR}/bin"


@dataclass(frozen=True, kw_only=True)
class Harbor2Settings(HarborSettings):
    """What becomes the one harbor.yml of every node, and the secrets prepare would make at random."""

    host: str  # the load balancer's host: harbor.yml's hostname
    data_volume: str
    http_port: int
    job_logs: str  # "database" or "shared"
    with_trivy: bool
    log_level: str
    core_secret: SecretRef = SecretRef(CORE_SECRET.name)
    jobservice_secret: SecretRef = SecretRef(JOBSERVICE_SECRET.name)
    csrf_key: SecretRef = SecretRef(CSRF_KEY.name)
    robot_scanner_prefix: SecretRef = SecretRef(ROBOT_SCANNER_PREFIX.name)
    registry_password: SecretRef = SecretRef(REGISTRY_CREDENTIAL_PASSWORD.name)
    registry_user: str = REGISTRY_CREDENTIAL_USER

    @property
    def job_loggers(self) -> tuple[str, ...]:
        return ("DB",) if self.job_logs == "database" else ("FILE",)

    @property
    def shared_directories(self) -> tuple[str, ...]:
        """The directories of data_volume that live on CephFS: never the whole data_volume."""
        return ("registry", "job_logs") if self.job_logs == "shared" else ("registry",)

    @property
    def secret_dir(self) -> str:
        return f"{self.data_volume}/secret"


@dataclass(frozen=True)
class Patroni:
    """How Patroni runs a PostgreSQL cluster: its leader lock in etcd, its timers, its accounts."""

    scope: str  # the cluster's name in etcd
    etcd: tuple[Node, ...]
    synchronous_mode: bool
    ttl: int
    loop_wait: int
    retry_timeout: int
    rest_api_port: int
    data_dir: str
    bin_dir: str = PG_BIN_DIR
    etcd_client_port: int = 2379
    etcd_peer_port: int = 2380
    superuser_password: SecretRef = SecretRef(PATRONI_SUPERUSER.name)
    replication_password: SecretRef = SecretRef(PATRONI_REPLICATION.name)
    rest_api_password: SecretRef = SecretRef(PATRONI_REST_API.name)

    def rest_api(self, node: Node) -> str:
        return f"{node.address}:{self.rest_api_port}"

    def etcd_member(self, node: Node) -> bool:
        return node in self.etcd

    @property
    def etcd_initial_cluster(self) -> str:
        """etcd's INITIAL_CLUSTER: every member's name and peer URL."""
        return ",".join(f"{member.name}=http://{member.address}:{self.etcd_peer_port}" for member in self.etcd)


@dataclass(frozen=True, kw_only=True)
class PostgreSQL(SqlDatabase):
    """The PostgreSQL Harbor 2.15's core, jobservice and exporter use: one server, or a Patroni cluster
    whose floating address (address) only the leader holds."""

    ssl_mode: str
    max_idle_conns: int
    max_open_conns: int
    connection_limit: int
    patroni: Patroni | None = None

    @property
    def engine(self) -> str:  # type: ignore[override]  # a Patroni cluster is set up differently
        return "patroni" if self.patroni else "postgresql"

    @property
    def hba_type(self) -> str:
        # Anything but sslmode=disable means Harbor speaks TLS: let the server insist on it too.
        return "host" if self.ssl_mode == "disable" else "hostssl"


@dataclass(frozen=True)
class Sentinel:
    master_set: str
    hosts: tuple[str, ...]
    # Of the sentinels harborgen renders (redis.nodes): how they watch the set.
    port: int
    quorum: int
    down_after_milliseconds: int
    failover_timeout: int

    @property
    def settings(self) -> tuple[str, ...]:
        """What SENTINEL SET takes, in pairs: the settings apply.sh gives a running sentinel."""
        return ("quorum", str(self.quorum), "down-after-milliseconds", str(self.down_after_milliseconds),
                "failover-timeout", str(self.failover_timeout))


@dataclass(frozen=True)
class Redis:
    node: str | None
    nodes: tuple[Node, ...]  # a Sentinel set harborgen renders: each a Redis server and a sentinel
    host: str | None  # None with Sentinel only
    port: int
    password: SecretRef
    sentinel: Sentinel | None
    registry_index: int
    jobservice_index: int
    trivy_index: int
    idle_timeout_seconds: int

    @property
    def address(self) -> str:
        """harbor.yml's external_redis.host: HOST:PORT, or the sentinels' addresses."""
        if self.sentinel:
            return ",".join(self.sentinel.hosts)
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Harbor2Cluster(Cluster):
    harbor: Harbor2Settings
    database: PostgreSQL
    redis: Redis

    def services(self) -> tuple[tuple[str, str], ...]:
        names = (self.redis.node,) if self.redis.node else tuple(node.name for node in self.redis.nodes)
        return super().services() + tuple(("Redis", name) for name in names)

    def template_names(self) -> dict[str, Any]:
        return {"redis": self.redis}


def own(cluster: Cluster) -> Harbor2Cluster:
    """The cluster as this target built it: what its own rules and rows are handed."""
    if not isinstance(cluster, Harbor2Cluster):
        raise InternalError(f"Harbor 2.15's own code was handed a {type(cluster).__name__}")
    return cluster


def build(document: dict[str, Any]) -> Harbor2Cluster:
    nodes = nodes_of(document)
    by_name = {node.name: node for node in nodes}
    harbor_nodes = tuple(node for node in nodes if node.has("harbor"))
    harbor = _harbor(document["harbor"])
    cephfs_dir = f"/{document['cephfs']['harbor_dir']}"
    mounts = tuple(Mount(f"{cephfs_dir}/{name}", f"{harbor.data_volume}/{name}") for name in harbor.shared_directories)
    return Harbor2Cluster(
        name=document["cluster"],
        harbor=harbor,
        cephfs=cephfs_of(document["cephfs"], document["cluster"], mounts, harbor.shared_directories),
        database=_postgresql(document["database"], by_name, document["cluster"]),
        load_balancer=load_balancer_of(
            document["load_balancer"], by_name, harbor_nodes, document["cluster"], ("http", harbor.http_port)
        ),
        nodes=nodes,
        redis=_redis(document["redis"], by_name),
    )


def _harbor(spec: dict[str, Any]) -> Harbor2Settings:
    scheme, host, _ = split_http_url(spec["external_url"])
    return Harbor2Settings(
        version=spec["version"],
        scheme=scheme,
        host=host,
        external_url=spec["external_url"],
        installer_dir=spec["installer_dir"],
        admin_password=secret_ref(spec["admin_password"]),
        data_volume=spec["data_volume"],
        http_port=spec["http_port"],
        job_logs=spec["job_logs"],
        with_trivy=spec["with_trivy"],
        max_job_workers=spec["max_job_workers"],
        log_level=spec["log_level"],
    )


def _postgresql(spec: dict[str, Any], nodes: dict[str, Node], cluster: str) -> PostgreSQL:
    machines = tuple(nodes[name] for name in spec.get("nodes", [spec.get("node")]))
    vrrp = vrrp_of(spec, machines) if len(machines) > 1 else None
    return PostgreSQL(
        node=machines[0].name,
        address=vrrp.virtual_address if vrrp else machines[0].address,
        port=spec["port"],
        name=spec["name"],
        user=spec["user"],
        password=secret_ref(spec["password"]),
        nodes=machines,
        vrrp=vrrp,
        patroni=_patroni(spec["patroni"], machines, nodes, cluster) if vrrp else None,
        ssl_mode=spec["ssl_mode"],
        max_idle_conns=spec["max_idle_conns"],
        max_open_conns=spec["max_open_conns"],
        connection_limit=spec["connection_limit"],
    )


def _patroni(spec: dict[str, Any], machines: tuple[Node, ...], nodes: dict[str, Node], cluster: str) -> Patroni:
    etcd = tuple(nodes[name] for name in spec["etcd"]) if "etcd" in spec else machines
    return Patroni(
        scope=cluster,
        etcd=etcd,
        synchronous_mode=spec["synchronous_mode"],
        ttl=spec["ttl"],
        loop_wait=spec["loop_wait"],
        retry_timeout=spec["retry_timeout"],
        rest_api_port=spec["rest_api_port"],
        data_dir=f"/var/lib/postgresql/{PG_MAJOR}/harborgen-{cluster}",
    )


def _sentinel(spec: dict[str, Any] | None, members: tuple[Node, ...]) -> Sentinel | None:
    if spec is None:
        return None
    port = spec["port"]
    hosts = tuple(f"{member.address}:{port}" for member in members) if members else tuple(spec["hosts"])
    return Sentinel(spec["master_set"], hosts, port, spec.get("quorum", len(hosts) // 2 + 1),
                    spec["down_after_milliseconds"], spec["failover_timeout"])


def _redis(spec: dict[str, Any], nodes: dict[str, Node]) -> Redis:
    node = spec.get("node")
    members = tuple(nodes[name] for name in spec.get("nodes", ()))
    indexes = spec["indexes"]
    return Redis(
        node=node,
        nodes=members,
        host=nodes[node].address if node else spec.get("host"),
        port=spec["port"],
        password=secret_ref(spec["password"]),
        sentinel=_sentinel(spec.get("sentinel"), members),
        registry_index=indexes["registry"],
        jobservice_index=indexes["jobservice"],
        trivy_index=indexes["trivy"],
        idle_timeout_seconds=spec["idle_timeout_seconds"],
    )
