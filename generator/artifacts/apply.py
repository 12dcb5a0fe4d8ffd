"""apply.sh, the values file and the install list of each bundle (templates/scripts/apply.sh, templates/bundle/)."""

from __future__ import annotations

from ..errors import RenderError
from ..model import ROLE_ORDER, Cluster, Node
from ..review.impacts import Action, Impact
from ..secrets.placeholders import placeholders_in
from . import Artifact
from .catalogue import APPLY_ONLY, Install, Row, RunsFromBundle, When, script

VALUES = "values.sh"
KEEPALIVED_CONF = "keepalived/keepalived.conf"  # a bundle with it runs keepalived (generator/artifacts/keepalived.py)
INSTALL = "INSTALL"


def _secret_files(bundle: dict[str, Artifact]) -> list[str]:
    return sorted(path for path, artifact in bundle.items() if placeholders_in(artifact.content))


def _values(cluster: Cluster, node: Node, bundle: dict[str, Artifact]) -> dict:
    """Rendered after the node's files: it lists those that hold a secret once filled."""
    from ..targets import target_of  # late: the targets are built from these rows

    return {"secret_files": _secret_files(bundle), "keepalived": KEEPALIVED_CONF in bundle,
            **target_of(cluster).bundle_values(cluster, node)}


def _install_list(cluster: Cluster, node: Node, bundle: dict[str, Artifact]) -> dict:
    """Rendered last: where apply.sh puts each file of the bundle, and with which mode, in order."""
    from ..targets import target_of  # late: the targets are built from these rows

    catalogue, secret = target_of(cluster).catalogue, set(_secret_files(bundle))
    entries = []
    for path in bundle:
        install = catalogue.row_for(path).install
        if isinstance(install, Install):
            destination = install.destination(cluster, node)
            if not destination.startswith("/"):
                raise RenderError(f"{node.name}/{path}: destination {destination!r} is not an absolute path")
            mode = "0600" if path in secret else "0755" if bundle[path].executable else "0644"
            entries.append((install.when, mode, path, destination, install.service_user))
    # Before the mount, the shared files on it, then the rest; by path within each.
    entries.sort(key=lambda entry: (list(When).index(entry[0]), entry[2]))
    return {"entries": [(when.value, *rest) for when, *rest in entries]}


# values.sh: every name a script reads; the impacts of a change tell its names apart.
VALUES_IMPACTS = (
    Impact(Action.REINSTALL, key="with_trivy"),  # install-harbor.sh alone reads it (prepare --with-trivy)
    Impact(Action.CREATE_CEPH_CLIENT, key="cephfs_client", role="ceph-admin"),
    Impact(Action.CREATE_CEPH_DIRECTORIES, key="cephfs_subdirectories", role="ceph-admin"),
    Impact(Action.REMOUNT, key="cephfs_client", role="harbor"),
    Impact(Action.REMOUNT, key="cephfs_mount*"),
    Impact(Action.REMOUNT, key="cephfs_secret_file"),
    Impact(Action.REMOUNT, key="cephfs_conf_file"),
    Impact(Action.REMOUNT, key="cephfs_fuse_options"),
    Impact(Action.BOOTSTRAP_CEPH, key="cephfs_data_*"),
    Impact(Action.BOOTSTRAP_CEPH, key="cephfs_metadata_*"),
    Impact(Action.BOOTSTRAP_CEPH, key="cephfs_mds_hosts"),
    Impact(Action.REPLACE_BALANCER, key="balancer_*"),
    Impact(Action.RELOAD_KEEPALIVED, key="keepalived"),
    Impact(Action.APPLY),
)

# Rendered in this order, after every other row of the bundle: values.sh lists the secret-bearing
# files, INSTALL every file apply.sh installs.
ROWS = (
    script("apply.sh", "apply.sh", ROLE_ORDER, "the operator"),
    Row(VALUES, "bundle/values.sh.j2", ROLE_ORDER, "values", VALUES_IMPACTS, RunsFromBundle("every script (sourced)"),
        values=_values),
    Row(INSTALL, "bundle/INSTALL.j2", ROLE_ORDER, "install", APPLY_ONLY, RunsFromBundle("apply.sh"), values=_install_list),
)
