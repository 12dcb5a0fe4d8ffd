"""The change scenarios of the golden diffs: each a BASE/NEW pair of topologies, made from the seed's,
from the Harbor 2.15 example (harbor2-*), from the Sentinel topology (harbor2-sentinel-*), from the
load-balancer pair (pair-*) or from the Patroni cluster (patroni-*).

`make golden` writes tests/diffs/<case>/new.yaml and golden/diff/<case>.{txt,md}. A case's BASE is the
committed topology it starts from, read where it stands, never copied.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import ROOT

DIFFS = ROOT / "tests" / "diffs"
SEED = ROOT / "topology.yaml"
HARBOR2 = ROOT / "examples" / "harbor2" / "topology.yaml"
SENTINEL = ROOT / "tests" / "topologies" / "harbor2-sentinel-https.yaml"
PAIR = ROOT / "tests" / "topologies" / "lb-pair.yaml"
PATRONI = ROOT / "tests" / "topologies" / "patroni.yaml"
NODE1 = "  node1: {address: 10.222.78.8, roles: [harbor]}\n"


def _replace(*pairs: tuple[str, str], base: Path = SEED) -> tuple[Path, str]:
    """(BASE, NEW): NEW is the text of BASE with each (old, new) replaced once."""
    text = base.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return base, text


CASES: dict[str, tuple[Path, str]] = {
    "add-node": _replace((NODE1, NODE1 + "  node2: {address: 10.222.78.9, roles: [harbor]}\n")),
    "remove-node": _replace((NODE1, ""), ("mds: [admin, node0, node1]", "mds: [admin, node0]")),
    "change-address": _replace(("node0: {address: 10.222.78.7,", "node0: {address: 10.222.78.17,")),
    "listen-port-and-url": _replace(("external_url: http://10.222.76.70 ", "external_url: http://10.222.76.70:8080 "),
                                    ("  listen: 80\n", "  listen: 8080\n")),
    "max-job-workers": _replace(("max_job_workers: 3", "max_job_workers: 5")),
    "mount-via-fuse": _replace(("  mds: [admin, node0, node1]\n", "  mds: [admin, node0, node1]\n  mount_via: fuse\n")),
    "dedicated-client": _replace(("  client: admin\n", "  client: harbor\n")),
    "rename-db-secret": _replace(("password: {secret: harbor_db_password}", "password: {secret: harbor_db_password_v2}")),
    "load-balancer-pair": _replace(
        ("  node: nginx\n  listen: 80\n",
         "  nodes: [nginx, nginx2]\n  virtual_address: 10.222.76.70\n  vrrp: {interface: eth0}\n  listen: 80\n"),
        ("  nginx: {address: 10.222.76.70, roles: [load-balancer]}\n",
         "  nginx: {address: 10.222.76.71, roles: [load-balancer]}\n  nginx2: {address: 10.222.76.72, roles: [load-balancer]}\n"),
        ("    - rule: HG102\n      reason: \"the seed's cluster: one nginx as its single entry point, as the write-up builds it\"\n", ""),
    ),
    # The seed's MySQL address becomes the Galera cluster's floating address: the Harbor nodes keep it.
    "galera-database": _replace(
        ("  node: mysql\n  port: 3306\n",
         "  nodes: [mysql, mysql2, mysql3]\n  virtual_address: 10.222.76.74\n  vrrp: {interface: eth0, virtual_router_id: 52}\n  port: 3306\n"),
        ("  mysql: {address: 10.222.76.74, roles: [database]}\n",
         "  mysql: {address: 10.222.76.75, roles: [database]}\n  mysql2: {address: 10.222.76.76, roles: [database]}\n"
         "  mysql3: {address: 10.222.76.77, roles: [database]}\n"),
        ("    - rule: HG103\n      reason: \"the seed's cluster: one MySQL; the write-up leaves a replicated database for later\"\n", ""),
    ),
    "pair-add-node": _replace(("  h3: {address: 10.77.0.23, roles: [harbor]}\n",
                               "  h3: {address: 10.77.0.23, roles: [harbor]}\n  h4: {address: 10.77.0.24, roles: [harbor]}\n"), base=PAIR),
    "harbor2-redis-port": _replace(("  password: {secret: redis_password}\n", "  password: {secret: redis_password}\n  port: 6380\n"),
                                   base=HARBOR2),
    "harbor2-with-trivy": _replace(("  job_logs: database", "  with_trivy: false\n  job_logs: database"), base=HARBOR2),
    "harbor2-add-node": _replace((NODE1, NODE1 + "  node2: {address: 10.222.78.9, roles: [harbor]}\n"), base=HARBOR2),
    "harbor2-max-open-conns": _replace(("  password: {secret: harbor_db_password}\n",
                                        "  password: {secret: harbor_db_password}\n  max_open_conns: 50\n"), base=HARBOR2),
    # The example's one PostgreSQL becomes a Patroni cluster whose floating address is the old server's: Harbor keeps it.
    "harbor2-patroni-database": _replace(
        ("  node: pg\n", "  nodes: [pg1, pg2, pg3]\n  virtual_address: 10.222.76.74\n  vrrp: {interface: eth0, virtual_router_id: 53}\n"),
        ("  pg: {address: 10.222.76.74, roles: [database]}\n",
         "  pg1: {address: 10.222.76.81, roles: [database]}\n  pg2: {address: 10.222.76.82, roles: [database]}\n"
         "  pg3: {address: 10.222.76.83, roles: [database]}\n"),
        ('    - rule: HG103\n      reason: "an example: one PostgreSQL; replicate it (Patroni or similar) before production"\n', ""),
        base=HARBOR2),
    # A setting of the whole Patroni cluster: it goes to etcd once, through the leader.
    "patroni-ttl": _replace(("  password: {secret: harbor_db_password}\n", "  password: {secret: harbor_db_password}\n  patroni: {ttl: 30}\n"),
                            base=PATRONI),
    # The sentinels' timers: each running sentinel takes them with SENTINEL SET; its seeded file stays its own.
    "sentinel-down-after": _replace(("    master_set: harbor\n", "    master_set: harbor\n    down_after_milliseconds: 3000\n"),
                                    base=PATRONI),
    "harbor2-sentinel-host": _replace(('"10.1.0.33:26379"', '"10.1.0.34:26379"'), base=SENTINEL),
}


def case_files(name: str) -> tuple[Path, Path]:
    return CASES[name][0], DIFFS / name / "new.yaml"


def write_cases() -> None:
    for name, (_, new) in CASES.items():
        new_path = case_files(name)[1]
        new_path.parent.mkdir(parents=True, exist_ok=True)
        new_path.write_text(new)
