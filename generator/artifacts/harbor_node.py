"""What every Harbor node gets, whatever its Harbor version (templates/systemd/, templates/scripts/)."""

from __future__ import annotations

from ..model import Cluster, Node
from ..review.impacts import Action, Impact
from . import Artifact
from .catalogue import Install, Row, Values, When, script

# What changing a Harbor node's own file costs: its Harbor restarts.
REINSTALLS = (Impact(Action.REINSTALL),)
# Every node must hold the same: they disagree until each one has restarted.
REINSTALLS_EVERY_NODE = (Impact(Action.REINSTALL, cluster_wide=True),)


def installer_dir(cluster: Cluster) -> str:
    return cluster.harbor.installer_dir


def holding(attribute: str) -> Values:
    """The values of a file that is one secret: the harbor setting ATTRIBUTE names."""
    def values(cluster: Cluster, node: Node, bundle: dict[str, Artifact]) -> dict:
        return {"secret": getattr(cluster.harbor, attribute)}

    return values


DOCKER_DROPIN = "systemd/docker.service.d/harborgen-cephfs.conf"

ROWS = (
    # docker.service waits for the CephFS mount and never runs without it.
    Row(DOCKER_DROPIN, "systemd/docker-cephfs.conf.j2", ("harbor",), "ini", (Impact(Action.RELOAD_SYSTEMD),),
        Install(lambda cluster, node: "/etc/systemd/system/docker.service.d/harborgen-cephfs.conf", When.BEFORE_MOUNT)),
    # The steps the install scripts of every target share, sourced by them.
    script("install-steps.sh", "install-steps.sh", ("harbor",), "install-harbor.sh (sourced)"),
)
