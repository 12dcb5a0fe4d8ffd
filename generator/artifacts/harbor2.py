"""The harbor role of a Harbor 2.15 cluster (templates/harbor2/).

Harbor 2.15's prepare writes common/config/ itself and draws new secrets on
every run. The bundle therefore carries: one harbor.yml; the file secrets
prepare keeps when they exist (seeded under data_volume/secret before it
runs); and pins, the lines install-harbor.sh puts back over the random ones
after it runs (pin-secrets.sh).
"""

from __future__ import annotations

from ..model import Cluster, Node
from ..templating import Renderer
from . import Artifact, plain_script, render_template
from .harbor import render_docker_dropin, render_install_steps

PINS = "harbor/harborgen/pins"
# (bundle path = its path under data_volume, the secret, the template): prepare keeps each file that
# exists (utils/cert.py: get_secret_key, prepare_registry_ca). The secretkey is exactly 16 bytes, no line
# break: prepare refuses any other length.
SEEDED = (
    ("secret/keys/secretkey", "secretkey", "harbor/secretkey.j2"),
    ("secret/core/private_key.pem", "token_private_key", "secrets/whole-file.j2"),
    ("secret/registry/root.crt", "token_certificate", "secrets/whole-file.j2"),
)
SEEDED_FILES = tuple(path for path, _, _ in SEEDED)


def render_harbor_yml(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(renderer, cluster, node, "harbor2/harbor.yml.j2", "harbor/harbor.yml")


def _pin(name: str):
    def render_pin(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
        return render_template(renderer, cluster, node, f"harbor2/pins/{name}.j2", f"{PINS}/{name}")

    render_pin.__name__ = f"render_pin_{name.replace('.', '_').replace('-', '_')}"
    render_pin.__doc__ = f"The pinned lines of prepare's {name} (pin-secrets.sh)."
    return render_pin


def _seeded(path: str, secret_attribute: str, template: str):
    def render_seeded(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
        secret = getattr(cluster.harbor, secret_attribute)
        return render_template(renderer, cluster, node, template, path, secret=secret)

    render_seeded.__name__ = f"render_seeded_{secret_attribute}"
    render_seeded.__doc__ = f"data_volume/{path}, the same on every node, in place before prepare runs."
    return render_seeded


def render_install_script(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    """The install step that replaces ./install.sh: refuses an unmounted node, pins prepare's secrets."""
    return plain_script(renderer, "install-harbor2.sh", "install-harbor.sh")


def render_pin_script(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return plain_script(renderer, "pin-secrets.sh", "pin-secrets.sh")


ARTIFACTS = (
    render_harbor_yml,
    _pin("core.env"),
    _pin("jobservice.env"),
    _pin("registryctl.env"),
    _pin("registry-config.yml"),
    _pin("registry.passwd"),
    *(_seeded(*seeded) for seeded in SEEDED),
    render_docker_dropin,
    render_install_script,
    render_install_steps,
    render_pin_script,
)
