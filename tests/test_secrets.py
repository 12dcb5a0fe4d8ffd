"""Secrets: generated once, legal everywhere they land, checked the same way in Python and in bash."""

from __future__ import annotations

import re
import stat
import subprocess

import pytest
import yaml

from generator.secrets.file import quote
from generator.secrets.legality import CONTEXTS, value_problems
from generator.secrets.placeholders import needed_secrets, placeholder_uses, placeholders_in
from generator.targets import TARGETS
from tests.helpers import ROOT, compiled, run_harborgen, secrets_for, write_secrets_file
from tests.prepare_emulation import adminserver_env, read_cfg

TOPOLOGY = ROOT / "topology.yaml"

HOSTILE = [
    "dollar$sign", "$HOME", "${HOME}", "percent%s", "hash#tag", "a #comment", "it's", 'say "hi"', "back\\slash",
    "semi;colon", "a ;comment", "with space", " leading", "trailing ", "ünïcödé", "ends-ü", "`id`", "$(reboot)",
    "x" * 64, "a\nb", "tab\there", "'quoted'", '"quoted"', "&amp;", "=equals=", "\u00a0nbsp", "pä-ss wörd",
]


harborgen = run_harborgen


def test_every_placeholder_lands_in_a_known_context(topology_case):
    _, topology = topology_case
    _, tree = compiled(topology)
    for path, artifact in tree.items():
        # A derived form (|bcrypt, |scram) lands instead of the value: its context is the form's own.
        if any(not form for _, form in placeholder_uses(artifact.content)):
            assert artifact.contexts, f"{path} holds a placeholder in no known context (its catalogue row names none)"
    rows = [row for target in TARGETS.values() for row in target.catalogue.rows]
    assert {context for row in rows for context in row.contexts} <= set(CONTEXTS)


def test_generate_adds_every_secret_once_and_never_changes_one(tmp_path):
    secrets = tmp_path / "secrets.yaml"
    first = harborgen("secrets", "generate", str(TOPOLOGY), "--secrets", str(secrets))
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert "ceph auth get-key client.admin" in first.stderr
    values = yaml.safe_load(secrets.read_text())
    _, tree = compiled(TOPOLOGY)
    assert set(values) == set(needed_secrets(tree)) - {"cephx_key_admin"}
    assert len(values["harbor_secretkey"]) == 16

    with secrets.open("a") as stream:
        stream.write("cephx_key_admin: AQCeYjxa4vb+CBAA154r9pAO5nZyDkK8cnljDQ==\n")
    before = secrets.read_bytes()
    second = harborgen("secrets", "generate", str(TOPOLOGY), "--secrets", str(secrets))
    assert second.returncode == 0 and "0 added" in second.stdout
    assert secrets.read_bytes() == before

    check = harborgen("secrets", "check", str(TOPOLOGY), "--secrets", str(secrets))
    assert check.returncode == 0, check.stderr


def test_generated_passwords_are_legal_in_every_context():
    from generator.secrets.generate import PASSWORD_ALPHABET, PASSWORD_LENGTH, random_text

    for _ in range(200):
        assert value_problems(random_text(PASSWORD_ALPHABET, PASSWORD_LENGTH), CONTEXTS.keys() - {
            "secretkey", "cephx-key", "rsa-private-key", "certificate", "yaml-plain", "redis-conf", "word", "csrf-key"}) == []


def test_generated_secrets_fit_every_context_they_land_in():
    """Each kind harborgen makes, for the contexts the render gives it (both targets)."""
    from generator.pipeline import load_cluster, secrets_needed
    from generator.secrets.generate import generate_missing
    from generator.targets import target_of
    from tests.helpers import all_topologies, compiled

    for topology in all_topologies().values():
        cluster_name, tree = compiled(topology)
        cluster = load_cluster(topology)
        managed = target_of(cluster).managed_secrets
        needed = secrets_needed(cluster, tree)
        cephx = next(name for name in needed if name.startswith("cephx_key_"))
        for _ in range(20):
            without_pair = {k: v for k, v in needed.items() if not k.startswith("token_")}
            added, _ = generate_missing(without_pair, {}, cluster_name=cluster_name, cephx_name=cephx, managed=managed)
            for name, value in added.items():
                assert value_problems(value, needed[name]) == [], (topology.name, name)


