"""harbor.cfg and the adminserver template, read the way Harbor 1.1.2's prepare reads them."""

from __future__ import annotations

import pytest

from generator.conventions import placeholder
from generator.pipeline import load_cluster
from tests.helpers import compiled, require_reference
from tests.prepare_emulation import adminserver_env, read_cfg

ADMINSERVER = "harbor/common/templates/adminserver/env"


def _node_texts(tree, node):
    return tree[f"{node}/harbor/harbor.cfg"].content.decode(), tree[f"{node}/{ADMINSERVER}"].content.decode()


@pytest.mark.parametrize("python2", [False, True], ids=["py3", "py2"])
def test_every_node_gets_the_load_balancer_and_the_external_database(topology_case, python2):
    _, topology = topology_case
    cluster = load_cluster(topology)
    _, tree = compiled(topology)
    environments = []
    for node in cluster.harbor_nodes:
        cfg_text, template = _node_texts(tree, node.name)
        cfg = read_cfg(cfg_text, python2=python2)
        env = adminserver_env(template, cfg)
        balancer = cluster.load_balancer
        default_port = 443 if cluster.harbor.scheme == "https" else 80
        host = balancer.server_name if balancer.listen == default_port else f"{balancer.server_name}:{balancer.listen}"
        assert env["EXT_ENDPOINT"] == f"{cluster.harbor.scheme}://{host}"
        assert env["MYSQL_HOST"] == cluster.database.address
        assert env["MYSQL_PORT"] == str(cluster.database.port)
        assert env["MYSQL_USR"] == cluster.database.user
        assert env["MYSQL_DATABASE"] == cluster.database.name
        assert env["MYSQL_PWD"] == placeholder(cluster.database.password.name)
        assert env["HARBOR_ADMIN_PASSWORD"] == placeholder(cluster.harbor.admin_password.name)
        assert env["RESET"] == "true"
        assert cfg["customize_crt"] == "off"
        assert cfg["secretkey_path"] == cluster.cephfs.data_root
        assert cfg["ssl_cert"].startswith(cluster.cephfs.data_root + "/")
        if node.name != balancer.node:
            assert node.address not in cfg["hostname"], "hostname sends clients around the load balancer"
        environments.append(env)
    assert all(env == environments[0] for env in environments), "nodes disagree on the adminserver env"


def test_harbor_cfg_has_exactly_the_stock_keys(topology_case):
    _, topology = topology_case
    cluster = load_cluster(topology)
    _, tree = compiled(topology)
    stock = read_cfg((require_reference() / "harbor.cfg").read_text(), python2=False)
    for node in cluster.harbor_nodes:
        ours = read_cfg(_node_texts(tree, node.name)[0], python2=False)
        optional = {"ldap_searchdn", "ldap_search_pwd", "ldap_filter"}  # commented out in stock unless used
        assert set(stock) <= set(ours) <= set(stock) | optional


def test_adminserver_template_differs_from_stock_only_in_database_and_reset(topology_case):
    _, topology = topology_case
    cluster = load_cluster(topology)
    _, tree = compiled(topology)
    stock = (require_reference() / "common/templates/adminserver/env").read_text().splitlines()
    changed = {"MYSQL_HOST", "MYSQL_PORT", "MYSQL_USR", "MYSQL_DATABASE", "RESET"}
    for node in cluster.harbor_nodes:
        ours = [line for line in _node_texts(tree, node.name)[1].splitlines() if not line.startswith("#")]
        assert [line.split("=")[0] for line in ours] == [line.split("=")[0] for line in stock]
        different = {a.split("=")[0] for a, b in zip(ours, stock, strict=True) if a != b}
        assert different <= changed, different


def test_registry_config_is_stock_but_for_a_shared_http_secret(topology_case):
    import yaml

    _, topology = topology_case
    cluster = load_cluster(topology)
    _, tree = compiled(topology)
    stock = yaml.safe_load((require_reference() / "common/templates/registry/config.yml").read_text())
    contents = {tree[f"{n.name}/harbor/common/templates/registry/config.yml"].content for n in cluster.harbor_nodes}
    assert len(contents) == 1, "registry config.yml differs between nodes"
    ours = yaml.safe_load(contents.pop())
    assert ours["http"].pop("secret") == placeholder("registry_http_secret")
    stock["http"].pop("secret")
    assert ours == stock
