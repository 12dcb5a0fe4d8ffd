"""Secrets packs: each machine gets only the secrets its bundle uses; any YAML secrets file is read exactly."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from generator.secrets.legality import CONTEXTS
from tests.helpers import GOLDEN, ROOT, make_packs, run_harborgen, secrets_for, write_secrets_file

TOPOLOGY = ROOT / "topology.yaml"
HARBOR_SIDE = ("harbor_admin_password", "harbor_db_password", "token_private_key", "token_certificate",
               "harbor_secretkey", "registry_http_secret", "email_password", "cephx_key_admin")


def _pack_text(pack: Path) -> str:
    return "".join(path.read_text() for path in sorted(pack.rglob("*")) if path.is_file())


def test_the_load_balancer_pack_holds_no_secret_and_each_pack_only_its_own(tmp_path, token_pair):
    values = secrets_for(TOPOLOGY, token_pair)
    packs = make_packs(TOPOLOGY, write_secrets_file(tmp_path / "s.yaml", values), tmp_path / "packs")
    balancer = _pack_text(packs / "nginx")
    database = _pack_text(packs / "mysql")
    for name in HARBOR_SIDE:
        for line in values[name].splitlines():
            if len(line) >= 8:
                assert line not in balancer, f"{name} reached the load balancer"
                if name != "harbor_db_password":
                    assert line not in database, f"{name} reached the database node"
    assert values["harbor_db_password"] in database
    assert sorted(p.name for p in (packs / "nginx").rglob("*") if p.is_file()) == ["BUNDLE.sha256"]
    assert stat.S_IMODE((packs / "node0").stat().st_mode) == 0o700
    for path in (packs / "node0").rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_pack_names_the_bundle_it_belongs_to(tmp_path, token_pair):
    import hashlib

    packs = make_packs(TOPOLOGY, write_secrets_file(tmp_path / "s.yaml", secrets_for(TOPOLOGY, token_pair)), tmp_path / "p")
    manifest = (ROOT / "out/harbor-ceph/node1/MANIFEST.sha256").read_bytes()
    assert (packs / "node1/BUNDLE.sha256").read_text() == f"{hashlib.sha256(manifest).hexdigest()}  harbor-ceph/node1/MANIFEST.sha256\n"


def test_a_secrets_file_written_by_yaml_safe_dump_passes_check(tmp_path, token_pair):
    values = secrets_for(TOPOLOGY, token_pair)
    secrets = tmp_path / "dumped.yaml"
    secrets.write_text(yaml.safe_dump(values, width=60))
    secrets.chmod(0o600)
    result = run_harborgen("secrets", "check", str(TOPOLOGY), "--secrets", str(secrets))
    assert result.returncode == 0, result.stderr
    # Block scalars for the PEMs, as editors and sops write them, read back exactly too.
    literal = tmp_path / "literal.yaml"
    literal.write_text("".join(
        f"{name}: |\n" + "".join(f"  {line}\n" for line in value.splitlines()) if "\n" in value else f"{name}: '{value}'\n"
        for name, value in values.items()
    ))
    literal.chmod(0o600)
    result = run_harborgen("secrets", "check", str(TOPOLOGY), "--secrets", str(literal))
    assert result.returncode == 0, result.stderr


def test_a_comment_after_a_quoted_value_is_a_comment(tmp_path, token_pair):
    """'Zq7pW4' # old: 'x' is the value Zq7pW4 everywhere it lands, the database included."""
    values = secrets_for(TOPOLOGY, token_pair)
    secrets = write_secrets_file(tmp_path / "s.yaml", {k: v for k, v in values.items() if k != "harbor_db_password"})
    with secrets.open("a") as stream:
        stream.write("harbor_db_password: 'Zq7pW4' # old: 'x'\n")
    packs = make_packs(TOPOLOGY, secrets, tmp_path / "packs")
    sql = (packs / "mysql/files/database/create-database.sql").read_text()
    assert "IDENTIFIED BY 'Zq7pW4';" in sql and "old" not in sql
    assert "db_password = Zq7pW4\n" in (packs / "node0/files/harbor/harbor.cfg").read_text()


def test_a_value_holding_a_placeholder_is_refused(tmp_path, token_pair):
    values = secrets_for(TOPOLOGY, token_pair, email_password="x-HARBORGEN_SECRET[harbor_db_password]")
    secrets = write_secrets_file(tmp_path / "s.yaml", values)
    for command in (("secrets", "check", str(TOPOLOGY)), ("secrets", "pack", str(TOPOLOGY), "--out", str(tmp_path / "p"))):
        result = run_harborgen(*command, "--secrets", str(secrets))
        assert result.returncode == 2 and "email_password: the value contains a harborgen placeholder" in result.stderr
    assert not (tmp_path / "p").exists()


def test_pack_refuses_an_unknown_node(tmp_path, token_pair):
    secrets = write_secrets_file(tmp_path / "s.yaml", secrets_for(TOPOLOGY, token_pair))
    result = run_harborgen("secrets", "pack", str(TOPOLOGY), "--secrets", str(secrets), "--node", "nodeX", "--out", str(tmp_path / "p"))
    assert result.returncode == 2 and "no node 'nodeX'" in result.stderr


def test_a_pack_for_one_node_needs_only_that_nodes_secrets(tmp_path, token_pair):
    values = secrets_for(TOPOLOGY, token_pair)
    only_db = {"harbor_db_password": values["harbor_db_password"]}
    secrets = write_secrets_file(tmp_path / "s.yaml", only_db)
    result = run_harborgen("secrets", "pack", str(TOPOLOGY), "--secrets", str(secrets), "--node", "mysql", "--out", str(tmp_path / "p"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p/files/database/create-database.sql").is_file()


def test_no_template_or_script_holds_a_secret_legality_rule():
    """The rules live in generator/secrets/legality.py alone: no template names a context or re-checks a value."""
    for path in (ROOT / "templates").rglob("*"):
        if path.is_file():
            text = path.read_text()
            for key in CONTEXTS:
                if "-" in key:  # the distinctive names: compose-env, yaml-plain, cephx-key, rsa-private-key
                    assert key not in text, f"{path} names the legality context {key}"
            assert "secret_problem" not in text and "read_secrets" not in text, path


def test_no_secret_value_reaches_the_committed_render_or_golden(tmp_path, token_pair):
    """Plant known values, fill them everywhere, and look for them where no secret may be."""
    planted = {name: f"PLANTED-{name}-7f3a" for name in ("harbor_admin_password", "harbor_db_password", "email_password")}
    values = secrets_for(TOPOLOGY, token_pair, **planted)
    packs = make_packs(TOPOLOGY, write_secrets_file(tmp_path / "s.yaml", values), tmp_path / "packs")
    assert all(value in _pack_text(packs / "node0") for value in planted.values()), "the planted values were not filled"
    for root in (ROOT / "out", GOLDEN):
        for path in root.rglob("*"):
            if path.is_file():
                text = path.read_text()
                assert "PLANTED-" not in text, f"a planted secret reached {path}"
                assert token_pair[0].splitlines()[1] not in text, f"the token key reached {path}"