def test_check_names_the_secret_and_the_context_and_never_the_value(tmp_path, token_pair):
    values = secrets_for(TOPOLOGY, token_pair, harbor_db_password="a ;b", harbor_admin_password="x#y")
    secrets = write_secrets_file(tmp_path / "s.yaml", values)
    result = harborgen("secrets", "check", str(TOPOLOGY), "--secrets", str(secrets))
    assert result.returncode == 2
    assert re.search(r"s\.yaml:\d+:\d+: harbor_db_password: .*';'.*harbor\.cfg", result.stderr)
    assert re.search(r"harbor_admin_password: .*'#'.*env", result.stderr)
    assert "a ;b" not in result.stderr and "x#y" not in result.stderr


def test_check_refuses_a_secrets_file_others_can_read(tmp_path, token_pair):
    secrets = write_secrets_file(tmp_path / "s.yaml", secrets_for(TOPOLOGY, token_pair))
    secrets.chmod(0o644)
    result = harborgen("secrets", "check", str(TOPOLOGY), "--secrets", str(secrets))
    assert result.returncode == 2 and "expected 0600" in result.stderr


def test_mismatched_token_pair_is_refused(tmp_path, token_pair):
    from generator.secrets.generate import token_key_pair

    other_key, _ = token_key_pair("other")
    secrets = write_secrets_file(tmp_path / "s.yaml", secrets_for(TOPOLOGY, token_pair, token_private_key=other_key))
    result = harborgen("secrets", "check", str(TOPOLOGY), "--secrets", str(secrets))
    assert result.returncode == 2 and "token_certificate" in result.stderr


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:24])
def test_hostile_password_is_refused_or_read_back_exactly(value, tmp_path, token_pair):
    """Through harbor.cfg (Python 2 and 3 rules) and prepare into the adminserver env, and SQL."""
    values = secrets_for(TOPOLOGY, token_pair, harbor_db_password=value)
    contexts = needed_secrets(compiled(TOPOLOGY)[1])["harbor_db_password"]
    if value_problems(value, contexts):
        secrets = write_secrets_file(tmp_path / "s.yaml", values)
        result = harborgen("secrets", "check", str(TOPOLOGY), "--secrets", str(secrets))
        assert result.returncode == 2 and "harbor_db_password" in result.stderr
        return
    from generator.secrets.packs import materialize

    _, tree = compiled(TOPOLOGY)
    filled = materialize(tree, values)
    cfg_text = filled["node0/harbor/harbor.cfg"].content.decode()
    template = filled["node0/harbor/common/templates/adminserver/env"].content.decode()
    for python2 in (False, True):
        cfg = read_cfg(cfg_text, python2=python2)
        assert cfg["db_password"] == value
        assert adminserver_env(template, cfg)["MYSQL_PWD"] == value
    sql = filled["mysql/database/create-database.sql"].content.decode()
    assert "IDENTIFIED BY '" + value.replace("'", "''") + "'" in sql


def test_generate_then_materialize_fills_every_node_alike_and_keeps_secrets_private(tmp_path):
    secrets = tmp_path / "s.yaml"
    assert harborgen("secrets", "generate", str(TOPOLOGY), "--secrets", str(secrets)).returncode == 0
    with secrets.open("a") as stream:
        stream.write("cephx_key_admin: AQCeYjxa4vb+CBAA154r9pAO5nZyDkK8cnljDQ==\n")
    values = yaml.safe_load(secrets.read_text())
    out = tmp_path / "shipping"
    result = harborgen("materialize", str(TOPOLOGY), "--secrets", str(secrets), "--out", str(out))
    assert result.returncode == 0, result.stderr
    cluster_dir = out / "harbor-ceph"
    assert stat.S_IMODE(cluster_dir.stat().st_mode) == 0o700
    keys, configs = set(), set()
    for node in ("admin", "node0", "node1"):
        bundle = cluster_dir / node
        for python2 in (False, True):
            cfg = read_cfg((bundle / "harbor/harbor.cfg").read_text(), python2=python2)
            env = adminserver_env((bundle / "harbor/common/templates/adminserver/env").read_text(), cfg)
            assert env["MYSQL_PWD"] == values["harbor_db_password"]
            assert env["HARBOR_ADMIN_PASSWORD"] == values["harbor_admin_password"]
        for private in ("harbor/common/templates/ui/private_key.pem", "harbor/harbor.cfg", "shared/secretkey", "ceph/admin.secret"):
            assert stat.S_IMODE((bundle / private).stat().st_mode) == 0o600, private
        assert (bundle / "shared/secretkey").read_text() == values["harbor_secretkey"]
        keys.add((bundle / "harbor/common/templates/ui/private_key.pem").read_bytes()
                 + (bundle / "harbor/common/templates/registry/root.crt").read_bytes())
        configs.add((bundle / "harbor/common/templates/registry/config.yml").read_bytes())
        assert subprocess.run(["sha256sum", "--quiet", "-c", "MANIFEST.sha256"], cwd=bundle).returncode == 0
    assert len(keys) == 1 and len(configs) == 1
    for path in cluster_dir.rglob("*"):
        if path.is_file():
            assert not placeholders_in(path.read_bytes()), f"{path} keeps a placeholder"
    committed = "".join(p.read_text() for p in (ROOT / "out").rglob("*") if p.is_file())
    for name, value in values.items():
        assert value not in committed, f"{name} occurs in the committed render"


