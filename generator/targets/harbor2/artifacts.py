"""The files of a Harbor 2.15 cluster: the harbor role (templates/harbor2/), PostgreSQL (templates/database/)
and Redis (templates/redis/).

Harbor 2.15's prepare writes common/config/ itself and draws new secrets on
every run. The bundle therefore carries: one harbor.yml; the file secrets
prepare keeps when they exist (seeded under data_volume/secret before it
runs); and pins, the lines install-harbor.sh puts back over the random ones
after it runs (pin-secrets.sh).
"""

from __future__ import annotations

from dataclasses import replace

from ...artifacts import ansible
from ...artifacts.catalogue import ClusterFile, Install, Row, RunsFromBundle, When, script, under
from ...artifacts.cluster import runbook_values
from ...artifacts.harbor_node import REINSTALLS_EVERY_NODE, holding, installer_dir
from ...model import Cluster, Node
from ...review.impacts import Action, Impact
from . import patroni, sentinel
from .model import own

PINS = "harbor/harborgen/pins"

# (bundle path = its path under data_volume, the secret, the template, its language): prepare keeps each
# file that exists (utils/cert.py: get_secret_key, prepare_registry_ca). The secretkey is exactly 16 bytes,
# no line break: prepare refuses any other length.
SEEDED = (
    ("secret/keys/secretkey", "secretkey", "harbor/secretkey.j2", "secretkey"),
    ("secret/core/private_key.pem", "token_private_key", "secrets/whole-file.j2", "rsa-private-key"),
    ("secret/registry/root.crt", "token_certificate", "secrets/whole-file.j2", "certificate"),
)
SEEDED_FILES = tuple(path for path, *_ in SEEDED)

# (name, differ, languages): the pinned lines of prepare's files (pin-secrets.sh).
PINNED = (
    ("core.env", "env", ("compose2-env",)),
    ("jobservice.env", "env", ("compose2-env",)),
    ("registryctl.env", "env", ("compose2-env",)),
    ("registry-config.yml", "text", ("yaml-plain",)),
    ("registry.passwd", "text", ()),  # one bcrypt line: the form says what it asks of the value
)


def _data_volume(cluster: Cluster) -> str:
    return own(cluster).harbor.data_volume


def _redis_conf(cluster: Cluster, node: Node | None = None) -> str:
    """Beside Debian's redis.conf, which includes it (RUNBOOK.md)."""
    return f"/etc/redis/harborgen-{cluster.name}.conf"


def _runbook_values(cluster: Cluster) -> dict:
    return {**runbook_values(cluster), "redis_conf": _redis_conf(cluster), **patroni.paths(cluster)}


# Settings of each node's own services (pool sizes, workers, log level): nodes may differ a while.
HARBOR_YML_IMPACTS = (
    Impact(Action.REINSTALL, key="external_database.harbor.max_*"),
    Impact(Action.REINSTALL, key="external_database.harbor.conn_max_*"),
    Impact(Action.REINSTALL, key="jobservice.max_job_workers"),
    Impact(Action.REINSTALL, key="log.*"),
    Impact(Action.REINSTALL, cluster_wide=True),
)

ROWS = (
    # prepare copies harbor.yml's passwords into env files that docker compose reads.
    Row("harbor/harbor.yml", "harbor2/harbor.yml.j2", ("harbor",), "yaml", HARBOR_YML_IMPACTS,
        under(installer_dir, "harbor.yml"), contexts=("yaml-single-quoted", "compose2-env")),
    *(Row(f"{PINS}/{name}", f"harbor2/pins/{name}.j2", ("harbor",), differ, REINSTALLS_EVERY_NODE,
          under(installer_dir, f"harborgen/pins/{name}"), contexts=contexts)
      for name, differ, contexts in PINNED),
    # The same on every node, in place under data_volume before prepare runs.
    *(Row(path, template, ("harbor",), "secret", REINSTALLS_EVERY_NODE, under(_data_volume, path),
          contexts=(language,), values=holding(attribute))
      for path, attribute, template, language in SEEDED),
    # Replaces ./install.sh: refuses an unmounted node, pins prepare's secrets.
    script("install-harbor.sh", "install-harbor2.sh", ("harbor",), "the operator, after apply.sh"),
    script("pin-secrets.sh", "pin-secrets.sh", ("harbor",), "install-harbor.sh"),
    # One PostgreSQL server: set-up-postgresql.sh runs the SQL and puts the lines into its pg_hba.conf.
    Row("database/create-database.sql", "database/postgresql.sql.j2", ("database",), "sql",
        (Impact(Action.RUN_DATABASE_SQL),), RunsFromBundle("database/set-up-postgresql.sh, through psql"), contexts=("sql",),
        when=patroni.single_server),
    Row("database/pg_hba.conf", "database/pg_hba.conf.j2", ("database",), "text", (Impact(Action.REWRITE_HBA),),
        RunsFromBundle("database/set-up-postgresql.sh, which puts its lines into the server's pg_hba.conf"), when=patroni.single_server),
    replace(script("database/set-up-postgresql.sh", "set-up-postgresql.sh", ("database",), "apply.sh"), when=patroni.single_server),
    # A Patroni cluster: patroni.yml holds the pg_hba lines, post_bootstrap and the leader's apply.sh the SQL.
    *patroni.ROWS,
    Row("redis/harbor.conf", "redis/redis.conf.j2", ("redis",), "text", (Impact(Action.RESTART_REDIS),),
        Install(_redis_conf, When.BEFORE_MOUNT, service_user="redis"),
        contexts=("redis-conf",)),
    *sentinel.ROWS,
)

# Harbor 2.15 runs garbage collection as a job, once for the cluster, through Redis: no gc.sh.
CLUSTER_FILES = (ClusterFile("RUNBOOK.md", "harbor2/RUNBOOK.md.j2", "text", _runbook_values), *ansible.CLUSTER_FILES)


def bundle_values(cluster: Cluster, node: Node) -> dict:
    """What values.sh of a 2.15 bundle holds beyond what every target's does: the mounts are the directories."""
    harbor = own(cluster).harbor
    return {
        "harbor_directories": (),
        "data_volume": harbor.data_volume,
        "with_trivy": "true" if harbor.with_trivy else "false",
        "seeded_files": SEEDED_FILES,
        "secretkey_path": "",
        "secretkey_name": "",
        "redis_conf": _redis_conf(cluster, node),
        **patroni.bundle_values(cluster, node),
        **sentinel.bundle_values(cluster, node),
    }
