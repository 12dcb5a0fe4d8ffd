"""Images really pushed and pulled through a Harbor 1.1.2 cluster's bundles (tests/harness/datapath.py):
real registries, real node proxies, the real load balancer, skopeo; under failure too."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from generator.secrets.generate import token_key_pair
from tests.harness.ceph import CephStorage, is_mounted
from tests.harness.datapath import Harbor1DataPath, changed_registry, hop, request, running, storage_switch
from tests.harness.images import Image, make_image, pull, push, same_bytes
from tests.harness.token_service import load_private_key, make_token

pytestmark = pytest.mark.real_component

TOPOLOGY = Path(__file__).parent / "topologies" / "loopback.yaml"
BIG = 200 * 1024 * 1024  # trap 5: a layer that nginx must stream, not buffer
PULLS_UNDER_FAILURE = 40


@pytest.fixture(scope="module", params=["directory", "cephfs"])
def storage(request, tmp_path_factory, token_pair):
    """The one switch: a directory every node shares, or real CephFS mounted on each node."""
    with storage_switch(request.param, tmp_path_factory.mktemp(f"storage-{request.param}"), TOPOLOGY, token_pair) as switched:
        yield switched


@pytest.fixture(scope="module")
def secrets(storage) -> dict[str, str]:
    return storage[1]


@pytest.fixture(scope="module")
def datapath(tmp_path_factory, storage):
    with running(TOPOLOGY, tmp_path_factory.mktemp("datapath"), storage[1], storage=storage[0]) as started:
        yield started


@pytest.fixture(scope="module")
def big_image(tmp_path_factory) -> Image:
    return make_image(tmp_path_factory.mktemp("big") / "layout", BIG)


@pytest.fixture(scope="module")
def small_image(tmp_path_factory) -> Image:
    return make_image(tmp_path_factory.mktemp("small") / "layout", 1024 * 1024)


def _pulled_layer(host: str, repository: str, image: Image, into: Path) -> Path:
    result = pull(host, repository, image.tag, into)
    assert result.returncode == 0, f"pull through {host}: {result.stderr}"
    return into / image.layer_digest.removeprefix("sha256:")


def test_every_registry_keeps_its_blobs_where_the_switch_says(datapath):
    roots = {node.config["storage"]["filesystem"]["rootdirectory"] for node in datapath.nodes.values()}
    if isinstance(datapath.storage, CephStorage):
        assert len(roots) == len(datapath.nodes), "one CephFS mount per node"
        assert all(is_mounted(path) for path in datapath.storage.mounted)
        assert all(any(Path(root).is_relative_to(mount) for mount in datapath.storage.mounted) for root in roots)
    else:
        assert len(roots) == 1, "one directory for every node"


def test_an_image_pushed_through_the_load_balancer_comes_back_identical_through_every_node(datapath, big_image, tmp_path):
    result = push(big_image, datapath.entry, "library/big")
    assert result.returncode == 0, result.stderr
    for host in [*(node.url for node in datapath.nodes.values()), datapath.entry]:
        layer = _pulled_layer(host, "library/big", big_image, tmp_path / host.replace(":", "-"))
        assert same_bytes(layer, big_image.layer_path), f"the layer pulled through {host} differs"


# --- an upload that hops from node to node (trap 3) -----------------------------------------

def test_an_upload_begun_on_one_node_continues_on_a_second_and_completes_on_a_third(datapath):
    token = datapath.token(datapath.entry, "repository:library/hop:pull,push")
    data = b"one upload, three nodes\n" * 4096
    status, body = hop(datapath.hosts, f"Bearer {token}", "library/hop", data)
    assert status == 201, body
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    for host in datapath.hosts:
        status, _, blob = request(host, "GET", f"/v2/library/hop/blobs/{digest}", token=token)
        assert (status, blob) == (200, data), f"the blob is not whole through {host}"


def test_a_token_from_any_node_is_accepted_by_every_node(datapath):
    """Trap 1: one token key pair on every node."""
    for issuer in datapath.nodes.values():
        token = datapath.token(issuer.url, "repository:library/hop:pull")
        for node in datapath.nodes.values():
            status, _, body = request(node.url, "GET", "/v2/library/hop/tags/list", token=token)
            assert status in (200, 404), f"{node.name} refused a token of {issuer.name}: {status} {body!r}"
            assert b"UNAUTHORIZED" not in body


# --- negative controls: each of the above fails, and for the right reason ---------------------

def test_control_another_http_secret_on_one_node_breaks_the_hop(datapath):
    token = datapath.token(datapath.entry, "repository:library/hop:pull,push")
    first, second, third = datapath.hosts

    def another_secret(config):
        config["http"]["secret"] = "not-the-cluster-secret"

    with changed_registry(datapath, "h2", another_secret):
        status, body = hop([first, second, third], f"Bearer {token}", "library/hop", b"x" * 1024)
    assert status >= 400 and b"BLOB_UPLOAD_INVALID" in body, (status, body)


def test_control_one_node_on_storage_of_its_own_loses_the_upload(datapath, tmp_path):
    token = datapath.token(datapath.entry, "repository:library/hop:pull,push")

    def own_storage(config):
        config["storage"]["filesystem"]["rootdirectory"] = str(tmp_path / "elsewhere")

    with changed_registry(datapath, "h2", own_storage):
        status, body = hop(datapath.hosts, f"Bearer {token}", "library/hop", b"y" * 1024)
    assert status >= 400 and b"BLOB_UPLOAD_UNKNOWN" in body, (status, body)


def test_control_one_node_trusting_another_certificate_refuses_the_others_tokens(datapath, tmp_path):
    _, certificate = token_key_pair("another")
    other = tmp_path / "other-root.crt"
    other.write_text(certificate)
    token = datapath.token(datapath.nodes["h1"].url, "repository:library/hop:pull")

    def other_trust(config):
        config["auth"]["token"]["rootcertbundle"] = str(other)

    with changed_registry(datapath, "h2", other_trust):
        status, _, _ = request(datapath.nodes["h2"].url, "GET", "/v2/library/hop/tags/list", token=token)
        log = datapath.registry_log("h2")
    assert status == 401
    assert "token signed by untrusted key" in log


def test_control_customize_crt_on_gives_each_node_a_key_pair_of_its_own(datapath, tmp_path, secrets):
    """With customize_crt = on, the real prepare makes a pair per node: another node's tokens are refused."""
    def customize(node: str, installer: Path) -> None:
        config = installer / "harbor.cfg"
        text = config.read_text()
        assert text.count("customize_crt = off") == 1
        config.write_text(text.replace("customize_crt = off", "customize_crt = on"))

    customized = Harbor1DataPath(TOPOLOGY, tmp_path / "customized", secrets, prepared=customize)
    keys = {customized.private_key(name).read_bytes() for name in customized.nodes}
    assert len(keys) == len(customized.nodes), "prepare made one pair per node"
    token = make_token(load_private_key(str(customized.private_key("h1"))), "admin", "harbor-registry",
                       ["repository:library/hop:pull"])

    def trust_customized(config):
        config["auth"]["token"]["rootcertbundle"] = str(customized.nodes["h2"].config_dir / "registry" / "root.crt")

    with changed_registry(datapath, "h2", trust_customized):
        status, _, _ = request(datapath.nodes["h2"].url, "GET", "/v2/library/hop/tags/list", token=token)
        log = datapath.registry_log("h2")
    assert status == 401
    assert "token signed by untrusted key" in log


