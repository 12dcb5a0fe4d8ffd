"""The harbor role: files laid over the installer directory (templates/harbor/)."""

from __future__ import annotations

from ..model import Cluster, Node
from ..templating import Renderer
from . import Artifact, plain_script, render_template

DOCKER_DROPIN = "systemd/docker.service.d/harborgen-cephfs.conf"


def render_docker_compose(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(
        renderer, cluster, node, "harbor/docker-compose.yml.j2", "harbor/docker-compose.yml",
        log_host_dir=cluster.log_host_dir(node),
    )


def render_harbor_cfg(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(
        renderer, cluster, node, "harbor/harbor.cfg.j2", "harbor/harbor.cfg", ldap=cluster.harbor.ldap_settings
    )


def render_adminserver_env(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(
        renderer, cluster, node, "harbor/adminserver-env.j2", "harbor/common/templates/adminserver/env"
    )


def render_registry_config(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(
        renderer, cluster, node, "harbor/registry-config.yml.j2", "harbor/common/templates/registry/config.yml"
    )


def render_token_private_key(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(
        renderer, cluster, node, "secrets/whole-file.j2", "harbor/common/templates/ui/private_key.pem",
        secret=cluster.harbor.token_private_key,
    )


def render_token_certificate(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(
        renderer, cluster, node, "secrets/whole-file.j2", "harbor/common/templates/registry/root.crt",
        secret=cluster.harbor.token_certificate,
    )


def render_secretkey(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    """The secretkey apply.sh puts on CephFS before the first start, so no prepare run races to make one."""
    return render_template(
        renderer, cluster, node, "harbor/secretkey.j2", "shared/secretkey", secret=cluster.harbor.secretkey
    )


def render_docker_dropin(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    """docker.service waits for the CephFS mount and never runs without it."""
    return render_template(renderer, cluster, node, "systemd/docker-cephfs.conf.j2", DOCKER_DROPIN)


def render_install_script(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    """The install step that replaces ./install.sh: refuses an unmounted node, locks prepare's output down."""
    return plain_script(renderer, "install-harbor.sh", "install-harbor.sh")


def render_install_steps(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    """The steps the install scripts of both targets share, sourced by them."""
    return plain_script(renderer, "install-steps.sh", "install-steps.sh")


def render_migration_script(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    """For a node that ran single-node Harbor with its own harbor-db: move that data to the cluster's database."""
    return plain_script(renderer, "migrate-harbor-db.sh", "database/migrate-harbor-db.sh")


ARTIFACTS = (
    render_docker_compose,
    render_harbor_cfg,
    render_adminserver_env,
    render_registry_config,
    render_token_private_key,
    render_token_certificate,
    render_secretkey,
    render_docker_dropin,
    render_install_script,
    render_install_steps,
    render_migration_script,
)
