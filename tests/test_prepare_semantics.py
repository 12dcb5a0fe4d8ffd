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
def test_every_node_gets_the_load_balancer_and_the_external_database(harbor1_case, python2):
    _, topology = harbor1_case
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


def test_harbor_cfg_has_exactly_the_stock_keys(harbor1_case):
    _, topology = harbor1_case
    cluster = load_cluster(topology)
    _, tree = compiled(topology)
    stock = read_cfg((require_reference() / "harbor.cfg").read_text(), python2=False)
    for node in cluster.harbor_nodes:
        ours = read_cfg(_node_texts(tree, node.name)[0], python2=False)
        optional = {"ldap_searchdn", "ldap_search_pwd", "ldap_filter"}  # commented out in stock unless used
        assert set(stock) <= set(ours) <= set(stock) | optional


def test_adminserver_template_differs_from_stock_only_in_database_and_reset(harbor1_case):
    _, topology = harbor1_case
    cluster = load_cluster(topology)
    _, tree = compiled(topology)
    stock = (require_reference() / "common/templates/adminserver/env").read_text().splitlines()
    changed = {"MYSQL_HOST", "MYSQL_PORT", "MYSQL_USR", "MYSQL_DATABASE", "RESET"}
    for node in cluster.harbor_nodes:
        ours = [line for line in _node_texts(tree, node.name)[1].splitlines() if not line.startswith("#")]
        assert [line.split("=")[0] for line in ours] == [line.split("=")[0] for line in stock]
        different = {a.split("=")[0] for a, b in zip(ours, stock, strict=True) if a != b}
        assert different <= changed, different


def test_registry_config_is_stock_but_for_a_shared_http_secret(harbor1_case):
    import yaml

    _, topology = harbor1_case
    cluster = load_cluster(topology)
    _, tree = compiled(topology)
    stock = yaml.safe_load((require_reference() / "common/templates/registry/config.yml").read_text())
    contents = {tree[f"{n.name}/harbor/common/templates/registry/config.yml"].content for n in cluster.harbor_nodes}
    assert len(contents) == 1, "registry config.yml differs between nodes"
    ours = yaml.safe_load(contents.pop())
    assert ours["http"].pop("secret") == placeholder("registry_http_secret")
    stock["http"].pop("secret")
    assert ours == stock


# --- what prepare does on disk (tests/prepare_emulation.run_prepare) -----------------------

def _installer(tmp_path, reference, *, customize_crt: str = "off"):
    import shutil

    installer = tmp_path / "installer"
    shutil.copytree(reference / "common" / "templates", installer / "common" / "templates")
    cfg = (reference / "harbor.cfg").read_text()
    cfg = cfg.replace("secretkey_path = /data", f"secretkey_path = {tmp_path / 'data'}")
    cfg = cfg.replace("customize_crt = on", f"customize_crt = {customize_crt}")
    (installer / "harbor.cfg").write_text(cfg)
    return installer


def _with_umask(mask, action):
    import os

    old = os.umask(mask)
    try:
        return action()
    finally:
        os.umask(old)


def test_prepare_makes_a_secretkey_silently_when_none_is_at_secretkey_path(tmp_path):
    """_get_secret: no file, no error: a fresh random key, mode 0600, and the run goes on."""
    import stat

    from tests.prepare_emulation import run_prepare

    installer = _installer(tmp_path, require_reference(), customize_crt="off")
    run_prepare(installer)
    key = tmp_path / "data" / "secretkey"
    assert len(key.read_text()) == 16 and stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_text()
    run_prepare(installer)
    assert key.read_text() == first, "an existing key is read, never replaced"


def test_prepare_writes_with_the_process_umask_and_writes_db_env(tmp_path):
    """render(): a plain open(dest, 'w'), so under umask 022 every secret it writes is 0644."""
    import stat

    from tests.prepare_emulation import run_prepare

    reference = require_reference()
    installer = _installer(tmp_path, reference, customize_crt="off")
    _with_umask(0o022, lambda: run_prepare(installer))
    config = installer / "common" / "config"
    for path in ("adminserver/env", "ui/env", "registry/config.yml", "jobservice/env", "ui/private_key.pem", "db/env"):
        assert stat.S_IMODE((config / path).stat().st_mode) == 0o644, path
    db_password = read_cfg((reference / "harbor.cfg").read_text(), python2=True)["db_password"]
    assert (config / "db/env").read_text().strip() == f"MYSQL_ROOT_PASSWORD={db_password}"
    _with_umask(0o077, lambda: run_prepare(installer))
    assert stat.S_IMODE((config / "db/env").stat().st_mode) == 0o600


def test_prepare_copies_the_installer_key_pair_only_when_customize_crt_is_off(tmp_path):
    from tests.prepare_emulation import run_prepare

    reference = require_reference()
    installer = _installer(tmp_path, reference, customize_crt="off")
    run_prepare(installer)
    copied = installer / "common/config/ui/private_key.pem"
    assert copied.read_bytes() == (installer / "common/templates/ui/private_key.pem").read_bytes()
    on = _installer(tmp_path / "on", reference, customize_crt="on")
    with pytest.raises(NotImplementedError):  # with 'on', prepare makes a new pair on every node: harborgen never sets it
        run_prepare(on)
    assert not (on / "common/config/ui/private_key.pem").exists()
