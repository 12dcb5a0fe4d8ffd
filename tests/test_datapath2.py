"""Images pushed and pulled through the registries of a Harbor 2.15 cluster's bundles
(tests/harness/datapath.py, Harbor2DataPath): the config.yml and passwd of the real 2.15.2
prepare after pinning, real Redis as their cache, skopeo and plain HTTP as the clients."""

from __future__ import annotations

import base64
import hashlib
import socket
from pathlib import Path

import pytest

from tests.harness.datapath import Harbor2DataPath, changed_registry, hop, request, running, storage_switch, upload_blob
from tests.harness.images import Image, make_image, pull, push, same_bytes
from tests.harness.resp import command
from tests.helpers import TOPOLOGIES

pytestmark = pytest.mark.real_component

TOPOLOGY = TOPOLOGIES / "harbor2-loopback.yaml"
BIG = 200 * 1024 * 1024


@pytest.fixture(scope="module")
def datapath(tmp_path_factory, token_pair):
    directory = tmp_path_factory.mktemp("datapath2")
    with storage_switch("directory", directory, TOPOLOGY, token_pair) as (storage, secrets), \
            running(TOPOLOGY, directory / "run", secrets, storage=storage) as started:
        yield started


@pytest.fixture(scope="module")
def big_image(tmp_path_factory) -> Image:
    return make_image(tmp_path_factory.mktemp("big2") / "layout", BIG)


def test_an_image_pushed_to_one_node_comes_back_identical_from_every_node(datapath, big_image, tmp_path):
    first, *others = datapath.hosts
    pushed = push(big_image, first, "library/big", credentials=datapath.credentials())
    assert pushed.returncode == 0, pushed.stderr
    for host in [first, *others]:
        into = tmp_path / host.replace(":", "-")
        pulled = pull(host, "library/big", big_image.tag, into, credentials=datapath.credentials())
        assert pulled.returncode == 0, pulled.stderr
        assert same_bytes(into / big_image.layer_digest.removeprefix("sha256:"), big_image.layer_path), host


def _redis_keys(datapath: Harbor2DataPath, pattern: str) -> list[str]:
    """KEYS in the registry's Redis database, with the password the Redis node's bundle set."""
    redis = datapath.nodes[next(iter(datapath.nodes))].config["redis"]
    host, port = redis["addr"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        assert command(connection, "AUTH", redis["password"]) == "OK"
        assert command(connection, "SELECT", str(redis["db"])) == "OK"
        return command(connection, "KEYS", pattern)


def test_the_registries_cache_blob_descriptors_in_the_real_redis(datapath):
    """The pinned config.yml's redis section leads the registry to the Redis node, authenticated."""
    data = b"described in redis\n" * 1024
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    first, second, _ = datapath.hosts
    upload_blob(first, datapath.authorization(), "library/cached", data)
    status, _, _ = request(second, "HEAD", f"/v2/library/cached/blobs/{digest}", authorization=datapath.authorization())
    assert status == 200
    assert f"blobs::{digest}" in _redis_keys(datapath, "blobs::*"), "the blob's descriptor did not reach Redis"


def test_an_upload_hops_across_three_nodes_and_the_credential_works_on_every_node(datapath):
    data = b"one upload, three 2.15 nodes\n" * 4096
    status, body = hop(datapath.hosts, datapath.authorization(), "library/hop", data)
    assert status == 201, body
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    for host in datapath.hosts:
        status, _, blob = request(host, "GET", f"/v2/library/hop/blobs/{digest}", authorization=datapath.authorization())
        assert (status, blob) == (200, data), host


def test_control_a_wrong_credential_is_refused_by_every_node(datapath):
    wrong = "Basic " + base64.b64encode(b"harbor_registry_user:not-the-pinned-one").decode()
    for host in datapath.hosts:
        status, _, _ = request(host, "GET", "/v2/", authorization=wrong)
        assert status == 401, host


def test_control_another_http_secret_on_one_node_breaks_the_hop(datapath):
    def another_secret(config):
        config["http"]["secret"] = "not-the-cluster-secret"

    with changed_registry(datapath, "h2", another_secret):
        status, body = hop(datapath.hosts, datapath.authorization(), "library/hop", b"x" * 1024)
    assert status >= 400 and b"BLOB_UPLOAD_INVALID" in body, (status, body)


def test_control_one_node_on_storage_of_its_own_loses_the_upload(datapath, tmp_path: Path):
    def own_storage(config):
        config["storage"]["filesystem"]["rootdirectory"] = str(tmp_path / "elsewhere")

    with changed_registry(datapath, "h2", own_storage):
        status, body = hop(datapath.hosts, datapath.authorization(), "library/hop", b"y" * 1024)
    assert status >= 400 and b"BLOB_UPLOAD_UNKNOWN" in body, (status, body)
