"""Rules that relate one part of a structurally valid topology to another.

One small function per rule; each returns the problems it finds, and each
message names both ends of the broken reference so the operator can decide
which end is wrong. Every target's rules are here (SHARED); a target's own are
in its package (``Target.crosschecks``) and run after these.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from .artifacts.catalogue import CLUSTER_FOLDERS
from .documents import GROUPS, CrossCheck, Document, group_nodes, nodes_with, secret_references
from .errors import Diagnostic
from .formats import is_ipv4, split_http_url
from .loader import Located
from .model import cephx_secret_name, default_log_dir
from .secrets.managed import TOKEN_PAIR
from .targets import TARGETS, Feature, Target, target_for_version, versions_with


def _target(document: Document) -> Target:
    return target_for_version(document["harbor"]["version"])


# How the messages call one machine and a group of each section.
_NOUNS = {"load_balancer": ("load balancer", "pair"), "database": ("database server", "replicated database")}


def _referenced(document: Document) -> Iterator[tuple[tuple, str, str]]:
    """(path, node name, role) of every node a section names for its role."""
    redis = document.get("redis", {})
    if "node" in redis:
        yield ("redis", "node"), redis["node"], "redis"
    for index, name in enumerate(redis.get("nodes", ())):
        yield ("redis", "nodes", index), name, "redis"
    for section, role in GROUPS.items():
        for path, name in group_nodes(document, section):
            yield path, name, role


def referenced_nodes_hold_their_role(document: Document, located: Located) -> Iterator[Diagnostic]:
    for path, name, role in _referenced(document):
        node = document["nodes"].get(name)
        if node is None:
            yield located.diagnostic(path, f"names node {name!r}, which is not in nodes (expected one of: {', '.join(sorted(document['nodes']))})")
        elif role not in node["roles"]:
            yield located.diagnostic(path, f"names node {name!r}, but nodes.{name}.roles has no {role!r} (expected the node that holds the {role} role)")


def only_named_nodes_hold_group_roles(document: Document, located: Located) -> Iterator[Diagnostic]:
    """A database or load-balancer machine the section does not name would get a bundle nobody uses."""
    for section, role in GROUPS.items():
        named = {name for _, name in group_nodes(document, section)}
        expected = (f"the node named in {section}.node, or every {_NOUNS[section][0]} in {section}.nodes"
                    if "node" in document[section] else f"the nodes of {section}.nodes")
        for name in nodes_with(document, role):
            if name not in named:
                yield located.diagnostic(
                    ("nodes", name, "roles"),
                    f"node {name!r} holds the {role!r} role, but the {section} section does not name it (expected only {expected})",
                )


def one_machine_or_a_group(document: Document, located: Located) -> Iterator[Diagnostic]:
    """node for one machine; nodes with the floating address and how VRRP moves it, for a group."""
    for section in GROUPS:
        yield from _one_machine_or_a_group(document, located, section)


def _one_machine_or_a_group(document: Document, located: Located, section: str) -> Iterator[Diagnostic]:
    spec, (one, group) = document[section], _NOUNS[section]
    if ("node" in spec) == ("nodes" in spec):
        yield located.diagnostic(
            (section,),
            "names " + ("both node and nodes" if "node" in spec else "neither node nor nodes")
            + f" (expected node for one {one}, or nodes with virtual_address and vrrp for a {group})",
            of_key=True,
        )
        return
    if "node" in spec:
        for key in ("virtual_address", "vrrp"):
            if key in spec:
                yield located.diagnostic((section, key), f"is set with a single {one} node (expected nodes: a floating address needs two machines or more)", of_key=True)
        return
    for key in ("virtual_address", "vrrp"):
        if key not in spec:
            yield located.diagnostic((section,), f"missing {key!r} while {section}.nodes names a {group} (expected the floating address and how VRRP moves it)", of_key=True)
    yield from _vip_is_no_nodes_address(document, located, section)
    yield from _priorities_name_the_group(document, located, section)


def _vip_is_no_nodes_address(document: Document, located: Located, section: str) -> Iterator[Diagnostic]:
    vip, one = document[section].get("virtual_address"), _NOUNS[section][0]
    for name, node in document["nodes"].items():
        if node["address"] == vip:
            yield located.diagnostic(
                (section, "virtual_address"),
                f"{vip} is the address of node {name!r} (expected an address of its own, which only the {one} holding it answers on)",
            )


def groups_keep_apart(document: Document, located: Located) -> Iterator[Diagnostic]:
    """The load-balancer pair and the replicated database each need a floating address and a VRRP router id of their own."""
    balancer, database = document["load_balancer"], document["database"]
    if "vrrp" not in balancer or "vrrp" not in database:
        return
    if balancer.get("virtual_address") == database.get("virtual_address"):
        yield located.diagnostic(("database", "virtual_address"), f"{database['virtual_address']} is also load_balancer.virtual_address (expected one floating address per group)")
    router_id = database["vrrp"]["virtual_router_id"]
    if router_id == balancer["vrrp"]["virtual_router_id"]:
        yield located.diagnostic(
            ("database", "vrrp", "virtual_router_id"),
            f"{router_id} is also load_balancer.vrrp.virtual_router_id (expected another id: two VRRP groups with one id on a "
            f"segment take each other's adverts; set database.vrrp.virtual_router_id, for example to {router_id % 255 + 1})",
        )


def _priorities_name_the_group(document: Document, located: Located, section: str) -> Iterator[Diagnostic]:
    spec = document[section]
    priorities = spec.get("vrrp", {}).get("priorities", {})
    for name in priorities:
        if name not in spec["nodes"]:
            yield located.diagnostic((section, "vrrp", "priorities", name), f"names {name!r}, which is not in {section}.nodes (expected one of: {', '.join(spec['nodes'])})", of_key=True)
    missing = [name for name in spec["nodes"] if name not in priorities]
    if priorities and missing:
        yield located.diagnostic((section, "vrrp", "priorities"), f"gives no priority to {', '.join(map(repr, missing))} (expected one for every node of {section}.nodes, or none for the defaults)", of_key=True)
    seen: dict[int, str] = {}
    for name, priority in priorities.items():
        if priority in seen:
            yield located.diagnostic((section, "vrrp", "priorities", name), f"{priority} is also the priority of {seen[priority]!r} (expected distinct priorities: a tie is broken by address, which nobody reviews)")
        seen[priority] = name


def at_least_one_harbor_node(document: Document, located: Located) -> Iterator[Diagnostic]:
    if not nodes_with(document, "harbor"):
        yield located.diagnostic(("nodes",), "no node holds the 'harbor' role (expected at least one)")


def at_most_one_ceph_admin(document: Document, located: Located) -> Iterator[Diagnostic]:
    admins = nodes_with(document, "ceph-admin")
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
    vip = balancer.get("virtual_address")
    if vip and host == balancer["server_name"] and host != vip and is_ipv4(host):
        yield located.diagnostic(
            ("load_balancer", "server_name"),
            f"{host!r} is an address other than load_balancer.virtual_address {vip!r} (expected the floating address, or a name that resolves to it)",
        )
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


def load_balancer_port_free_on_harbor_node(document: Document, located: Located) -> Iterator[Diagnostic]:
    balancer = document["load_balancer"]
    published = _target(document).published_ports(document)
    for _, name in group_nodes(document, "load_balancer"):
        node = document["nodes"].get(name)
        if node and "harbor" in node["roles"] and balancer["listen"] in published:
            yield located.diagnostic(
                ("load_balancer", "listen"),
                f"port {balancer['listen']} is published by Harbor's own proxy on node {name!r}, which also holds the 'harbor' role "
                f"(expected a port other than {', '.join(map(str, published))})",
            )


def redis_role_only_where_used(document: Document, located: Located) -> Iterator[Diagnostic]:
    target = _target(document)
    if target.has(Feature.REDIS):
        return
    versions = " or ".join(f'"{version}"' for version in versions_with(Feature.REDIS))
    for name in nodes_with(document, "redis"):
        yield located.diagnostic(
            ("nodes", name, "roles"),
            f"node {name!r} holds the 'redis' role, which Harbor {target.version} does not use (expected harbor.version {versions} for a cluster with Redis)",
        )


def node_names_are_not_cluster_folders(document: Document, located: Located) -> Iterator[Diagnostic]:
    for name in document.get("nodes", {}):
        if name in CLUSTER_FOLDERS:
            yield located.diagnostic(("nodes", name), f"is the name of a folder of every render, beside the bundles "
                                     f"(expected another node name, not one of: {', '.join(sorted(CLUSTER_FOLDERS))})", of_key=True)


def secret_names_are_not_reserved(document: Document, located: Located) -> Iterator[Diagnostic]:
    # One namespace for every target: a topology keeps its names when it moves to another version.
    managed = {secret.name for target in TARGETS.values() for secret in target.managed_secrets}
    reserved = managed | set(TOKEN_PAIR) | {cephx_secret_name(document["cephfs"]["client"])}
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


SHARED: tuple[CrossCheck, ...] = (
    referenced_nodes_hold_their_role,
    only_named_nodes_hold_group_roles,
    one_machine_or_a_group,
    groups_keep_apart,
    at_least_one_harbor_node,
    at_most_one_ceph_admin,
    addresses_are_unique,
    external_url_is_the_load_balancer,
    tls_goes_with_https,
    mds_entries_are_nodes,
    log_dirs_are_per_node,
    load_balancer_port_free_on_harbor_node,
    secret_names_are_not_reserved,
    node_names_are_not_cluster_folders,
    redis_role_only_where_used,
    each_rule_is_accepted_once,
    harbor_paths_are_not_system_directories,
)


def run_all(document: Document, located: Located) -> list[Diagnostic]:
    checks = (*SHARED, *_target(document).crosschecks)
    return [problem for check in checks for problem in check(document, located)]
