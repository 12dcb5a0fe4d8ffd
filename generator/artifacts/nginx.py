"""The load-balancer role (templates/nginx/)."""

from __future__ import annotations

from ..model import Cluster, Node
from ..templating import Renderer
from . import Artifact, plain_script, render_template


def render_default_conf(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(renderer, cluster, node, "nginx/default.conf.j2", "nginx/default.conf")


def render_run_script(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return plain_script(renderer, "run-nginx.sh", "nginx/run-nginx.sh")


ARTIFACTS = (render_default_conf, render_run_script)
