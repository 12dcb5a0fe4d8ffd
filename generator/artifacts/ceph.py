"""CephFS files: the mount on Harbor nodes, the bootstrap on the ceph-admin node (templates/ceph/)."""

from __future__ import annotations

from ..model import Cluster, Node
from ..templating import Renderer
from . import Artifact, plain_script, render_template


def render_mount_script(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return plain_script(renderer, "mount-cephfs.sh", "ceph/mount-cephfs.sh")


def render_client_secret(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(
        renderer, cluster, node, "secrets/whole-file.j2", f"ceph/{cluster.cephfs.client}.secret",
        secret=cluster.cephfs.key,
    )


def render_client_conf(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact | None:
    """ceph-fuse takes its monitors from a configuration file; the kernel client from the mount source."""
    if not cluster.cephfs.fuse:
        return None
    return render_template(renderer, cluster, node, "ceph/client.conf.j2", "ceph/client.conf")


def render_bootstrap_script(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return plain_script(renderer, "bootstrap-cephfs.sh", "ceph/bootstrap-cephfs.sh")


MOUNT_ARTIFACTS = (render_mount_script, render_client_secret, render_client_conf)
ADMIN_ARTIFACTS = (render_bootstrap_script,)
