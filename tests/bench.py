"""`make bench`: how long the pipeline takes, as medians and ratios from one run.

The machine is shared and noisy: each figure is the median of several runs,
and the scaling figure is a ratio measured in the same run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generator.pipeline import compile_cluster, load_cluster
from generator.writer import compare, write_tree
from tests.helpers import ROOT

RUNS = 15


def _median_ms(action) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _large_topology(directory: Path, harbor_nodes: int) -> Path:
    text = (ROOT / "topology.yaml").read_text()
    nodes = "".join(f"  h{i}: {{address: 10.9.{i // 250}.{i % 250 + 1}, roles: [harbor]}}\n" for i in range(harbor_nodes))
    path = directory / f"large-{harbor_nodes}.yaml"
    path.write_text(text.replace("nodes:\n", "nodes:\n" + nodes))
    return path


TRANSFER = 512 * 1024**2
TRANSFER_RUNS = 5


def _upload_seconds(host: str, port: int) -> float:
    from tests.harness.nginx import connection, upload

    start = time.perf_counter()
    response = upload(connection(host, port), TRANSFER, chunked=True)
    response.read()
    assert response.status == 201
    return time.perf_counter() - start


def upload_throughput() -> None:
    """Chunked uploads straight to a stub node and through the rendered nginx, interleaved, in one run."""
    import shutil

    from tests.harness.nginx import BALANCER, UPSTREAM_PORT, UPSTREAMS, Nginx, Upstreams
    from tests.helpers import TOPOLOGIES, compiled

    binary = shutil.which("nginx")
    if binary is None:
        print("upload throughput: skipped (no nginx)")
        return
    _, tree = compiled(TOPOLOGIES / "loopback.yaml")
    stubs = Upstreams()
    with tempfile.TemporaryDirectory() as scratch:
        nginx = Nginx(Path(scratch), tree["lb/nginx/default.conf"].content.decode(), 18080)
        try:
            for name in UPSTREAMS:
                stubs.start(name)
            nginx.start(binary)
            direct, proxied = [], []
            for _ in range(TRANSFER_RUNS):
                direct.append(_upload_seconds(UPSTREAMS["h1"], UPSTREAM_PORT))
                proxied.append(_upload_seconds(BALANCER, 18080))
        finally:
            nginx.stop()
            stubs.stop_all()
    mib = TRANSFER / 1024**2
    direct_rate, proxied_rate = mib / statistics.median(direct), mib / statistics.median(proxied)
    print(f"upload {mib:.0f} MiB chunked, direct to a node    median {direct_rate:8.0f} MiB/s over {TRANSFER_RUNS} runs")
    print(f"upload {mib:.0f} MiB chunked, through nginx        median {proxied_rate:8.0f} MiB/s over {TRANSFER_RUNS} runs")
    print(f"through nginx / direct throughput ratio: {proxied_rate / direct_rate:.2f}")


PROCESS_RUNS = 21


def _process_seconds(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _compiled_environment(scratch: Path) -> dict[str, str]:
    """Both processes read bytecode, as from an installed wheel. With PYTHONDONTWRITEBYTECODE (set on CI
    machines) the editable package would be compiled from source at every run while its dependencies,
    compiled at install, would not: that measured the compiler, not harborgen."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")  # the tree stays clean
    return env


def whole_process_against_the_import_floor(scratch: Path) -> None:
    """`harborgen render` on an unchanged tree, as a process, against importing its dependencies and nothing else.

    Interleaved in one run, so that the machine's noise falls on both alike.
    """
    harborgen = [sys.executable, "-m", "generator"]
    floor = [sys.executable, "-c", "import click, jinja2, jsonschema, ruamel.yaml"]
    render = [*harborgen, "render", str(ROOT / "topology.yaml"), "--out", str(scratch / "process")]
    env = _compiled_environment(scratch)
    for command in (render, floor):  # the tree exists, the template cache is warm, and the bytecode is written
        subprocess.run(command, env=env, check=True, capture_output=True)
    renders, floors = [], []
    for _ in range(PROCESS_RUNS):
        renders.append(_process_seconds(render, ROOT, env))
        floors.append(_process_seconds(floor, ROOT, env))
    render_median, floor_median = statistics.median(renders), statistics.median(floors)
    print(f"{'process: render seed, unchanged':32s} median {render_median * 1000:8.2f} ms over {PROCESS_RUNS} runs")
    print(f"{'process: import floor':32s} median {floor_median * 1000:8.2f} ms over {PROCESS_RUNS} runs")
    print(f"render / import-floor ratio: {render_median / floor_median:.2f}  (target <= 1.3)")

    large = _large_topology(scratch, 1000)
    subprocess.run([*harborgen, "render", str(large), "--out", str(scratch / "large")], check=True, capture_output=True)
    check = [*harborgen, "check", str(large), "--out", str(scratch / "large")]
    checks = [_process_seconds(check, ROOT) for _ in range(5)]
    print(f"{'process: check 1,000 nodes, unchanged':32s} median {statistics.median(checks) * 1000:8.2f} ms over 5 runs")


def main() -> None:
    seed = ROOT / "topology.yaml"
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        large = _large_topology(scratch_dir, 100)
        seed_cluster = load_cluster(seed)
        large_cluster = load_cluster(large)
        seed_tree = compile_cluster(seed_cluster)
        write_tree(seed_tree, scratch_dir / "out" / "seed")

        figures = {
            "validate seed (5 nodes)": _median_ms(lambda: load_cluster(seed)),
            "compile seed (5 nodes)": _median_ms(lambda: compile_cluster(seed_cluster)),
            "check seed, up to date": _median_ms(lambda: compare(compile_cluster(seed_cluster), scratch_dir / "out" / "seed")),
            "validate 100 harbor nodes": _median_ms(lambda: load_cluster(large)),
            "compile 100 harbor nodes": _median_ms(lambda: compile_cluster(large_cluster)),
        }
    for name, value in figures.items():
        print(f"{name:32s} median {value:8.2f} ms over {RUNS} runs")
    per_node_small = figures["compile seed (5 nodes)"] / len(seed_cluster.nodes)
    per_node_large = figures["compile 100 harbor nodes"] / len(large_cluster.nodes)
    print(f"compile cost per node, 100-node / seed ratio: {per_node_large / per_node_small:.2f}")
    with tempfile.TemporaryDirectory() as scratch:
        whole_process_against_the_import_floor(Path(scratch))
    upload_throughput()


if __name__ == "__main__":
    main()
