"""CephFS files: the mount on Harbor nodes, the bootstrap on the ceph-admin node (templates/ceph/)."""

from __future__ import annotations

from ..model import Cluster, Node
from ..review.impacts import Action, Impact
from . import Artifact
from .catalogue import Install, Row, When, script

# A node reads its key and its client configuration only when it mounts.
REMOUNTS = (Impact(Action.REMOUNT),)


def _key(cluster: Cluster, node: Node, bundle: dict[str, Artifact]) -> dict:
    return {"secret": cluster.cephfs.key}


def _uses_fuse(cluster: Cluster, node: Node) -> bool:
    """ceph-fuse takes its monitors from a configuration file; the kernel client from the mount source."""
    return cluster.cephfs.fuse


MOUNT_ROWS = (
    script("ceph/mount-cephfs.sh", "mount-cephfs.sh", ("harbor",), "apply.sh"),
    Row("ceph/{client}.secret", "secrets/whole-file.j2", ("harbor",), "secret", REMOUNTS,
        Install(lambda cluster, node: cluster.cephfs.secret_file, When.BEFORE_MOUNT), contexts=("cephx-key",), values=_key),
    Row("ceph/client.conf", "ceph/client.conf.j2", ("harbor",), "ini", REMOUNTS,
        Install(lambda cluster, node: cluster.cephfs.conf_file, When.BEFORE_MOUNT), when=_uses_fuse),
)
ADMIN_ROWS = (
    script("ceph/bootstrap-cephfs.sh", "bootstrap-cephfs.sh", ("ceph-admin",), "the operator, once, on the ceph-admin node",
           (Impact(Action.BOOTSTRAP_CEPH),)),
)
