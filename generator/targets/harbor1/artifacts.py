"""The files of a Harbor 1.1.2 cluster: laid over the installer directory (templates/harbor/), the MySQL
database (templates/database/), and the cluster's RUNBOOK and gc.sh."""

from __future__ import annotations

from ...artifacts import Artifact, ansible
from ...artifacts.catalogue import ClusterFile, Install, Row, RunsFromBundle, When, script, under
from ...artifacts.cluster import runbook_values
from ...artifacts.harbor_node import REINSTALLS, REINSTALLS_EVERY_NODE, holding, installer_dir
from ...model import Cluster, Node
from ...review.impacts import Action, Impact
from . import galera
from .model import own

INSTALLER = "harbor/"


def _laid_over(path: str) -> Install:
    """A file of harbor/ in the bundle goes to the same place in the installer directory."""
    return under(installer_dir, path.removeprefix(INSTALLER))


def _compose_values(cluster: Cluster, node: Node, bundle: dict[str, Artifact]) -> dict:
    return {"log_host_dir": cluster.log_host_dir(node)}


def _cfg_values(cluster: Cluster, node: Node, bundle: dict[str, Artifact]) -> dict:
    return {"ldap": own(cluster).harbor.ldap_settings}


def _harbor_row(path: str, template: str, differ: str, impacts=REINSTALLS, contexts=(), values=None) -> Row:
    return Row(path, template, ("harbor",), differ, impacts, _laid_over(path), contexts=contexts, values=values)


SECRETKEY = "shared/secretkey"


def _secretkey_path(cluster: Cluster, node: Node) -> str:
    return f"{cluster.cephfs.data_root}/secretkey"


ROWS = (
    _harbor_row("harbor/docker-compose.yml", "harbor/docker-compose.yml.j2", "yaml", values=_compose_values),
    _harbor_row("harbor/harbor.cfg", "harbor/harbor.cfg.j2", "ini", contexts=("ini", "compose-env"), values=_cfg_values),
    _harbor_row("harbor/common/templates/adminserver/env", "harbor/adminserver-env.j2", "env"),
    _harbor_row("harbor/common/templates/registry/config.yml", "harbor/registry-config.yml.j2", "yaml",
                REINSTALLS_EVERY_NODE, contexts=("template", "yaml-plain")),
    _harbor_row("harbor/common/templates/ui/private_key.pem", "secrets/whole-file.j2", "secret",
                REINSTALLS_EVERY_NODE, contexts=("rsa-private-key",), values=holding("token_private_key")),
    _harbor_row("harbor/common/templates/registry/root.crt", "secrets/whole-file.j2", "secret",
                REINSTALLS_EVERY_NODE, contexts=("certificate",), values=holding("token_certificate")),
    # Put on CephFS before the first start, so that no prepare run races to make one.
    Row(SECRETKEY, "harbor/secretkey.j2", ("harbor",), "secret", REINSTALLS_EVERY_NODE,
        Install(_secretkey_path, When.SHARED),
        contexts=("secretkey",), values=holding("secretkey")),
    # Replaces ./install.sh: refuses an unmounted node, locks prepare's output down.
    script("install-harbor.sh", "install-harbor.sh", ("harbor",), "the operator, after apply.sh"),
    # For a node that ran single-node Harbor with its own harbor-db: moves that data to the cluster's database.
    script("database/migrate-harbor-db.sh", "migrate-harbor-db.sh", ("harbor",), "the operator, once, by hand"),
    Row("database/create-database.sql", "database/create-database.sql.j2", ("database",), "sql",
        (Impact(Action.RUN_DATABASE_SQL),), RunsFromBundle("apply.sh, through the mysql client"), contexts=("sql",)),
    script("database/load-schema.sh", "load-schema.sh", ("database",), "apply.sh --schema"),
    *galera.ROWS,
)


CLUSTER_FILES = (
    ClusterFile("RUNBOOK.md", "cluster/RUNBOOK.md.j2", "text", runbook_values),
    ClusterFile("gc.sh", "scripts/gc.sh", "text"),
    ClusterFile("values.sh", "cluster/values.sh.j2", "values"),
    *ansible.CLUSTER_FILES,
)

# Host directories of the compose file's volumes, below the CephFS data root.
DATA_DIRECTORIES = ("registry", "config", "ca_download", "job_logs", "cert")


def bundle_values(cluster: Cluster, node: Node) -> dict:
    """What values.sh of a 1.1.2 bundle holds beyond what every target's does."""
    directories = [f"{cluster.cephfs.data_root}/{name}" for name in DATA_DIRECTORIES]
    directories += [cluster.log_host_dir(node)] if node.has("harbor") else []
    return {
        "harbor_directories": directories,
        "data_volume": "",
        "with_trivy": "",
        "seeded_files": (),
        "secretkey_path": _secretkey_path(cluster, node),
        "secretkey_name": cluster.harbor.secretkey.name,
        "patroni_values": None,  # a 1.1.2 database is never Patroni
    }
