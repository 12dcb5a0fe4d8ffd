"""The model of a Harbor 1.1.2 cluster: its settings, its MySQL database, the CephFS tree it shares whole."""

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


@dataclass(frozen=True, kw_only=True)
class Harbor1Settings(HarborSettings):
    """harbor.cfg: every setting of 1.1.2 lives in it, the ones 2.x moved into its UI too."""

    hostname: str  # host, with ":port" when external_url names one: what clients type
    auth_mode: str
    self_registration: bool
    token_expiration: int
    project_creation_restriction: str
    verify_remote_cert: bool
    email: Email
    ldap: Ldap | None

    @property
    def ui_url(self) -> str:
        return f"{self.scheme}://{self.hostname}"

    @property
    def ldap_settings(self) -> Ldap:
        return self.ldap or STOCK_LDAP

    @property
    def image_tag(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True, kw_only=True)
class MySQL(SqlDatabase):
    """The MySQL (or MariaDB) server Harbor 1.1.2's adminserver, ui and jobservice use: one server, or a
    MariaDB Galera cluster whose floating address (address) only a Synced member holds."""

    gcache_size: str

    @property
    def engine(self) -> str:  # type: ignore[override]  # a Galera cluster is set up differently
        return "galera" if self.vrrp else "mysql"

    @property
    def galera(self) -> bool:
        return self.vrrp is not None


@dataclass(frozen=True)
class Harbor1Cluster(Cluster):
    harbor: Harbor1Settings
    database: MySQL


def own(cluster: Cluster) -> Harbor1Cluster:
    """The cluster as this target built it: what its own rules and rows are handed."""
    if not isinstance(cluster, Harbor1Cluster):
        raise InternalError(f"Harbor 1.1.2's own code was handed a {type(cluster).__name__}")
    return cluster


def build(document: dict[str, Any]) -> Harbor1Cluster:
    nodes = nodes_of(document)
    by_name = {node.name: node for node in nodes}
    harbor_nodes = tuple(node for node in nodes if node.has("harbor"))
    cephfs = document["cephfs"]
    harbor_root = Mount(f"/{cephfs['harbor_dir']}", f"{cephfs['mount_point']}/{cephfs['harbor_dir']}")
    # With ui_url_protocol = https every node's own nginx redirects plain
    # http to https, so the balancer must speak TLS to the nodes.
    upstream = ("https", 443) if "tls" in document["load_balancer"] else ("http", 80)
    return Harbor1Cluster(
        name=document["cluster"],
        harbor=_harbor(document["harbor"]),
        cephfs=cephfs_of(cephfs, document["cluster"], (harbor_root,), ()),
        database=_database(document["database"], by_name),
        load_balancer=load_balancer_of(document["load_balancer"], by_name, harbor_nodes, document["cluster"], upstream),
        nodes=nodes,
    )


def _harbor(spec: dict[str, Any]) -> Harbor1Settings:
    scheme, host, port = split_http_url(spec["external_url"])
    email = spec["email"]
    hostname = f"{host}:{port}" if port is not None else host
    return Harbor1Settings(
        version=spec["version"],
        scheme=scheme,
        hostname=hostname,
        external_url=f"{scheme}://{hostname}",
        installer_dir=spec["installer_dir"],
        admin_password=secret_ref(spec["admin_password"]),
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
            password=secret_ref(email["password"]),
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
        search_password=secret_ref(spec["search_password"]) if "search_password" in spec else None,
        filter=spec.get("filter"),
    )


def _database(spec: dict[str, Any], nodes: dict[str, Node]) -> MySQL:
    machines = tuple(nodes[name] for name in spec.get("nodes", [spec.get("node")]))
    vrrp = vrrp_of(spec, machines) if len(machines) > 1 else None
    return MySQL(
        node=machines[0].name,
        address=vrrp.virtual_address if vrrp else machines[0].address,
        port=spec["port"],
        name=spec["name"],
        user=spec["user"],
        password=secret_ref(spec["password"]),
        nodes=machines,
        vrrp=vrrp,
        gcache_size=spec["gcache_size"],
    )
