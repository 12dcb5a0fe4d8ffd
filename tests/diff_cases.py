"""The change scenarios of the golden diffs: each a BASE/NEW pair of topologies made from the seed's.

`make golden` writes tests/diffs/<case>/{base,new}.yaml and golden/diff/<case>.{txt,md}.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import ROOT

DIFFS = ROOT / "tests" / "diffs"
SEED = (ROOT / "topology.yaml").read_text()
NODE1 = "  node1: {address: 10.222.78.8, roles: [harbor]}\n"


def _replace(*pairs: tuple[str, str]) -> str:
    text = SEED
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


CASES: dict[str, str] = {
    "add-node": _replace((NODE1, NODE1 + "  node2: {address: 10.222.78.9, roles: [harbor]}\n")),
    "remove-node": _replace((NODE1, ""), ("mds: [admin, node0, node1]", "mds: [admin, node0]")),
    "change-address": _replace(("node0: {address: 10.222.78.7,", "node0: {address: 10.222.78.17,")),
    "listen-port-and-url": _replace(("external_url: http://10.222.76.70 ", "external_url: http://10.222.76.70:8080 "),
                                    ("  listen: 80\n", "  listen: 8080\n")),
    "max-job-workers": _replace(("max_job_workers: 3", "max_job_workers: 5")),
    "mount-via-fuse": _replace(("  mds: [admin, node0, node1]\n", "  mds: [admin, node0, node1]\n  mount_via: fuse\n")),
    "dedicated-client": _replace(("  client: admin\n", "  client: harbor\n")),
    "rename-db-secret": _replace(("password: {secret: harbor_db_password}", "password: {secret: harbor_db_password_v2}")),
}


def case_files(name: str) -> tuple[Path, Path]:
    return DIFFS / name / "base.yaml", DIFFS / name / "new.yaml"


def write_cases() -> None:
    for name, new in CASES.items():
        base_path, new_path = case_files(name)
        base_path.parent.mkdir(parents=True, exist_ok=True)
        base_path.write_text(SEED)
        new_path.write_text(new)
