"""The database role of a Harbor 2.15 cluster: PostgreSQL (templates/database/)."""

from __future__ import annotations

from ..model import Cluster, Node
from ..templating import Renderer
from . import Artifact, plain_script, render_template


def render_role_and_database(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(renderer, cluster, node, "database/postgresql.sql.j2", "database/create-database.sql")


def render_hba_lines(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return render_template(renderer, cluster, node, "database/pg_hba.conf.j2", "database/pg_hba.conf")


def render_setup_script(renderer: Renderer, cluster: Cluster, node: Node) -> Artifact:
    return plain_script(renderer, "set-up-postgresql.sh", "database/set-up-postgresql.sh")


ARTIFACTS = (render_role_and_database, render_hba_lines, render_setup_script)
