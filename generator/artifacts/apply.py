"""apply.sh and the values file of each bundle (templates/scripts/apply.sh, templates/bundle/)."""

from __future__ import annotations

from ..model import Cluster, Node
from ..placeholders import placeholders_in
from ..templating import Renderer
from . import Artifact, plain_script, render_template
from .harbor2 import SEEDED_FILES

HARBOR_PREFIX = "harbor/"
VALUES = "values.sh"

# Host directories of the compose file's volumes, below the CephFS data root.
HARBOR_DATA_DIRECTORIES = ("registry", "config", "ca_download", "job_logs", "cert")


def render_apply_script(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return plain_script(renderer, "apply.sh", "apply.sh")


def render_values(renderer: Renderer, cluster: Cluster, node: Node, bundle: dict[str, Artifact]) -> Artifact:
    """Rendered last: it lists the node's secret-bearing files and the files laid over the installer."""
    if cluster.is_harbor2:
        directories: list[str] = []  # the mounts are the directories
    else:
        directories = [f"{cluster.cephfs.data_root}/{name}" for name in HARBOR_DATA_DIRECTORIES]
        directories += [cluster.log_host_dir(node)] if node.has("harbor") else []
    return render_template(
        renderer, cluster, node, "bundle/values.sh.j2", VALUES,
        secret_files=sorted(path for path, artifact in bundle.items() if placeholders_in(artifact.content)),
        harbor_files=sorted(path for path in bundle if path.startswith(HARBOR_PREFIX)),
        harbor_directories=directories,
        seeded_files=SEEDED_FILES,
    )
