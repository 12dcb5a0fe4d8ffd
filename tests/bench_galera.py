"""`make bench`, the Galera database: seconds during which a client on a Harbor node, writing one row at a
time through the floating address, gets no write acknowledged, from the SIGKILL of the writer's
mariadbd until another member takes the writes (tests/harness/galera.py). Medians of several runs; the
test suite asserts only the outcomes (0 lost acknowledged writes)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from generator.secrets.generate import token_key_pair
from generator.secrets.packs import materialize
from generator.writer import write_tree
from tests.harness.galera import MEMBERS, TOPOLOGY, galera_lab, kill_the_writer
from tests.helpers import compiled, require_reference, secrets_for

RUNS = 3
PASSWORD = "Harbor-db-Pass_1"


def main() -> None:
    _, tree = compiled(TOPOLOGY)
    windows: list[float] = []
    with tempfile.TemporaryDirectory() as scratch, galera_lab(Path(scratch), tree) as lab:
        write_tree(materialize(tree, secrets_for(TOPOLOGY, token_key_pair("bench"), harbor_db_password=PASSWORD)),
                   Path(scratch) / "bundles", private=True)
        first, *others = MEMBERS
        assert lab.galera_sh(first, "bootstrap").returncode == 0
        lab.wait_synced(first)
        for name in others:
            lab.start(name)
            lab.wait_synced(name)
        applied = lab.apply(first, Path(scratch) / "root", "--schema", str(require_reference() / "registry.sql"))
        assert applied.returncode == 0, applied.stdout + applied.stderr
        for name in MEMBERS:
            lab.start_keepalived(name)
        for run in range(RUNS):
            holder, _, _, window = kill_the_writer(lab, Path(scratch) / f"run{run}", PASSWORD)
            windows.append(window if window is not None else float("inf"))
            lab.start(holder)
            lab.wait_synced(holder)
    print(f"galera: the writer killed under load: no write acknowledged for median {statistics.median(windows):5.2f} s over "
          f"{RUNS} runs (each: {', '.join(f'{value:.2f}' for value in windows)}; target <= 10 s)")


if __name__ == "__main__":
    main()
