"""What every Harbor node gets, whatever its Harbor version (templates/systemd/, templates/scripts/)."""

from __future__ import annotations

from ..impacts import Action, Impact
from .catalogue import Install, Row, When, script

DOCKER_DROPIN = "systemd/docker.service.d/harborgen-cephfs.conf"

ROWS = (
    # docker.service waits for the CephFS mount and never runs without it.
    Row(DOCKER_DROPIN, "systemd/docker-cephfs.conf.j2", ("harbor",), "ini", (Impact(Action.RELOAD_SYSTEMD),),
        Install(lambda cluster, node: "/etc/systemd/system/docker.service.d/harborgen-cephfs.conf", When.BEFORE_MOUNT)),
    # The steps the install scripts of every target share, sourced by them.
    script("install-steps.sh", "install-steps.sh", ("harbor",), "install-harbor.sh (sourced)"),
)
