"""The compose file is the stock 1.1.2 one with exactly the spec's changes, nothing more."""

from __future__ import annotations

import yaml
from deepdiff import DeepDiff

from generator.pipeline import load_cluster
from tests.helpers import compiled, require_reference

STOCK_LOG_DIR = "/var/log/harbor/"


def _stock(version: str) -> dict:
    text = (require_reference() / "docker-compose.tpl").read_text()
    return yaml.safe_load(text.replace("__version__", f"v{version}"))


def _moved_volume(volume: str, data_root: str, log_dir: str, relabel: bool) -> str:
    """The spec's change to one volume: /data and the log directory onto CephFS."""
    host, container, *options = volume.split(":")
    if host.startswith("/data"):
        host = data_root + host[len("/data"):]
    elif host == STOCK_LOG_DIR:
        host = log_dir + "/"
    else:
        return volume  # installer-relative config volumes stay as shipped
    if not relabel:
        options = [option for option in options if option != "z"]
    return ":".join([host, container, *options])


def expected_compose(cluster, node) -> dict:
    compose = _stock(cluster.harbor.version)
    del compose["services"]["mysql"]
    for service in compose["services"].values():
        if "depends_on" in service:
            service["depends_on"] = [name for name in service["depends_on"] if name != "mysql"]
        service["volumes"] = [
            _moved_volume(volume, cluster.cephfs.data_root, cluster.log_host_dir(node), cluster.cephfs.selinux_relabel)
            for volume in service.get("volumes", [])
        ]
    return compose


def test_compose_differs_from_stock_by_exactly_the_spec_changes(harbor1_case):
    _, topology = harbor1_case
    cluster = load_cluster(topology)
    _, tree = compiled(topology)
    for node in cluster.harbor_nodes:
        ours = yaml.safe_load(tree[f"{node.name}/harbor/docker-compose.yml"].content)
        difference = DeepDiff(expected_compose(cluster, node), ours)
        assert not difference, f"{node.name}: compose differs from stock beyond the spec's changes: {difference}"


def test_every_data_and_log_path_is_on_cephfs(harbor1_case):
    _, topology = harbor1_case
    cluster = load_cluster(topology)
    _, tree = compiled(topology)
    for node in cluster.harbor_nodes:
        compose = yaml.safe_load(tree[f"{node.name}/harbor/docker-compose.yml"].content)
        assert "mysql" not in compose["services"]
        hosts = [v.split(":")[0] for s in compose["services"].values() for v in s.get("volumes", [])]
        assert not [h for h in hosts if h.startswith(("/data", "/var/log"))], hosts
        assert f"{cluster.log_host_dir(node)}/" in hosts


def test_nodes_never_share_a_log_directory(harbor1_case):
    _, topology = harbor1_case
    cluster = load_cluster(topology)
    log_dirs = [cluster.log_host_dir(node) for node in cluster.harbor_nodes]
    assert len(set(log_dirs)) == len(log_dirs)


def test_selinux_switch_drops_relabel_only_on_cephfs_volumes():
    from tests.helpers import TOPOLOGIES

    topology = TOPOLOGIES / "selinux-dedicated-client.yaml"
    _, tree = compiled(topology)
    compose = yaml.safe_load(tree["node0/harbor/docker-compose.yml"].content)
    volumes = [v for s in compose["services"].values() for v in s.get("volumes", [])]
    on_cephfs = [v for v in volumes if v.startswith("/mnt/cephfs/")]
    local = [v for v in volumes if v.startswith("./")]
    assert on_cephfs and all(not v.endswith(":z") for v in on_cephfs)
    assert local and all(v.endswith(":z") for v in local)
