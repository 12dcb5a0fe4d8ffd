"""apply.sh: what a machine runs to install its bundle (templates/apply/)."""

from __future__ import annotations

from ..conventions import SECRETKEY
from ..model import Cluster, Node
from ..secrets import needed_in_bundle, placeholders_in
from ..templating import Renderer
from . import Artifact, render_template

HARBOR_PREFIX = "harbor/"


def render_apply_script(renderer: Renderer, cluster: Cluster, node: Node, bundle: dict[str, Artifact]) -> Artifact:
    """Rendered last: it lists the node's other files, and the secrets they need."""
    contents = {path: artifact.content for path, artifact in bundle.items()}
    installer_dir = cluster.harbor.installer_dir
    return render_template(
        renderer, cluster, node, "apply/apply.sh.j2", "apply.sh", executable=True,
        needed=[(name, sorted(contexts)) for name, contexts in needed_in_bundle(contents).items()],
        secret_bearing=sorted(path for path, content in contents.items() if placeholders_in(content)),
        harbor_files=[
            (path, f"{installer_dir}/{path.removeprefix(HARBOR_PREFIX)}")
            for path in sorted(contents)
            if path.startswith(HARBOR_PREFIX)
        ],
        secretkey_name=SECRETKEY,
    )
