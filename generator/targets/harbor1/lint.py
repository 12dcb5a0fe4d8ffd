"""Lint rules of Harbor 1.1.2 alone: settings that 2.x moved into its UI, and one MySQL for every job."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...lint.rule import Finding, Rule
from .model import own

if TYPE_CHECKING:
    from ...pipeline import Checked

# MySQL's and MariaDB's default max_connections is 151. Every running job
# worker holds a connection beside the pools of each node's ui, adminserver and
# jobservice: keep all workers of the cluster to about a third of it.
MAX_CLUSTER_JOB_WORKERS = 50


def remote_certificates_unchecked(checked: Checked) -> Iterator[Finding]:
    if not own(checked.cluster).harbor.verify_remote_cert:
        yield Finding(
            ("harbor", "verify_remote_cert"), "replication does not verify the certificates of remote registries",
            "anyone between the registries can read and change what is replicated",
            "set verify_remote_cert: true and give the remote registries certificates the nodes trust",
        )


def open_self_registration(checked: Checked) -> Iterator[Finding]:
    harbor = own(checked.cluster).harbor
    if harbor.self_registration and harbor.auth_mode == "db_auth":
        yield Finding(
            ("harbor", "self_registration"), "anyone who reaches the registry can create an account",
            "every such account may pull public projects and, with project_creation_restriction: everyone, create projects",
            "set self_registration: false and create accounts as an administrator",
        )


def too_many_job_workers(checked: Checked) -> Iterator[Finding]:
    harbor, nodes = checked.cluster.harbor, len(checked.cluster.harbor_nodes)
    if harbor.max_job_workers * nodes > MAX_CLUSTER_JOB_WORKERS:
        yield Finding(
            ("harbor", "max_job_workers"), f"{harbor.max_job_workers} workers on each of {nodes} nodes: {harbor.max_job_workers * nodes} replication jobs at once",
            "each running job holds a database connection: together they can exhaust MySQL's default 151",
            f"keep max_job_workers × Harbor nodes at {MAX_CLUSTER_JOB_WORKERS} or less, or raise max_connections on the database",
        )


def token_outlived_by_a_push(checked: Checked) -> Iterator[Finding]:
    minutes, timeout = own(checked.cluster).harbor.token_expiration, checked.cluster.load_balancer.timeout
    if minutes * 60 < timeout:
        yield Finding(
            ("harbor", "token_expiration"), f"a token lasts {minutes} min, but a layer may take {timeout} s through the load balancer",
            "a slow push of a large layer outlives its token and fails with 401 at the end",
            f"set token_expiration to at least {math.ceil(timeout / 60)} minutes",
        )


def selinux_relabel_on_cephfs(checked: Checked) -> Iterator[Finding]:
    # Only here: harborgen writes 1.1.2's compose file; the stock 2.x one relabels its volumes, and stays as it is.
    if checked.cluster.cephfs.selinux_relabel:
        yield Finding(
            ("cephfs", "selinux_relabel"), "CephFS volumes keep the ':z' relabel suffix",
            "on SELinux-enforcing hosts relabelling a network file system can fail with 'operation not supported'",
            "on such hosts set cephfs.selinux_relabel: false",
        )


def galera_of_two(checked: Checked) -> Iterator[Finding]:
    members = checked.cluster.database.nodes
    if checked.cluster.database.vrrp and len(members) == 2:
        yield Finding(
            ("database", "nodes"), f"the Galera cluster has two members, {members[0].name!r} and {members[1].name!r}",
            "when they lose each other, neither half is a majority and both stop taking writes: two members survive nothing",
            "add a third member to database.nodes",
        )


def galera_of_an_even_number(checked: Checked) -> Iterator[Finding]:
    members = checked.cluster.database.nodes
    if checked.cluster.database.vrrp and len(members) > 2 and len(members) % 2 == 0:
        yield Finding(
            ("database", "nodes"), f"the Galera cluster has {len(members)} members",
            f"a split into two halves of {len(members) // 2} leaves no majority, and the even member adds no failure it survives",
            f"run {len(members) - 1} or {len(members) + 1} members",
        )


RULES: tuple[Rule, ...] = (
    Rule("HG204", "warning", "verify_remote_cert is false",
         "replication then trusts any certificate", remote_certificates_unchecked),
    Rule("HG205", "warning", "self-registration open with db_auth",
         "anyone who reaches the registry gets an account", open_self_registration),
    Rule("HG303", "warning", "more job workers than one database comfortably serves",
         "each running replication job holds a database connection", too_many_job_workers),
    Rule("HG304", "warning", "token_expiration shorter than a push may take",
         "a token that expires mid-push fails the push", token_outlived_by_a_push),
    Rule("HG108", "error", "a Galera cluster of two",
         "Galera takes writes only in a majority: two members stop together when they lose each other", galera_of_two),
    Rule("HG109", "warning", "a Galera cluster of an even number of members",
         "an even member adds no failure the cluster survives, and an even split stops it", galera_of_an_even_number),
    Rule("HG306", "info", "':z' relabel on CephFS volumes",
         "relabelling a network file system can fail on SELinux-enforcing hosts", selinux_relabel_on_cephfs),
)
