"""`make bench`, Redis Sentinel: seconds from the SIGKILL of the Redis master until every Harbor Redis URL
(core, jobservice, registry, trivy, as the real prepare builds them) writes again on the promoted replica,
in a set brought up from its bundles (tests/harness/sentinel.py) with down_after_milliseconds 1000.
Medians of several runs; the test suite asserts only the outcomes (one new master, each URL's own database)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import yaml

from generator.pipeline import load_cluster
from generator.secrets.generate import token_key_pair
from generator.secrets.packs import materialize
from generator.writer import write_tree
from tests.harness.sentinel import kill_the_master, sentinel_set
from tests.helpers import compiled, secrets_for
from tests.real_prepare import redis_urls
from tests.test_redis import PASSWORD, _sentinel_set_topology

RUNS = 3


def main() -> None:
    windows = []
    with tempfile.TemporaryDirectory() as scratch:
        topology = Path(scratch) / "topology.yaml"
        topology.write_text(_sentinel_set_topology())
        _, tree = compiled(topology)
        bundles = Path(scratch) / "out"
        write_tree(materialize(tree, secrets_for(topology, token_key_pair("bench"), redis_password=PASSWORD)), bundles)
        cluster = load_cluster(topology)
        urls = redis_urls(yaml.safe_load((bundles / "h1/harbor/harbor.yml").read_text())["external_redis"])
        for run in range(RUNS):
            (Path(scratch) / f"run{run}").mkdir()
            with sentinel_set(Path(scratch) / f"run{run}", bundles, cluster, PASSWORD) as group:
                windows.append(kill_the_master(group, urls)[2])
    print(f"sentinel: the Redis master killed: every Harbor URL writes again after median {statistics.median(windows):5.2f} s over "
          f"{RUNS} runs (each: {', '.join(f'{value:.2f}' for value in windows)}; down_after_milliseconds 1000)")


if __name__ == "__main__":
    main()