# --- failure under load ------------------------------------------------------------------------

_UPLOADS = "docker/registry/v2/repositories/{}/_uploads"  # distribution's layout: one directory per upload


def _pull_blob(host: str, token: str, repository: str, image: Image) -> bool:
    try:
        status, _, body = request(host, "GET", f"/v2/{repository}/blobs/{image.layer_digest}", token=token, timeout=30)
    except OSError:
        return False
    return status == 200 and "sha256:" + hashlib.sha256(body).hexdigest() == image.layer_digest


def test_killing_the_sticky_nodes_registry_during_pulls_fails_none_and_it_comes_back(datapath, small_image, big_image, tmp_path):
    assert push(small_image, datapath.entry, "library/small").returncode == 0
    token = datapath.token(datapath.entry, "repository:library/small:pull")
    sticky = datapath.sticky_node(token)
    failures: list[int] = []
    killed = threading.Event()

    def pulls():
        for index in range(PULLS_UNDER_FAILURE):
            if index == PULLS_UNDER_FAILURE // 4:
                killed.set()
            if not _pull_blob(datapath.entry, token, "library/small", small_image):
                failures.append(index)

    puller = threading.Thread(target=pulls)
    puller.start()
    assert killed.wait(timeout=120)
    datapath.kill_registry(sticky)
    puller.join(timeout=300)
    assert not puller.is_alive()
    try:
        assert failures == [], f"pulls lost while {sticky}'s registry died: {failures}"
        # Meanwhile a push succeeds (on another node), and the returning node serves it.
        meanwhile = push(big_image, datapath.entry, "library/meanwhile")
        assert meanwhile.returncode == 0, meanwhile.stderr
    finally:
        datapath.start_registry(sticky)
    layer = _pulled_layer(datapath.nodes[sticky].url, "library/meanwhile", big_image, tmp_path / "back")
    assert same_bytes(layer, big_image.layer_path)


def test_killing_the_sticky_nodes_registry_during_a_push_fails_at_most_that_push(datapath, tmp_path):
    fresh = make_image(tmp_path / "fresh", BIG)  # a layer no registry holds yet: the push really uploads it
    token = datapath.token(datapath.entry, "repository:library/during:pull,push")
    sticky = datapath.sticky_node(token)
    pusher = threading.Thread(target=push, args=(fresh, datapath.entry, "library/during"))
    pusher.start()
    uploads = Path(datapath.nodes[sticky].config["storage"]["filesystem"]["rootdirectory"]) / _UPLOADS.format("library/during")
    deadline = time.monotonic() + 60
    while pusher.is_alive() and time.monotonic() < deadline and not any(data.stat().st_size for data in uploads.glob("*/data")):
        time.sleep(0.01)  # until the layer's bytes reach the registry
    in_flight = pusher.is_alive()
    datapath.kill_registry(sticky)
    try:
        assert in_flight, "the push ended before the registry was killed: the test proved nothing"
        pusher.join(timeout=300)
        assert not pusher.is_alive()
        after = push(fresh, datapath.entry, "library/after")
        assert after.returncode == 0, f"the next push failed too: {after.stderr}"
    finally:
        datapath.start_registry(sticky)
