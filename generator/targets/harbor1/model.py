"""The model of a Harbor 1.1.2 cluster: its settings, its MySQL database, the CephFS tree it shares whole."""

from __future__ import annotations

from typing import Any

from ...formats import split_http_url
from ...model import (
    Cluster,
    Database,
    Email,
    HarborSettings,
    Ldap,
    Mount,
    Node,
    cephfs_of,
    load_balancer_of,
    nodes_of,
    secret_ref,
)


def build(document: dict[str, Any]) -> Cluster:
    nodes = nodes_of(document)
    by_name = {node.name: node for node in nodes}
    harbor_nodes = tuple(node for node in nodes if node.has("harbor"))
    cephfs = document["cephfs"]
    harbor_root = Mount(f"/{cephfs['harbor_dir']}", f"{cephfs['mount_point']}/{cephfs['harbor_dir']}")
    # With ui_url_protocol = https every node's own nginx redirects plain
    # http to https, so the balancer must speak TLS to the nodes.
    upstream = ("https", 443) if "tls" in document["load_balancer"] else ("http", 80)
    return Cluster(
        name=document["cluster"],
        harbor=_harbor(document["harbor"]),
        cephfs=cephfs_of(cephfs, document["cluster"], (harbor_root,), ()),
        database=_database(document["database"], by_name),
        load_balancer=load_balancer_of(document["load_balancer"], by_name, harbor_nodes, document["cluster"], upstream),
        nodes=nodes,
    )


def _harbor(spec: dict[str, Any]) -> HarborSettings:
    scheme, host, port = split_http_url(spec["external_url"])
    email = spec["email"]
    return HarborSettings(
        version=spec["version"],
        scheme=scheme,
        hostname=f"{host}:{port}" if port is not None else host,
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


def _database(spec: dict[str, Any], nodes: dict[str, Node]) -> Database:
    return Database(
        node=spec["node"],
        address=nodes[spec["node"]].address,
        port=spec["port"],
        name=spec["name"],
        user=spec["user"],
        password=secret_ref(spec["password"]),
    )
