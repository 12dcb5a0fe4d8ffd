"""The CephFS artifacts against a real single-node Ceph on 127.0.0.1 (ceph-fuse: the kernel here has no Ceph client)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from generator.pipeline import load_cluster
from generator.writer import write_tree
from tests.harness.ceph import CEPH_TOOLS, CephCluster, is_mounted, mounts_of, unmount
from tests.helpers import TOPOLOGIES, compiled, make_packs, require_tool, secrets_for, write_secrets_file

pytestmark = pytest.mark.real_component

TOPOLOGY = TOPOLOGIES / "loopback.yaml"


@pytest.fixture(scope="module")
def ceph(tmp_path_factory):
    for tool in CEPH_TOOLS:
        require_tool(tool)
    cluster = CephCluster(tmp_path_factory.mktemp("ceph"))
    mounts: list[Path] = []
    cluster.mounts = mounts
    started = time.monotonic()
    try:
        cluster.start()
        cluster.started_in = time.monotonic() - started
        yield cluster
    finally:
        for path in mounts:
            unmount(path)
        cluster.stop()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    _, tree = compiled(TOPOLOGY)
    out = tmp_path_factory.mktemp("render") / "loopback"
    write_tree(tree, out)
    return out


@pytest.fixture(scope="module")
def bootstrapped(ceph, rendered):
    """The rendered bootstrap script, run once (the MDS is the fixture's, hence --skip-mds)."""
    result = subprocess.run(["bash", str(rendered / "h1/ceph/bootstrap-cephfs.sh"), "--skip-mds"],
                            capture_output=True, text=True, timeout=300, env=ceph.env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _state(ceph) -> tuple:
    pools = {pool["pool_name"]: pool["pg_num"] for pool in ceph.ceph_json("osd", "pool", "ls", "detail")}
    return pools, ceph.ceph_json("fs", "ls"), ceph.ceph_json("auth", "get", "client.harbor")


def test_bootstrap_creates_pools_file_system_and_restricted_client_once(ceph, bootstrapped, rendered):
    pools, filesystems, auth = _state(ceph)
    assert pools["cephfs_data"] == 8 and pools["cephfs_metadata"] == 8
    assert [(fs["name"], fs["metadata_pool"], fs["data_pools"]) for fs in filesystems] == [("cephfs", "cephfs_metadata", ["cephfs_data"])]
    assert auth[0]["caps"] == {"mon": "allow r", "mds": "allow rw path=/harbor", "osd": "allow rw pool=cephfs_data"}
    key = ceph.run("ceph", "auth", "get-key", "client.harbor").stdout.strip()
    assert key in bootstrapped.stdout and "cephx_key_harbor: <key>" in bootstrapped.stdout

    again = subprocess.run(["bash", str(rendered / "h1/ceph/bootstrap-cephfs.sh"), "--skip-mds"],
                           capture_output=True, text=True, timeout=300, env=ceph.env)
    assert again.returncode == 0, again.stderr
    assert _state(ceph) == (pools, filesystems, auth)
    assert again.stdout.count("left as it is") == 5  # two pools, the file system, the directory, the client


def _harbor_node_apply(ceph, rendered, root: Path, pack: Path) -> subprocess.CompletedProcess:
    # CEPH_CONF points nowhere: the rendered scripts must bring their own client configuration.
    env = {**os.environ, "CEPH_CONF": "/nonexistent", "CEPHFS_MOUNT_TIMEOUT": "5"}
    return subprocess.run(["bash", str(rendered / "h2/apply.sh"), "--root", str(root), "--secrets", str(pack)],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def harbor_node(ceph, bootstrapped, rendered, tmp_path_factory, token_pair):
    """Node h2 applied under a temporary root: its CephFS is mounted there by the rendered script, with fuse."""
    # The key as the bootstrap script reports it, put where it says.
    lines = bootstrapped.stdout.splitlines()
    key = lines[lines.index("Key of client.harbor (ceph auth get-key client.harbor):") + 1]
    assert "cephx_key_harbor: <key>" in bootstrapped.stdout
    directory = tmp_path_factory.mktemp("h2")
    secrets = write_secrets_file(directory / "secrets.yaml", secrets_for(TOPOLOGY, token_pair, cephx_key_harbor=key))
    pack = make_packs(TOPOLOGY, secrets, directory / "packs") / "h2"
    root = directory / "root"
    root.mkdir()
    mount_path = root / "mnt/cephfs/harbor"
    ceph.mounts.append(mount_path)
    result = _harbor_node_apply(ceph, rendered, root, pack)
    assert result.returncode == 0, result.stdout + result.stderr
    return {"root": root, "pack": pack, "mount": mount_path, "first": result}


@pytest.fixture(scope="module")
def admin_view(ceph, bootstrapped, tmp_path_factory):
    """The whole file system, mounted as client.admin."""
    path = tmp_path_factory.mktemp("admin-view")
    ceph.run("ceph-fuse", "--id", "admin", "-r", "/", str(path))
    ceph.mounts.append(path)
    return path


def test_mount_script_mounts_the_harbor_directory_as_the_restricted_client(harbor_node, admin_view):
    assert is_mounted(harbor_node["mount"])
    (harbor_node["mount"] / "probe.txt").write_text("written by h2\n")
    assert (admin_view / "harbor" / "probe.txt").read_text() == "written by h2\n"
    fstab = (harbor_node["root"] / "etc/fstab").read_text().splitlines()
    assert fstab == [
        "none /mnt/cephfs/harbor fuse.ceph ceph.id=harbor,ceph.client_mountpoint=/harbor,ceph.keyfile=/etc/ceph/harbor.secret,"
        "ceph.conf=/etc/ceph/harborgen-loopback.conf,noatime,_netdev 0 0"
    ]
    assert oct((harbor_node["root"] / "etc/ceph/harbor.secret").stat().st_mode & 0o777) == "0o600"


def test_restricted_client_cannot_mount_the_root(harbor_node, tmp_path):
    root = harbor_node["root"]
    target = tmp_path / "root-attempt"
    target.mkdir()
    result = subprocess.run(
        ["ceph-fuse", "--id", "harbor", "--keyfile", str(root / "etc/ceph/harbor.secret"),
         "-c", str(root / "etc/ceph/harborgen-loopback.conf"), "--client_mount_timeout", "20", "-r", "/", str(target)],
        capture_output=True, text=True, timeout=120,
    )
    if is_mounted(target):
        unmount(target)
    assert result.returncode != 0
    assert not is_mounted(target)


def test_every_compose_host_directory_exists_on_cephfs(harbor_node, rendered, admin_view):
    cluster = load_cluster(TOPOLOGY)
    compose = yaml.safe_load((rendered / "h2/harbor/docker-compose.yml").read_text())
    prefix = cluster.cephfs.harbor_root + "/"
    hosts = {v.split(":")[0].rstrip("/") for s in compose["services"].values() for v in s.get("volumes", [])}
    on_cephfs = sorted(h for h in hosts if h.startswith(prefix))
    assert len(on_cephfs) >= 6
    for host in on_cephfs:
        path = admin_view / cluster.cephfs.harbor_dir / host.removeprefix(prefix)
        assert path.exists(), f"{host} is not on CephFS"
    assert (admin_view / "harbor/data/secretkey").stat().st_size == 16


def test_a_second_apply_keeps_one_fstab_line_and_one_mount(ceph, harbor_node, rendered):
    result = _harbor_node_apply(ceph, rendered, harbor_node["root"], harbor_node["pack"])
    assert result.returncode == 0, result.stderr
    assert "already mounted" in result.stdout and "wrote" not in result.stdout
    assert len((harbor_node["root"] / "etc/fstab").read_text().splitlines()) == 1
    assert mounts_of(harbor_node["mount"]) == 1


def test_check_finds_nothing_on_a_node_applied_over_real_cephfs_and_names_a_lost_mount(ceph, harbor_node, rendered):
    env = {**os.environ, "CEPH_CONF": "/nonexistent"}
    check = [str(rendered / "h2/apply.sh"), "--root", str(harbor_node["root"]), "--check", "--secrets", str(harbor_node["pack"])]
    clean = subprocess.run(["bash", *check], capture_output=True, text=True, timeout=120, env=env)
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", ""), clean.stdout + clean.stderr
    key = harbor_node["root"] / "etc/ceph/harbor.secret"
    key.chmod(0o640)
    loosened = subprocess.run(["bash", *check], capture_output=True, text=True, timeout=120, env=env)
    key.chmod(0o600)
    assert loosened.returncode == 1 and f"drift: {key}: mode changed: 0640, expected 0600" in loosened.stdout
    assert key.read_text().strip() not in loosened.stdout + loosened.stderr


def test_bootstrap_refuses_a_client_whose_caps_differ_and_prints_the_fix(ceph, bootstrapped, rendered):
    ceph.run("ceph", "auth", "caps", "client.harbor", "mon", "allow *", "mds", "allow rw", "osd", "allow rw")
    key = ceph.run("ceph", "auth", "get-key", "client.harbor").stdout.strip()
    result = subprocess.run(["bash", str(rendered / "h1/ceph/bootstrap-cephfs.sh"), "--skip-mds"],
                            capture_output=True, text=True, timeout=300, env=ceph.env)
    assert result.returncode == 1
    assert "It has:\n    mds allow rw\n    mon allow *\n    osd allow rw\n" in result.stderr
    assert "It should have:\n    mds allow rw path=/harbor\n    mon allow r\n    osd allow rw pool=cephfs_data\n" in result.stderr
    fix = next(line for line in result.stderr.splitlines() if line.startswith("To give it exactly those: "))
    assert key not in result.stdout + result.stderr, "the key was printed"
    assert ceph.ceph_json("auth", "get", "client.harbor")[0]["caps"]["mon"] == "allow *", "caps were changed silently"
    subprocess.run(["bash", "-c", fix.removeprefix("To give it exactly those: ")], check=True, env=ceph.env, capture_output=True, timeout=60)
    again = subprocess.run(["bash", str(rendered / "h1/ceph/bootstrap-cephfs.sh"), "--skip-mds"],
                           capture_output=True, text=True, timeout=300, env=ceph.env)
    assert again.returncode == 0, again.stderr
    assert "client.harbor exists with the capabilities it needs" in again.stdout


def test_with_the_cluster_stopped_apply_refuses_to_go_on(ceph, harbor_node, rendered, admin_view):
    """Last in this module: it stops the cluster."""
    for path in list(ceph.mounts):
        unmount(path)
    ceph.stop()
    result = _harbor_node_apply(ceph, rendered, harbor_node["root"], harbor_node["pack"])
    assert result.returncode == 1
    assert "CephFS is not mounted" in result.stderr
    assert not is_mounted(harbor_node["mount"])
