"""Rules that relate one part of a structurally valid topology to another.

One small function per rule; each returns the problems it finds, and each
message names both ends of the broken reference so the operator can decide
which end is wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from .conventions import cephx_secret_name, default_log_dir, generated_secret_names
from .errors import Diagnostic
from .formats import split_http_url
from .loader import Located
from .targets import Feature, Target, target_for_version, versions_with

Document = dict[str, Any]
Rule = Callable[[Document, Located], Iterator[Diagnostic]]


def _nodes_with(document: Document, role: str) -> list[str]:
    return [name for name, node in document["nodes"].items() if role in node["roles"]]


def _target(document: Document) -> Target:
    return target_for_version(document["harbor"]["version"])


def referenced_nodes_hold_their_role(document: Document, located: Located) -> Iterator[Diagnostic]:
    for section, role in (("database", "database"), ("load_balancer", "load-balancer"), ("redis", "redis")):
        name = document.get(section, {}).get("node")
        if name is None:
            continue
        node = document["nodes"].get(name)
        path = (section, "node")
        if node is None:
            yield located.diagnostic(path, f"names node {name!r}, which is not in nodes (expected one of: {', '.join(sorted(document['nodes']))})")
        elif role not in node["roles"]:
            yield located.diagnostic(path, f"names node {name!r}, but nodes.{name}.roles has no {role!r} (expected the node that holds the {role} role)")


def exactly_one_database_and_load_balancer(document: Document, located: Located) -> Iterator[Diagnostic]:
    for role, section in (("database", "database"), ("load-balancer", "load_balancer")):
        holders = _nodes_with(document, role)
        if len(holders) > 1:
            for name in holders[1:]:
                yield located.diagnostic(
                    ("nodes", name, "roles"),
                    f"node {name!r} holds the {role!r} role, and so does {holders[0]!r} (expected exactly one, the node named in {section}.node)",
                )


def at_least_one_harbor_node(document: Document, located: Located) -> Iterator[Diagnostic]:
    if not _nodes_with(document, "harbor"):
        yield located.diagnostic(("nodes",), "no node holds the 'harbor' role (expected at least one)")


def at_most_one_ceph_admin(document: Document, located: Located) -> Iterator[Diagnostic]:
    admins = _nodes_with(document, "ceph-admin")
    for name in admins[1:]:
        yield located.diagnostic(
            ("nodes", name, "roles"),
            f"node {name!r} holds the 'ceph-admin' role, and so does {admins[0]!r} (expected at most one node that bootstraps the CephFS)",
        )


def addresses_are_unique(document: Document, located: Located) -> Iterator[Diagnostic]:
    owners: dict[str, list[str]] = defaultdict(list)
    for name, node in document["nodes"].items():
        owners[node["address"]].append(name)
    for address, names in owners.items():
        for name in names[1:]:
            yield located.diagnostic(
                ("nodes", name, "address"),
                f"address {address} is also the address of node {names[0]!r} (expected one address per node; give one node several roles instead)",
            )


def external_url_is_the_load_balancer(document: Document, located: Located) -> Iterator[Diagnostic]:
    url = document["harbor"]["external_url"]
    scheme, host, port = split_http_url(url)
    balancer = document["load_balancer"]
    if host != balancer["server_name"]:
        yield located.diagnostic(
            ("harbor", "external_url"),
            f"host {host!r} differs from load_balancer.server_name {balancer['server_name']!r} "
            "(expected the load balancer's name: clients, tokens and EXT_ENDPOINT must all go through it)",
        )
    effective_port = port if port is not None else (443 if scheme == "https" else 80)
    if effective_port != balancer["listen"]:
        yield located.diagnostic(
            ("harbor", "external_url"),
            f"port {effective_port} differs from load_balancer.listen {balancer['listen']} (expected the port the load balancer listens on)",
        )


def tls_goes_with_https(document: Document, located: Located) -> Iterator[Diagnostic]:
    scheme = split_http_url(document["harbor"]["external_url"])[0]
    has_tls = "tls" in document["load_balancer"]
    if scheme == "https" and not has_tls:
        yield located.diagnostic(
            ("load_balancer",),
            "missing 'tls' while harbor.external_url is https (expected tls.certificate and tls.certificate_key)",
            of_key=True,
        )
    if scheme == "http" and has_tls:
        yield located.diagnostic(
            ("load_balancer", "tls"),
            "is set while harbor.external_url is http (expected an https external_url, or no tls)",
            of_key=True,
        )


def mds_entries_are_nodes(document: Document, located: Located) -> Iterator[Diagnostic]:
    for index, name in enumerate(document["cephfs"]["mds"]):
        if name not in document["nodes"]:
            yield located.diagnostic(
                ("cephfs", "mds", index),
                f"names node {name!r}, which is not in nodes (expected one of: {', '.join(sorted(document['nodes']))})",
            )


def log_dirs_are_per_node(document: Document, located: Located) -> Iterator[Diagnostic]:
    target = _target(document)
    if not target.has(Feature.LOGS_ON_CEPHFS):
        for name, node in document["nodes"].items():
            if "log_dir" in node:
                yield located.diagnostic(
                    ("nodes", name, "log_dir"),
                    f"is for Harbor {' or '.join(versions_with(Feature.LOGS_ON_CEPHFS))} nodes "
                    f"(expected no log_dir: Harbor {target.version} keeps each node's logs in its own /var/log/harbor)",
                    of_key=True,
                )
        return
    claimed: dict[str, str] = {}
    for name, node in document["nodes"].items():
        if "harbor" not in node["roles"]:
            if "log_dir" in node:
                yield located.diagnostic(("nodes", name, "log_dir"), "is set on a node without the 'harbor' role (expected only on Harbor nodes)", of_key=True)
            continue
        log_dir = node.get("log_dir", default_log_dir(name))
        path = ("nodes", name, "log_dir")
        if log_dir == "data" or log_dir.startswith("data/"):
            yield located.diagnostic(path, f"{log_dir!r} is inside the shared data directory (expected a directory of its own, such as {default_log_dir(name)!r})")
        for other, other_dir in claimed.items():
            if _overlaps(log_dir, other_dir):
                yield located.diagnostic(
                    path,
                    f"log directory {log_dir!r} overlaps {other_dir!r} of node {other!r} (expected one log directory per node: nodes must never share logs)",
                )
        claimed[name] = log_dir


def _overlaps(first: str, second: str) -> bool:
    return first == second or first.startswith(second + "/") or second.startswith(first + "/")


def ldap_settings_match_auth_mode(document: Document, located: Located) -> Iterator[Diagnostic]:
    harbor = document["harbor"]
    if not _target(document).has(Feature.SETTINGS_IN_CONFIG):
        return  # Harbor 2.x keeps authentication in its database, set in the UI
    ldap = harbor.get("ldap")
    if harbor["auth_mode"] == "ldap_auth" and ldap is None:
        yield located.diagnostic(("harbor", "auth_mode"), "is ldap_auth but harbor.ldap is missing (expected harbor.ldap with url and base_dn)")
    if ldap is not None and ("search_dn" in ldap) != ("search_password" in ldap):
        given, missing = ("search_dn", "search_password") if "search_dn" in ldap else ("search_password", "search_dn")
        yield located.diagnostic(("harbor", "ldap", given), f"is set without harbor.ldap.{missing} (expected both or neither)", of_key=True)


def load_balancer_port_free_on_harbor_node(document: Document, located: Located) -> Iterator[Diagnostic]:
    balancer = document["load_balancer"]
    node = document["nodes"].get(balancer["node"])
    published = _target(document).published_ports(document)
    if node and "harbor" in node["roles"] and balancer["listen"] in published:
        yield located.diagnostic(
            ("load_balancer", "listen"),
            f"port {balancer['listen']} is published by Harbor's own proxy on node {balancer['node']!r}, which also holds the 'harbor' role "
            f"(expected a port other than {', '.join(map(str, published))})",
        )


def redis_role_only_where_used(document: Document, located: Located) -> Iterator[Diagnostic]:
    target = _target(document)
    if target.has(Feature.REDIS):
        return
    versions = " or ".join(f'"{version}"' for version in versions_with(Feature.REDIS))
    for name in _nodes_with(document, "redis"):
        yield located.diagnostic(
            ("nodes", name, "roles"),
            f"node {name!r} holds the 'redis' role, which Harbor {target.version} does not use (expected harbor.version {versions} for a cluster with Redis)",
        )


def redis_is_one_endpoint(document: Document, located: Located) -> Iterator[Diagnostic]:
    redis = document.get("redis")
    if redis is None:
        return
    given = [key for key in ("node", "host") if key in redis]
    if len(given) == 2:
        yield located.diagnostic(("redis", "host"), "is set together with redis.node (expected one of them: a node of the topology, or a host outside it)", of_key=True)
    elif not given and "sentinel" not in redis:
        yield located.diagnostic(("redis",), "names no Redis (expected redis.node, redis.host, or redis.sentinel)", of_key=True)
    if "sentinel" in redis and "host" in redis:
        yield located.diagnostic(
            ("redis", "host"),
            "is set together with redis.sentinel (expected no host: with Sentinel, Harbor asks the sentinels where the master is)",
            of_key=True,
        )
    holders = _nodes_with(document, "redis")
    for name in holders:
        if name != redis.get("node"):
            named = f"redis.node is {redis['node']!r}" if "node" in redis else "redis.node is not set"
            yield located.diagnostic(
                ("nodes", name, "roles"),
                f"node {name!r} holds the 'redis' role, but {named} (expected the redis role on the node redis.node names, and only there)",
            )


def redis_cluster_is_refused(document: Document, located: Located) -> Iterator[Diagnostic]:
    if document.get("redis", {}).get("cluster"):
        yield located.diagnostic(
            ("redis", "cluster"),
            "is true, but Harbor does not support Redis Cluster (expected one Redis server, or Redis Sentinel with redis.sentinel)",
        )


def redis_indexes_are_distinct(document: Document, located: Located) -> Iterator[Diagnostic]:
    indexes = document.get("redis", {}).get("indexes")
    if not indexes:
        return
    written = located.data.get("redis", {}).get("indexes") or {}
    # Blame the index the operator wrote, not a default it collides with.
    users = sorted(indexes, key=lambda user: user not in written)
    seen: dict[int, str] = {}
    for user in reversed(users):
        index = indexes[user]
        if index in seen:
            default = "" if seen[index] in written else ", by default"
            yield located.diagnostic(
                ("redis", "indexes", user),
                f"database {index} is also the {seen[index]} database{default} (expected a database of its own: Harbor's services must not share one)",
            )
        seen.setdefault(index, user)


def secret_names_are_not_reserved(document: Document, located: Located) -> Iterator[Diagnostic]:
    reserved = generated_secret_names(cephx_secret_name(document["cephfs"]["client"]))
    for path, name in secret_references(document, ()):
        if name in reserved:
            yield located.diagnostic(
                (*path, "secret"),
                f"{name!r} is the name of a secret harborgen manages itself (expected another name, not one of: {', '.join(sorted(reserved))})",
            )


def each_rule_is_accepted_once(document: Document, located: Located) -> Iterator[Diagnostic]:
    first: dict[str, int] = {}
    for index, entry in enumerate(document.get("lint", {}).get("accept", [])):
        rule = entry["rule"]
        if rule in first:
            line = located.position(("lint", "accept", first[rule], "rule"))[0]
            yield located.diagnostic(
                ("lint", "accept", index, "rule"),
                f"{rule} is accepted a second time (first at line {line}): one entry per rule, with one reason (merge the two)",
            )
        first.setdefault(rule, index)


# Trees nothing of Harbor's may be in or over: the system's own programs, libraries, state.
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys",
                "/usr", "/var/lib/docker", "/var/lib/containerd", "/var/lib/dpkg", "/var/lib/apt", "/var/lib/systemd",
                "/var/run", "/var/cache", "/var/spool")
# Directories that hold others': Harbor's may be inside them, never one of them.
SYSTEM_DIRECTORIES = ("/", "/home", "/root", "/tmp", "/var", "/var/lib", "/var/log", "/var/tmp", "/opt", "/srv", "/mnt", "/media")


def _system_directory(path: str) -> str | None:
    """Why PATH is a system directory, or None."""
    normal = "/" + "/".join(part for part in path.split("/") if part and part != ".")
    for tree in SYSTEM_TREES:
        if normal == tree or normal.startswith(tree + "/"):
            return f"inside {tree}, which belongs to the system"
    if normal in SYSTEM_DIRECTORIES:
        return f"{normal} itself, a directory of the system that holds others'"
    return None


def harbor_paths_are_not_system_directories(document: Document, located: Located) -> Iterator[Diagnostic]:
    harbor, cephfs = document["harbor"], document["cephfs"]
    checks = [(("harbor", "installer_dir"), harbor["installer_dir"], "where the installer is laid over")]
    if _target(document).has(Feature.DATA_VOLUME):
        volume = harbor["data_volume"]
        checks += [(("harbor", "data_volume"), volume, "Harbor's data directory")]
        checks += [(("harbor", "data_volume"), f"{volume}/{name}", "where every Harbor node mounts CephFS") for name in ("registry", "job_logs")]
    else:
        checks += [(("cephfs", "harbor_dir"), f"{cephfs['mount_point']}/{cephfs['harbor_dir']}", "where every Harbor node mounts CephFS")]
    for path, value, what in checks:
        why = _system_directory(value)
        if why:
            yield located.diagnostic(path, f"makes {value} {what}: that is {why} (expected a directory of Harbor's own, such as /mnt/cephfs/harbor or /data)")
            return


def secret_references(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path, name) of every {secret: name} in a document."""
    if isinstance(value, dict):
        if set(value) == {"secret"} and isinstance(value["secret"], str):
            yield path, value["secret"]
            return
        for key, child in value.items():
            yield from secret_references(child, (*path, key))


RULES: tuple[Rule, ...] = (
    referenced_nodes_hold_their_role,
    exactly_one_database_and_load_balancer,
    at_least_one_harbor_node,
    at_most_one_ceph_admin,
    addresses_are_unique,
    external_url_is_the_load_balancer,
    tls_goes_with_https,
    mds_entries_are_nodes,
    log_dirs_are_per_node,
    ldap_settings_match_auth_mode,
    load_balancer_port_free_on_harbor_node,
    secret_names_are_not_reserved,
    redis_role_only_where_used,
    redis_is_one_endpoint,
    redis_cluster_is_refused,
    redis_indexes_are_distinct,
    each_rule_is_accepted_once,
    harbor_paths_are_not_system_directories,
)


def run_all(document: Document, located: Located) -> list[Diagnostic]:
    return [problem for rule in RULES for problem in rule(document, located)]
