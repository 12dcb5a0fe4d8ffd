"""The database role (templates/database/)."""

from __future__ import annotations

from ..model import Cluster, Node
from ..templating import Renderer
from . import Artifact, plain_script, render_template


def render_create_database(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(
        renderer, cluster, node, "database/create-database.sql.j2", "database/create-database.sql"
    )


def render_schema_loader(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return plain_script(renderer, "load-schema.sh", "database/load-schema.sh")


ARTIFACTS = (render_create_database, render_schema_loader)
