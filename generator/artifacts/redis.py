"""The redis role of a Harbor 2.15 cluster (templates/redis/)."""

from __future__ import annotations

from ..model import Cluster, Node
from ..templating import Renderer
from . import Artifact, render_template


def render_redis_conf(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(renderer, cluster, node, "redis/redis.conf.j2", "redis/harbor.conf")


ARTIFACTS = (render_redis_conf,)
