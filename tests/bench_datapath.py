"""`make bench`, the data path: push and pull MiB/s through the load balancer against direct to
one node, and pushes onto CephFS against onto a local directory (tests/harness/datapath.py).

Blob uploads and downloads of the registry's HTTP API, each of fresh random bytes (a blob the
storage holds already would not be sent again); medians of interleaved runs, ratios from one run.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import tempfile
import time
from pathlib import Path

from generator.secrets.generate import token_key_pair
from tests.harness.datapath import DataPath, download_blob, running, storage_switch, upload_blob
from tests.helpers import TOPOLOGIES

TOPOLOGY = TOPOLOGIES / "loopback.yaml"
SIZE = 128 * 1024 * 1024
RUNS = 5
CEPH_MEMORY = 3 * 1024**3  # every blob stays: 2 x RUNS x SIZE, and what Ceph keeps beside it
MIB = 1024 * 1024


def _fresh(base: bytes, run: int) -> bytes:
    return run.to_bytes(8, "big") + base[8:]


def _rates(datapath: DataPath, hosts: dict[str, str], base: bytes, first_run: int) -> dict[str, tuple[list[float], list[float]]]:
    authorization = datapath.authorization("repository:bench/blobs:pull,push")
    rates: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in hosts}
    for run in range(RUNS):
        for label, host in hosts.items():
            data = _fresh(base, first_run + run * len(hosts) + len(rates[label][0]))
            start = time.perf_counter()
            upload_blob(host, authorization, "bench/blobs", data)
            pushed = time.perf_counter() - start
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            start = time.perf_counter()
            assert download_blob(host, authorization, "bench/blobs", digest) == len(data)
            pulled = time.perf_counter() - start
            rates[label][0].append(len(data) / MIB / pushed)
            rates[label][1].append(len(data) / MIB / pulled)
    return rates


def main() -> None:
    pair = token_key_pair("bench")
    base = os.urandom(SIZE)
    pushes: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, kind in enumerate(("directory", "cephfs")):
            directory = Path(scratch) / kind
            with storage_switch(kind, directory, TOPOLOGY, pair, ceph_memory=CEPH_MEMORY) as (storage, secrets), \
                    running(TOPOLOGY, directory / "datapath", secrets, storage=storage) as datapath:
                token = datapath.token(datapath.entry, "repository:bench/probe:pull,push")
                hosts = {"direct to its node": datapath.nodes[datapath.sticky_node(token)].url, "through the balancer": datapath.entry}
                rates = _rates(datapath, hosts, base, first_run=index * 1000)
            for label, (push, pull) in rates.items():
                print(f"data path ({kind}): push {label:22s} median {statistics.median(push):8.1f} MiB/s over {RUNS} runs")
                print(f"data path ({kind}): pull {label:22s} median {statistics.median(pull):8.1f} MiB/s over {RUNS} runs")
            direct, balanced = rates["direct to its node"], rates["through the balancer"]
            print(f"data path ({kind}): balancer / direct ratio, push {statistics.median(balanced[0]) / statistics.median(direct[0]):.2f}, "
                  f"pull {statistics.median(balanced[1]) / statistics.median(direct[1]):.2f}")
            pushes[kind] = statistics.median(direct[0])
    print(f"data path: push onto CephFS / onto a local directory ratio: {pushes['cephfs'] / pushes['directory']:.2f}")


if __name__ == "__main__":
    main()