def test_materialize_refuses_the_committed_render_directory(tmp_path, token_pair):
    secrets = write_secrets_file(tmp_path / "s.yaml", secrets_for(TOPOLOGY, token_pair))
    result = harborgen("materialize", str(TOPOLOGY), "--secrets", str(secrets), "--out", "out", cwd=ROOT)
    assert result.returncode == 2 and "refusing" in result.stderr


def test_quote_is_yaml():
    for value in HOSTILE:
        assert yaml.safe_load(f"k: {quote(value)}")["k"] == value


@pytest.mark.real_component
def test_accepted_passwords_survive_docker_compose_v1_env_file_reader(tmp_path, token_pair):
    """The env file prepare writes, read by docker-compose v1's own reader (Debian's package)."""
    from tests.helpers import require_tool

    compose = require_tool("docker-compose")
    with open(compose) as script:
        interpreter = script.readline().removeprefix("#!").strip() or "/usr/bin/python3"
    from generator.secrets.packs import materialize

    contexts = needed_secrets(compiled(TOPOLOGY)[1])["harbor_db_password"]
    accepted = [value for value in HOSTILE if not value_problems(value, contexts)]
    assert len(accepted) >= 8
    _, tree = compiled(TOPOLOGY)
    expected = {}
    for index, value in enumerate(accepted):
        filled = materialize(tree, secrets_for(TOPOLOGY, token_pair, harbor_db_password=value))
        cfg = read_cfg(filled["node0/harbor/harbor.cfg"].content.decode(), python2=True)
        env_text = "".join(
            f"{key}={val}\n"
            for key, val in adminserver_env(filled["node0/harbor/common/templates/adminserver/env"].content.decode(), cfg).items()
        )
        env_file = tmp_path / f"env{index}"
        env_file.write_text(env_text, encoding="utf-8")
        expected[str(env_file)] = value
    program = (
        "import json, sys\n"
        "from compose.config.environment import env_vars_from_file\n"
        "print(json.dumps({path: env_vars_from_file(path)['MYSQL_PWD'] for path in sys.argv[1:]}))\n"
    )
    result = subprocess.run([interpreter, "-c", program, *expected], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert __import__("json").loads(result.stdout) == expected


@pytest.mark.parametrize("value", HOSTILE + ["Abc123+/=._~-xyz"], ids=lambda v: repr(v)[:24])
def test_hostile_http_secret_is_refused_or_read_back_by_prepare_and_the_registry(value, token_pair):
    """registry config.yml is a string.Template that prepare fills, then YAML the registry reads."""
    from string import Template

    from generator.secrets.packs import materialize

    contexts = needed_secrets(compiled(TOPOLOGY)[1])["registry_http_secret"]
    problems = value_problems(value, contexts)
    if problems:
        assert all("registry config.yml" in p or "string.Template" in p or "control character" in p for p in problems), problems
        return
    _, tree = compiled(TOPOLOGY)
    filled = materialize(tree, secrets_for(TOPOLOGY, token_pair, registry_http_secret=value))
    template = filled["node1/harbor/common/templates/registry/config.yml"].content.decode()
    config = yaml.safe_load(Template(template).substitute(ui_url="http://10.222.76.70"))
    assert config["http"]["secret"] == value
    assert config["auth"]["token"]["realm"] == "http://10.222.76.70/service/token"


# --- one rule for every command that reads or writes a secrets file ------------------

def _git_repository(directory, ignore: str = "") -> None:
    subprocess.run(["git", "init", "-q", str(directory)], check=True)
    if ignore:
        (directory / ".gitignore").write_text(ignore)


@pytest.mark.parametrize("command", ["generate", "check"])
def test_a_secrets_file_git_would_commit_is_refused(tmp_path, token_pair, command):
    _git_repository(tmp_path)
    secrets = write_secrets_file(tmp_path / "secrets.yaml", secrets_for(TOPOLOGY, token_pair))
    before = secrets.read_bytes()
    result = harborgen("secrets", command, str(TOPOLOGY), "--secrets", str(secrets))
    assert result.returncode == 2
    assert f"inside the Git work tree {tmp_path}" in result.stderr and "Traceback" not in result.stderr
    assert secrets.read_bytes() == before


def test_a_secrets_file_git_ignores_is_accepted(tmp_path):
    _git_repository(tmp_path, ignore="*.secrets.yaml\n")
    secrets = tmp_path / "prod.secrets.yaml"
    result = harborgen("secrets", "generate", str(TOPOLOGY), "--secrets", str(secrets))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600


def test_materialize_refuses_a_secrets_file_in_git(tmp_path, token_pair):
    _git_repository(tmp_path / "repo")
    secrets = write_secrets_file(tmp_path / "repo" / "s.yaml", secrets_for(TOPOLOGY, token_pair))
    result = harborgen("materialize", str(TOPOLOGY), "--secrets", str(secrets), "--out", str(tmp_path / "ship"))
    assert result.returncode == 2 and "Git does not ignore it" in result.stderr
    assert not (tmp_path / "ship").exists()


def test_generate_writes_through_a_link_to_the_real_file(tmp_path):
    real = tmp_path / "vault" / "secrets.yaml"
    real.parent.mkdir()
    real.write_text("email_password: 'kept'\n")
    real.chmod(0o600)
    link = tmp_path / "secrets.yaml"
    link.symlink_to(real)
    result = harborgen("secrets", "generate", str(TOPOLOGY), "--secrets", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink(), "the link was replaced by a regular file"
    values = yaml.safe_load(real.read_text())
    assert values["email_password"] == "kept" and "harbor_db_password" in values
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


def test_generate_refuses_a_secrets_file_others_can_read(tmp_path):
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("email_password: 'kept'\n")
    secrets.chmod(0o644)
    result = harborgen("secrets", "generate", str(TOPOLOGY), "--secrets", str(secrets))
    assert result.returncode == 2 and "has mode 0644" in result.stderr
    assert secrets.read_text() == "email_password: 'kept'\n"


def test_a_secrets_file_with_a_merge_key_is_refused_with_its_position(tmp_path):
    secrets = tmp_path / "s.yaml"
    secrets.write_text("<<: {email_password: x}\n")
    secrets.chmod(0o600)
    for command in ("generate", "check"):
        result = harborgen("secrets", command, str(TOPOLOGY), "--secrets", str(secrets))
        assert result.returncode == 2 and f"{secrets}:1:1: merge key" in result.stderr, result.stderr


@pytest.mark.parametrize("half", ["private key", "certificate", "both"])
def test_the_published_installer_key_pair_is_refused(tmp_path, token_pair, half):
    from tests.helpers import require_reference

    templates = require_reference() / "common" / "templates"
    published = {"token_private_key": (templates / "ui/private_key.pem").read_text(),
                 "token_certificate": (templates / "registry/root.crt").read_text()}
    chosen = published if half == "both" else {
        "private key": {"token_private_key": published["token_private_key"]},
        "certificate": {"token_certificate": published["token_certificate"]},
    }[half]
    secrets = write_secrets_file(tmp_path / "s.yaml", secrets_for(TOPOLOGY, token_pair, **chosen))
    for command in (("secrets", "check", str(TOPOLOGY)), ("materialize", str(TOPOLOGY), "--out", str(tmp_path / "ship")),
                    ("secrets", "pack", str(TOPOLOGY), "--out", str(tmp_path / "packs"))):
        result = run_harborgen(*command, "--secrets", str(secrets))
        assert result.returncode == 2, result.stderr
        for name in chosen:
            assert f"{name}: belongs to the pair every Harbor 1.1.2 installer ships" in result.stderr
        assert "anyone could sign registry tokens" in result.stderr
    assert not (tmp_path / "ship").exists() and not (tmp_path / "packs").exists()


def test_the_pair_check_compares_public_keys_of_any_type():
    """It compared RSA public numbers, which an Ed25519 key does not have; the PEM-type check
    refuses such a key first, but the pair check must not depend on that order."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import NameOID

    from generator.secrets.legality import key_pair_problem

    def pair():
        key = ed25519.Ed25519PrivateKey.generate()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                       .serial_number(1).not_valid_before(datetime.datetime(2020, 1, 1))
                       .not_valid_after(datetime.datetime(2030, 1, 1)).sign(key, None))
        return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
                certificate.public_bytes(serialization.Encoding.PEM).decode())

    (key, certificate), (_, other) = pair(), pair()
    assert key_pair_problem(key, certificate) is None
    assert key_pair_problem(key, other) == "is not the certificate of token_private_key (expected one key pair)"
