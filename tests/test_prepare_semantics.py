"""harbor.cfg and the adminserver template, read the way Harbor 1.1.2's prepare reads them."""

from __future__ import annotations

import shutil
import stat

import pytest
import yaml

from generator.pipeline import load_cluster
from generator.secrets.placeholders import placeholder
from tests.helpers import ROOT, compiled, require_reference, secrets_for
from tests.prepare_emulation import adminserver_env, parse_env, read_cfg
from tests.real_prepare import run_prepare1

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


# --- what the real 1.1.2 prepare does on disk --------------------------------------------

STOCK_SECRETKEY_PATH = "/data"  # the stock harbor.cfg's


def _installer(tmp_path, *, customize_crt: str = "off"):
    """A machine root with the stock installer: its harbor.cfg (customize_crt set), prepare and templates."""
    reference = require_reference()
    root = tmp_path / "root"
    installer = root / "opt/harbor"
    installer.mkdir(parents=True)
    cfg = (reference / "harbor.cfg").read_text().replace("customize_crt = on", f"customize_crt = {customize_crt}")
    (installer / "harbor.cfg").write_text(cfg)
    return root, installer


def _prepare(root, installer, umask: int = 0o022):
    result = run_prepare1(installer, root, STOCK_SECRETKEY_PATH, umask=umask)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.real_component
def test_prepare_makes_a_secretkey_silently_when_none_is_at_secretkey_path(tmp_path):
    """_get_secret: no file, no error: a fresh random key, mode 0600, and the run goes on."""
    root, installer = _installer(tmp_path)
    made = _prepare(root, installer)
    assert "Generated and saved secret to file: /data/secretkey" in made.stdout
    key = root / "data/secretkey"
    assert len(key.read_text()) == 16 and stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_text()
    _prepare(root, installer)
    assert key.read_text() == first, "an existing key is read, never replaced"


@pytest.mark.real_component
def test_prepare_writes_with_the_process_umask_and_writes_db_env(tmp_path):
    """render(): a plain open(dest, 'w'), so under umask 022 every secret it writes is 0644."""
    root, installer = _installer(tmp_path)
    _prepare(root, installer, umask=0o022)
    config = installer / "common" / "config"
    for path in ("adminserver/env", "ui/env", "registry/config.yml", "jobservice/env", "ui/private_key.pem", "db/env"):
        assert stat.S_IMODE((config / path).stat().st_mode) == 0o644, path
    db_password = read_cfg((installer / "harbor.cfg").read_text(), python2=True)["db_password"]
    assert (config / "db/env").read_text().strip() == f"MYSQL_ROOT_PASSWORD={db_password}"
    _prepare(root, installer, umask=0o077)
    assert stat.S_IMODE((config / "db/env").stat().st_mode) == 0o600


@pytest.mark.real_component
def test_prepare_copies_the_installer_key_pair_only_when_customize_crt_is_off(tmp_path):
    root, installer = _installer(tmp_path / "off", customize_crt="off")
    _prepare(root, installer)
    copied = installer / "common/config/ui/private_key.pem"
    assert copied.read_bytes() == (installer / "common/templates/ui/private_key.pem").read_bytes()
    # With 'on' (the stock default) prepare makes a new pair with openssl on every run, so on every
    # node: tokens one node signs, the others' registries refuse. harborgen never sets it.
    root, installer = _installer(tmp_path / "on", customize_crt="on")
    _prepare(root, installer)
    made = installer / "common/config/ui/private_key.pem"
    first = made.read_bytes()
    assert first != (installer / "common/templates/ui/private_key.pem").read_bytes()
    _prepare(root, installer)
    assert made.read_bytes() != first, "a second run kept the pair"


def _lay_node(installer, filled, node: str) -> None:
    """What apply.sh lays in a node's installer: harbor.cfg and the templates of the bundle over the stock ones."""
    shutil.copytree(require_reference() / "common/templates", installer / "common/templates")
    prefix = f"{node}/harbor/"
    for path, artifact in filled.items():
        if path.startswith(prefix) and (path == prefix + "harbor.cfg" or path.startswith(prefix + "common/templates/")):
            target = installer / path.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact.content)


PER_RUN = ("UI_SECRET", "JOBSERVICE_SECRET")  # prepare draws them on every run


@pytest.mark.real_component
def test_the_stand_in_reads_harbor_cfg_and_fills_the_adminserver_env_as_the_real_prepare_does(tmp_path, token_pair):
    """read_cfg and adminserver_env serve the fast tests above: here each accepted hostile value goes
    through the real 1.1.2 prepare under Python 2.7, and what it writes is what the stand-in says."""
    from generator.secrets.legality import value_problems
    from generator.secrets.packs import materialize
    from generator.secrets.placeholders import needed_secrets
    from tests.test_secrets import HOSTILE

    topology = ROOT / "topology.yaml"
    _, tree = compiled(topology)
    cluster = load_cluster(topology)
    needed = needed_secrets(tree)
    names = ("harbor_db_password", "harbor_admin_password", "registry_http_secret")
    tried = 0
    for index, value in enumerate(HOSTILE):
        overrides = {name: value for name in names if not value_problems(value, needed[name])}
        if not overrides:
            continue
        tried += 1
        values = secrets_for(topology, token_pair, **overrides)
        filled = materialize(tree, values)
        root = tmp_path / f"machine{index}"
        installer = root / "opt/harbor"
        _lay_node(installer, filled, "node0")
        secretkey = root / cluster.cephfs.data_root.lstrip("/") / "secretkey"
        secretkey.parent.mkdir(parents=True)
        secretkey.write_text(values["harbor_secretkey"])
        result = run_prepare1(installer, root, cluster.cephfs.data_root)
        assert result.returncode == 0, (value, result.stdout + result.stderr)
        real = parse_env((installer / "common/config/adminserver/env").read_text())
        cfg = read_cfg((installer / "harbor.cfg").read_text(), python2=True)
        emulated = adminserver_env((installer / "common/templates/adminserver/env").read_text(), cfg)
        assert {k: v for k, v in real.items() if k not in PER_RUN} == {k: v for k, v in emulated.items() if k not in PER_RUN}, value
        for name, key in (("harbor_db_password", "MYSQL_PWD"), ("harbor_admin_password", "HARBOR_ADMIN_PASSWORD")):
            if name in overrides:
                assert real[key] == value, (name, value)
        if "registry_http_secret" in overrides:
            registry = yaml.safe_load((installer / "common/config/registry/config.yml").read_text())
            assert registry["http"]["secret"] == value
    assert tried >= 8
