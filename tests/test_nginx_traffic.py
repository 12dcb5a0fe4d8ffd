"""The rendered default.conf under real nginx, in front of three stub Harbor nodes on loopback.

The seed's own configuration runs in the same harness as a regression
fixture: it shows the failures the rendered one fixes.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.harness.nginx import BALANCER, Nginx, Upstreams, connection, download, loopback_site, upload, watching
from tests.helpers import TOPOLOGIES, compiled, require_tool

pytestmark = pytest.mark.real_component

LARGE = int(1.2 * 1024**3)  # above the seed's 1 GiB limit
PORT = 18080
SEED_PORT = 18081
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def upstreams():
    stubs = Upstreams()
    try:
        for name in ("h1", "h2", "h3"):
            stubs.start(name)
        yield stubs
    finally:
        stubs.stop_all()


@pytest.fixture(scope="module")
def balancer(upstreams, tmp_path_factory):
    binary = require_tool("nginx")
    _, tree = compiled(TOPOLOGIES / "loopback.yaml")
    nginx = Nginx(tmp_path_factory.mktemp("nginx"), tree["lb/nginx/default.conf"].content.decode(), PORT)
    nginx.start(binary)
    yield nginx
    nginx.stop()


@pytest.fixture(scope="module")
def seed_balancer(upstreams, tmp_path_factory):
    binary = require_tool("nginx")
    nginx = Nginx(tmp_path_factory.mktemp("seed-nginx"), (FIXTURES / "seed-default.conf").read_text(), SEED_PORT)
    nginx.start(binary)
    yield nginx
    nginx.stop()


def _whoami(port: int, source: str = "127.0.0.20") -> dict:
    conn = connection(BALANCER, port, source)
    conn.request("GET", "/whoami")
    response = conn.getresponse()
    assert response.status == 200
    return json.loads(response.read())


def test_large_chunked_upload_passes_without_buffering(balancer):
    conn = connection(BALANCER, PORT)
    with watching(balancer) as temp_files:
        response = upload(conn, LARGE, chunked=True)
        answer = json.loads(response.read())
    assert response.status == 201, answer
    assert answer["bytes"] == LARGE
    assert answer["chunked"], "the body reached the node re-framed, not streamed"
    assert not temp_files, f"nginx buffered the upload to disk: {temp_files}"


def test_large_upload_with_content_length_passes(balancer):
    conn = connection(BALANCER, PORT)
    with watching(balancer) as temp_files:
        response = upload(conn, LARGE, chunked=False)
        answer = json.loads(response.read())
    assert response.status == 201 and answer["bytes"] == LARGE
    assert not temp_files


def test_large_download_passes_without_buffering(balancer):
    conn = connection(BALANCER, PORT)
    with watching(balancer) as temp_files:
        status, received = download(conn, LARGE)
    assert status == 200 and received == LARGE
    assert not temp_files, f"nginx buffered the download to disk: {temp_files}"


def test_docker_headers_survive_and_forwarded_headers_reach_the_node(balancer):
    conn = connection(BALANCER, PORT)
    conn.request("GET", "/v2/")
    response = conn.getresponse()
    response.read()
    assert response.status == 401
    assert response.getheader("Docker-Distribution-Api-Version") == "registry/2.0"
    assert response.getheader("WWW-Authenticate") == f'Bearer realm="http://{BALANCER}:{PORT}/service/token",service="harbor-registry"'

    headers = {key.lower(): value for key, value in _whoami(PORT)["headers"].items()}
    assert headers["host"] == f"{BALANCER}:{PORT}", "the node must see the host and port clients use"
    assert headers["x-forwarded-for"] == "127.0.0.20"
    assert headers["x-real-ip"] == "127.0.0.20"
    assert headers["x-forwarded-proto"] == "http"


def test_a_client_stays_on_one_node_and_moves_when_it_dies(balancer, upstreams):
    first = {_whoami(PORT)["server"] for _ in range(10)}
    assert len(first) == 1, f"one client was spread over {first}"
    node = first.pop()
    upstreams.kill(node)
    try:
        after = {_whoami(PORT)["server"] for _ in range(5)}
        assert len(after) == 1 and node not in after
    finally:
        upstreams.start(node)


def test_seed_configuration_refuses_layers_above_1_gib(seed_balancer):
    conn = connection(BALANCER, SEED_PORT)
    conn.putrequest("PUT", "/v2/library/test/blobs/uploads/1")
    conn.putheader("Content-Length", str(LARGE))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413


def test_seed_configuration_buffers_whole_uploads_to_disk(seed_balancer):
    conn = connection(BALANCER, SEED_PORT)
    with watching(seed_balancer) as temp_files:
        response = upload(conn, 300 * 1024**2, chunked=False)
        response.read()
    assert response.status == 201
    assert any("client_body_temp" in path for path in temp_files), "expected the seed's nginx to spool the body"


def test_a_graceful_reload_under_load_drops_no_transfer(balancer, tmp_path):
    """What run-nginx.sh does to a running load balancer (SIGHUP, after nginx -t), under streaming
    uploads and downloads: old workers finish their transfers, new ones serve the new site."""
    changed = tmp_path / "timeout.yaml"
    changed.write_text((TOPOLOGIES / "loopback.yaml").read_text().replace("  listen: 18080\n", "  listen: 18080\n  timeout: 1200\n"))
    _, tree = compiled(changed)
    sites = [loopback_site(tree["lb/nginx/default.conf"].content.decode(), PORT), (balancer.directory / "site.conf").read_text()]
    assert "1200s" in sites[0] and sites[0] != sites[1]
    failures: list[str] = []
    done = threading.Event()

    def transfers(index: int) -> None:
        source = f"127.0.0.{30 + index}"
        while not done.is_set():
            try:
                if index % 2:
                    status, received = download(connection(BALANCER, PORT, source), 64 * 1024 * 1024)
                    ok = status == 200 and received == 64 * 1024 * 1024
                else:
                    response = upload(connection(BALANCER, PORT, source), 64 * 1024 * 1024, chunked=True)
                    ok = response.status == 201 and json.loads(response.read())["bytes"] == 64 * 1024 * 1024
            except OSError as error:
                ok, status = False, error
            if not ok:
                failures.append(f"client {index}: {status}")

    workers = [threading.Thread(target=transfers, args=(index,)) for index in range(4)]
    for worker in workers:
        worker.start()
    try:
        old_workers = set(balancer.pids()[1:])
        for round_ in range(4):
            time.sleep(0.5)
            (balancer.directory / "site.conf").write_text(sites[round_ % 2])
            os.kill(balancer.process.pid, signal.SIGHUP)
    finally:
        time.sleep(1)
        done.set()
        for worker in workers:
            worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers)
    assert failures == [], failures
    assert set(balancer.pids()[1:]) - old_workers, "nginx did not reload: no new worker serves"
