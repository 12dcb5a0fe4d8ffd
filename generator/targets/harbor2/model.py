"""The model of a Harbor 2.15 cluster: its settings, PostgreSQL, Redis, and the CephFS directories it mounts
on data_volume."""

from __future__ import annotations

from typing import Any

from ...formats import split_http_url
from ...model import (
    Cluster,
    Harbor2Settings,
    Mount,
    Node,
    PostgreSQL,
    Redis,
    Sentinel,
    cephfs_of,
    load_balancer_of,
    nodes_of,
    secret_ref,
)


def build(document: dict[str, Any]) -> Cluster:
    nodes = nodes_of(document)
    by_name = {node.name: node for node in nodes}
    harbor_nodes = tuple(node for node in nodes if node.has("harbor"))
    harbor = _harbor(document["harbor"])
    cephfs_dir = f"/{document['cephfs']['harbor_dir']}"
    mounts = tuple(Mount(f"{cephfs_dir}/{name}", f"{harbor.data_volume}/{name}") for name in harbor.shared_directories)
    return Cluster(
        name=document["cluster"],
        harbor=harbor,
        cephfs=cephfs_of(document["cephfs"], document["cluster"], mounts, harbor.shared_directories),
        database=_postgresql(document["database"], by_name),
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


def _postgresql(spec: dict[str, Any], nodes: dict[str, Node]) -> PostgreSQL:
    return PostgreSQL(
        node=spec["node"],
        address=nodes[spec["node"]].address,
        port=spec["port"],
        name=spec["name"],
        user=spec["user"],
        password=secret_ref(spec["password"]),
        ssl_mode=spec["ssl_mode"],
        max_idle_conns=spec["max_idle_conns"],
        max_open_conns=spec["max_open_conns"],
        connection_limit=spec["connection_limit"],
    )


def _redis(spec: dict[str, Any], nodes: dict[str, Node]) -> Redis:
    sentinel = spec.get("sentinel")
    node = spec.get("node")
    indexes = spec["indexes"]
    return Redis(
        node=node,
        host=nodes[node].address if node else spec.get("host"),
        port=spec["port"],
        password=secret_ref(spec["password"]),
        sentinel=Sentinel(sentinel["master_set"], tuple(sentinel["hosts"])) if sentinel else None,
        registry_index=indexes["registry"],
        jobservice_index=indexes["jobservice"],
        trivy_index=indexes["trivy"],
        idle_timeout_seconds=spec["idle_timeout_seconds"],
    )
