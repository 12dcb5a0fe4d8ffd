"""apply.sh on a machine, played under --root with stand-ins for mount, mountpoint, docker and mysql."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from generator.writer import write_tree
from tests.harness.machine1 import INSTALLER, Machine
from tests.helpers import (
    CEPHX_TEST_KEY,
    REFERENCE,
    ROOT,
    TOPOLOGIES,
    compiled,
    files_holding,
    make_packs,
    planted_needles,
    secrets_for,
    tree_state,
    write_secrets_file,
)

TOPOLOGY = ROOT / "topology.yaml"
STUBS = Path(__file__).parent / "stubs"


@pytest.fixture
def machine(tmp_path, token_pair):
    """A rendered cluster, its secrets packs, and one machine to run them on."""
    _, tree = compiled(TOPOLOGY)
    write_tree(tree, tmp_path / "out" / "harbor-ceph")
    values = secrets_for(TOPOLOGY, token_pair, harbor_db_password="it's-a-pass")
    secrets = write_secrets_file(tmp_path / "secrets.yaml", values)
    packs = make_packs(TOPOLOGY, secrets, tmp_path / "packs")
    return Machine(tmp_path / "machine", tmp_path / "out" / "harbor-ceph", packs, values)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(path.relative_to(root)): (path.read_bytes(), stat.S_IMODE(path.stat().st_mode), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_harbor_node_apply_installs_everything_then_changes_nothing(machine):
    first = machine.apply("node0", "--secrets", machine.pack("node0"))
    assert first.returncode == 0, first.stdout + first.stderr
    root, values = machine.root, machine.values
    installer = root / INSTALLER

    key_file = root / "etc/ceph/admin.secret"
    assert key_file.read_text() == CEPHX_TEST_KEY + "\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "etc/fstab").stat().st_mode) == 0o644
    fstab_lines = (root / "etc/fstab").read_text().splitlines()
    assert fstab_lines == [
        "10.222.77.73:6789:/harbor /mnt/cephfs/harbor ceph name=admin,secretfile=/etc/ceph/admin.secret,noatime,_netdev 0 0"
    ]
    secretkey = root / "mnt/cephfs/harbor/data/secretkey"
    assert secretkey.read_text() == values["harbor_secretkey"]
    assert stat.S_IMODE(secretkey.stat().st_mode) == 0o600
    for directory in ("data/registry", "data/config", "data/ca_download", "data/job_logs", "logs/node0"):
        assert (root / "mnt/cephfs/harbor" / directory).is_dir()

    cfg = installer / "harbor.cfg"
    assert f"db_password = {values['harbor_db_password']}\n" in cfg.read_text()
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert (installer / "harbor.cfg.harborgen-orig").read_text() == "hostname = reg.mydomain.com\n"
    assert (installer / "docker-compose.yml.harborgen-orig").read_text() == "version: '2'\n"
    compose = installer / "docker-compose.yml"
    assert compose.read_bytes() == (machine.bundles / "node0/harbor/docker-compose.yml").read_bytes()
    assert stat.S_IMODE(compose.stat().st_mode) == 0o644
    private_key = installer / "common/templates/ui/private_key.pem"
    assert private_key.read_text() == values["token_private_key"] + "\n"
    assert stat.S_IMODE(private_key.stat().st_mode) == 0o600
    assert values["registry_http_secret"] in (installer / "common/templates/registry/config.yml").read_text()

    before = _snapshot(root)
    calls_before = (machine.state / "calls").read_text()
    second = machine.apply("node0", "--secrets", machine.pack("node0"))
    assert second.returncode == 0, second.stderr
    assert _snapshot(root) == before, "a second run changed files"
    assert "wrote" not in second.stdout
    assert (machine.state / "calls").read_text() == calls_before, "a second run mounted again"
    # The last line is what Ansible reports: each of the first run's changes, none for the second.
    changed = first.stdout.splitlines()[-1]
    assert changed.startswith("harborgen-apply: changed (") and "; mounted " in changed and "; fstab: " in changed, changed
    assert f"wrote {installer / 'harbor.cfg'};" in changed
    assert second.stdout.splitlines()[-1] == "harborgen-apply: unchanged"


def test_a_run_that_changes_one_file_reports_that_file_alone(machine):
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    compose = machine.root / INSTALLER / "docker-compose.yml"
    compose.write_text("version: '2'\n")
    again = machine.apply("node0", "--secrets", machine.pack("node0"))
    assert again.returncode == 0, again.stderr
    last = again.stdout.splitlines()[-1]
    assert last == f"harborgen-apply: changed (1: wrote {compose})"  # the record names what it holds already


def test_dry_run_prints_actions_and_changes_nothing(machine):
    before = _snapshot(machine.root)
    result = machine.apply("node0", "--secrets", machine.pack("node0"), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would write" in result.stdout and "would run: mount" in result.stdout
    assert "would mount" in result.stdout
    # A dry run never claims to have done what it only describes.
    for line in result.stdout.splitlines():
        assert not line.startswith(("mounted ", "wrote ", "fstab: ", "CephFS ready", "harborgen-apply:")), line
    assert _snapshot(machine.root) == before
    assert not (machine.state / "calls").exists()


def test_apply_refuses_a_pack_others_can_read(machine):
    os.chmod(machine.pack("node0"), 0o755)
    before = _snapshot(machine.root)
    result = machine.apply("node0", "--secrets", machine.pack("node0"))
    assert result.returncode == 1
    assert "has mode 755 (expected 0700" in result.stderr
    assert _snapshot(machine.root) == before


def test_apply_refuses_the_pack_of_another_node_or_bundle(machine):
    before = _snapshot(machine.root)
    result = machine.apply("node0", "--secrets", machine.pack("node1"))
    assert result.returncode == 1 and "is the pack of node node1 of cluster harbor-ceph, not of node0" in result.stderr, result.stderr
    result = machine.apply("node0", "--secrets", machine.pack("mysql"))
    assert result.returncode == 1 and "holds files/database/create-database.sql, which is not a secret-bearing file" in result.stderr
    assert _snapshot(machine.root) == before


# --- a pack is untrusted input: it fills the bundle's secret-bearing files, and nothing else ----

def _refused_untouched(machine, needle: str, *extra: str) -> None:
    before = _snapshot(machine.root)
    for args in (("--secrets", machine.pack("node0"), *extra), ("--check", "--secrets", machine.pack("node0"))):
        result = machine.apply("node0", *args)
        assert result.returncode == 1 and needle in result.stderr, (args, result.stdout + result.stderr)
    assert _snapshot(machine.root) == before


def test_a_pack_cannot_replace_a_file_that_holds_no_secret(machine):
    """The reviewed docker drop-in is the bundle's: a pack that carries one is refused, in apply and in --check."""
    planted = Path(machine.pack("node0")) / "files/systemd/docker.service.d/harborgen-cephfs.conf"
    planted.parent.mkdir(parents=True)
    planted.write_text("[Service]\nExecStartPre=/bin/sh -c 'id > /tmp/owned'\n")
    _refused_untouched(machine, "holds files/systemd/docker.service.d/harborgen-cephfs.conf, which is not a secret-bearing file")


@pytest.mark.parametrize("line", [
    "{apply}  apply.sh\n",  # any file sha256sum --check can verify used to pass
    "{manifest}  MANIFEST.sha256\n",  # the form of an older harborgen: no node named
    "{manifest}  harbor-ceph/node0/MANIFEST.sha256\n{apply}  apply.sh\n",
])
def test_a_pack_digest_must_be_exactly_this_bundles_one_line(machine, line):
    import hashlib

    bundle = machine.bundles / "node0"
    digest = Path(machine.pack("node0")) / "BUNDLE.sha256"
    digest.write_text(line.format(apply=hashlib.sha256((bundle / "apply.sh").read_bytes()).hexdigest(),
                                  manifest=hashlib.sha256((bundle / "MANIFEST.sha256").read_bytes()).hexdigest()))
    _refused_untouched(machine, "was made for another bundle")


@pytest.mark.parametrize("kind", ["link-to-file", "link-to-directory", "fifo"])
def test_a_pack_holding_a_link_or_a_fifo_is_refused(machine, tmp_path, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "harbor.cfg").write_text("db_password = from-outside\n")
    pack = Path(machine.pack("node0"))
    target = pack / "files/harbor/harbor.cfg"
    target.unlink()
    if kind == "link-to-file":
        target.symlink_to(outside / "harbor.cfg")
    elif kind == "link-to-directory":
        shutil.rmtree(pack / "files/harbor/common")
        (pack / "files/harbor/common").symlink_to(outside)
    else:
        os.mkfifo(target)
    _refused_untouched(machine, "which is a link or not a regular file")


def test_a_relative_pack_path_is_this_nodes_pack(machine, tmp_path):
    relative = os.path.relpath(machine.pack("node0"), tmp_path)
    result = subprocess.run(["bash", str(machine.bundles / "node0/apply.sh"), "--root", str(machine.root), "--secrets", relative],
                            capture_output=True, text=True, timeout=120, env=machine._env(), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_changed_values_file_is_never_sourced(machine):
    """Check first, then read: values.sh is code."""
    values = machine.bundles / "node0/values.sh"
    marker = machine.state / "sourced"
    values.write_text(values.read_text() + f"touch {marker}\n")
    for args in (("--secrets", machine.pack("node0")), ("--check",), ("--dry-run",)):
        result = machine.apply("node0", *args)
        assert result.returncode == 1 and "does not match its manifest" in result.stderr, result.stderr
    assert not marker.exists(), "apply.sh sourced a values.sh its manifest does not vouch for"


def test_apply_without_a_pack_refuses_before_touching_anything(machine):
    before = _snapshot(machine.root)
    result = machine.apply("node0")
    assert result.returncode == 1 and "give this node's secrets pack" in result.stderr
    assert _snapshot(machine.root) == before


def test_apply_stops_when_cephfs_is_not_mounted(machine):
    (machine.state / "refuse-mount").touch()
    result = machine.apply("node0", "--secrets", machine.pack("node0"))
    assert result.returncode == 1
    assert "CephFS is not mounted" in result.stderr
    assert (machine.root / INSTALLER / "harbor.cfg").read_text() == "hostname = reg.mydomain.com\n"
    assert not (machine.root / "mnt/cephfs/harbor/data/secretkey").exists()


def test_apply_refuses_a_different_secretkey_on_cephfs(machine):
    secretkey = machine.root / "mnt/cephfs/harbor/data/secretkey"
    secretkey.parent.mkdir(parents=True)
    secretkey.write_text("0123456789abcdef")
    result = machine.apply("node0", "--secrets", machine.pack("node0"))
    assert result.returncode == 1
    assert "different secretkey" in result.stderr
    assert secretkey.read_text() == "0123456789abcdef"


def test_apply_refuses_a_bundle_that_does_not_match_its_manifest(machine):
    compose = machine.bundles / "node0/harbor/docker-compose.yml"
    compose.write_text(compose.read_text().replace(":z", ""))
    before = _snapshot(machine.root)
    result = machine.apply("node0", "--secrets", machine.pack("node0"))
    assert result.returncode == 1 and "manifest" in result.stderr
    assert _snapshot(machine.root) == before


def test_pack_refuses_missing_or_illegal_secrets_and_writes_nothing(machine, tmp_path):
    from tests.helpers import run_harborgen

    values = dict(machine.values)
    del values["harbor_admin_password"]
    values["email_password"] = "bad #comment"
    secrets = write_secrets_file(tmp_path / "bad.yaml", values)
    result = run_harborgen("secrets", "pack", str(TOPOLOGY), "--secrets", str(secrets), "--node", "node0", "--out", str(tmp_path / "p"))
    assert result.returncode == 2
    assert "harbor_admin_password: missing" in result.stderr
    assert "email_password: the value contains '#'" in result.stderr
    assert "bad #comment" not in result.stderr
    assert not (tmp_path / "p").exists()


def test_database_apply_feeds_filled_sql_to_mysql_and_loads_the_schema_guarded(machine):
    schema = REFERENCE / "registry.sql"
    if not schema.is_file():
        pytest.skip("no stock registry.sql")
    result = machine.apply("mysql", "--secrets", machine.pack("mysql"), "--schema", str(schema))
    assert result.returncode == 0, result.stdout + result.stderr
    fed = sorted(machine.state.glob("mysql-*.sql"))
    assert len(fed) == 2
    create = fed[0].read_text()
    assert "IDENTIFIED BY 'it''s-a-pass'" in create
    assert "HARBORGEN_SECRET" not in create
    loaded = fed[1].read_text()
    assert loaded.startswith("SET SESSION sql_mode")
    assert "drop database" not in loaded.lower() and "create table access" in loaded
    calls = (machine.state / "calls").read_text()
    assert "it's-a-pass" not in calls, "a password reached a command line"


SITE = "etc/harborgen/harbor-ceph/nginx/conf.d/default.conf"


def _docker_calls(machine) -> list[str]:
    calls = machine.state / "calls"
    return [call for call in calls.read_text().splitlines() if call.startswith("docker ")] if calls.exists() else []


def test_load_balancer_apply_validates_installs_under_etc_and_starts_nginx_once(machine):
    first = machine.apply("nginx")
    assert first.returncode == 0, first.stdout + first.stderr
    site = machine.root / SITE
    assert site.read_bytes() == (machine.bundles / "nginx/nginx/default.conf").read_bytes()
    calls = _docker_calls(machine)
    validate = [call for call in calls if call.startswith("docker run --rm") and call.endswith("nginx -t")]
    assert len(validate) == 1 and "--network none" in validate[0], calls
    (started,) = [call for call in calls if call.startswith("docker run --detach")]
    # The container mounts the installed directory, never the bundle: deleting the bundle changes nothing that runs.
    assert f"--volume {site.parent}:/etc/nginx/conf.d:ro" in started and str(machine.bundles) not in started
    assert calls.index(validate[0]) < calls.index(started)

    second = machine.apply("nginx")
    assert second.returncode == 0, second.stderr
    assert "already runs this configuration" in second.stdout
    assert sum(call.startswith("docker run --detach") for call in _docker_calls(machine)) == 1
    assert "HUP" not in " ".join(_docker_calls(machine))
    assert _check(machine, "nginx").returncode == 0


def test_a_changed_site_is_reloaded_gracefully_not_replaced(machine, tmp_path):
    assert machine.apply("nginx").returncode == 0
    grown = tmp_path / "grown.yaml"
    grown.write_text(TOPOLOGY.read_text().replace("nodes:\n", "nodes:\n  node2: {address: 10.222.77.90, roles: [harbor]}\n"))
    _, tree = compiled(grown)
    write_tree(tree, machine.bundles)
    behind = _check(machine, "nginx")
    assert behind.returncode == 1 and f"{SITE}: content changed" in behind.stdout, behind.stdout

    result = machine.apply("nginx")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reloaded its site gracefully" in result.stdout
    calls = _docker_calls(machine)
    assert calls.count("docker kill --signal HUP nginx-harbor") == 1
    assert sum(call.startswith("docker run --detach") for call in calls) == 1, "a reload must not replace the container"
    assert "server 10.222.77.90:80" in (machine.root / SITE).read_text()
    assert _check(machine, "nginx").returncode == 0


def test_a_site_nginx_refuses_is_stopped_before_anything_is_installed(machine, tmp_path):
    """The real nginx -t (tests/stubs/nginx-container) refuses a certificate that is not on the machine."""
    assert machine.apply("nginx").returncode == 0
    before = (machine.root / SITE).read_bytes()
    broken = tmp_path / "tls.yaml"
    text = TOPOLOGY.read_text().replace("external_url: http://", "external_url: https://")
    text = re.sub(r"(load_balancer:\n(?:  .*\n)*?)(  listen: )\d+", r"\g<1>\g<2>443", text)
    text = text.replace("load_balancer:\n", "load_balancer:\n  tls: {certificate: /nonexistent/lb.crt, certificate_key: /nonexistent/lb.key}\n")
    broken.write_text(text)
    _, tree = compiled(broken)
    write_tree(tree, machine.bundles)
    result = machine.apply("nginx")
    assert result.returncode != 0
    assert "nginx refuses the new site" in result.stderr and "lb.crt" in result.stderr, result.stderr
    assert (machine.root / SITE).read_bytes() == before, "the running site was touched"
    assert sum(call.startswith("docker run --detach") for call in _docker_calls(machine)) == 1
    assert "HUP" not in " ".join(_docker_calls(machine))


# --- the install step (install-harbor.sh) -----------------------------------------------

SECRET_BEARING = ("adminserver/env", "ui/env", "jobservice/env", "registry/config.yml", "ui/private_key.pem")


def _calls(machine) -> str:
    calls = machine.state / "calls"
    return calls.read_text() if calls.exists() else ""


def _unmount(machine) -> None:
    (machine.state / "mounts").write_text("")


def test_install_step_refuses_an_unmounted_node_and_runs_nothing(machine):
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    _unmount(machine)  # as after a reboot whose mount failed
    result = machine.install("node0")
    assert result.returncode == 1 and "is not mounted" in result.stderr
    assert not (machine.installer / "common/config").exists(), "prepare ran on an unmounted node"
    assert "docker-compose" not in _calls(machine)


def test_install_step_refuses_a_mount_that_is_not_cephfs(machine):
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    (machine.state / "fstype").write_text("ext4\n")
    result = machine.install("node0")
    assert result.returncode == 1 and "is a ext4 mount, not CephFS" in result.stderr
    assert not (machine.installer / "common/config").exists()


def test_install_step_refuses_a_missing_or_foreign_secretkey(machine):
    """prepare would make a fresh key on the spot and exit 0: this node would encrypt apart."""
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    secretkey = machine.root / "mnt/cephfs/harbor/data/secretkey"
    secretkey.write_text("0123456789abcdef")
    result = machine.install("node0")
    assert result.returncode == 1 and "is not the one apply.sh installed" in result.stderr
    secretkey.unlink()
    result = machine.install("node0")
    assert result.returncode == 1 and "no secretkey" in result.stderr
    assert not secretkey.exists(), "prepare ran and made a key of its own"
    assert not (machine.installer / "common/config").exists()


def test_install_step_leaves_every_secret_private_and_no_database_password(machine):
    if not REFERENCE.is_dir():
        pytest.skip("the stock templates are needed for prepare's other files")
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    key_before = (machine.root / "mnt/cephfs/harbor/data/secretkey").read_bytes()
    (machine.installer / "harbor.v1.1.2.tar.gz").write_bytes(b"images of the offline installer")
    result = machine.install("node0")
    assert result.returncode == 0, result.stdout + result.stderr
    config = machine.installer / "common/config"
    for path in SECRET_BEARING:
        assert stat.S_IMODE((config / path).stat().st_mode) == 0o600, path
    for path in config.rglob("*"):
        assert not stat.S_IMODE(path.stat().st_mode) & 0o077, f"{path} is readable by others"
    assert not (config / "db/env").exists()
    assert (machine.root / "mnt/cephfs/harbor/data/secretkey").read_bytes() == key_before, "prepare made a new key"
    calls = _calls(machine)
    assert "docker load -i harbor.v1.1.2.tar.gz" in calls
    assert calls.index("docker load") < calls.index("docker-compose up -d")
    assert f"docker-compose up -d (in {machine.installer})" in calls
    assert "curl --silent --insecure --fail --output /dev/null --max-time 10 http://10.222.78.7/" in calls


def test_install_step_fails_loudly_when_the_node_never_answers(machine):
    if not REFERENCE.is_dir():
        pytest.skip("the stock templates are needed for prepare's other files")
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    (machine.state / "curl-fail").touch()
    result = machine.install("node0")
    assert result.returncode == 1 and "does not answer on http://10.222.78.7/" in result.stderr


def test_docker_waits_for_the_mount_through_the_installed_drop_in(machine):
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    dropin = machine.root / "etc/systemd/system/docker.service.d/harborgen-cephfs.conf"
    assert "RequiresMountsFor=/mnt/cephfs/harbor\n" in dropin.read_text()
    assert stat.S_IMODE(dropin.stat().st_mode) == 0o644


# --- apply.sh --check: does the node still hold what Git says? ---------------------------------

def _check(machine, node: str = "node0", *args: str) -> subprocess.CompletedProcess:
    return machine.apply(node, "--check", *args)


def test_check_is_silent_and_exits_0_right_after_apply_and_names_each_tampering(machine):
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    before = _snapshot(machine.root)
    clean = _check(machine)
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")
    assert _snapshot(machine.root) == before, "a check changed something"

    cfg = machine.installer / "harbor.cfg"
    cfg.write_text(cfg.read_text().replace("max_job_workers = 3", "max_job_workers = 5"))
    edited = _check(machine)
    assert edited.returncode == 1 and edited.stdout == f"drift: {cfg}: content changed\n"
    assert machine.values["harbor_db_password"] not in edited.stdout + edited.stderr

    key = machine.installer / "common/templates/ui/private_key.pem"
    key.chmod(0o644)
    loosened = _check(machine)
    assert f"drift: {key}: mode changed: 0644, expected 0600" in loosened.stdout

    fstab = machine.root / "etc/fstab"
    fstab.write_text("")
    unlined = _check(machine)
    assert f"drift: {fstab}: fstab line missing: 10.222.77.73:6789:/harbor /mnt/cephfs/harbor ceph" in unlined.stdout

    (machine.state / "mounts").write_text("")
    unmounted = _check(machine)
    assert f"drift: {machine.root}/mnt/cephfs/harbor: not mounted" in unmounted.stdout
    token_line = machine.values["token_private_key"].splitlines()[1]
    for result in (edited, loosened, unlined, unmounted):
        assert token_line not in result.stdout + result.stderr

    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    again = _check(machine)
    assert (again.returncode, again.stdout) == (0, ""), again.stdout


def test_check_without_the_pack_compares_secret_files_with_the_install_record(machine):
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    assert _check(machine).returncode == 0  # no pack: the record's digests speak for the filled files
    cfg = machine.installer / "harbor.cfg"
    cfg.write_text(cfg.read_text() + "# by hand\n")
    result = _check(machine)
    assert result.returncode == 1 and f"drift: {cfg}: content changed" in result.stdout
    record = machine.root / "var/lib/harborgen/harbor-ceph/node0.installed"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600


def test_a_node_applied_from_an_older_render_reports_that_it_is_behind(machine, tmp_path):
    assert machine.apply("node0", "--secrets", machine.pack("node0")).returncode == 0
    newer = tmp_path / "newer.yaml"
    newer.write_text(TOPOLOGY.read_text().replace("max_job_workers: 3", "max_job_workers: 5"))
    _, tree = compiled(newer)
    write_tree(tree, machine.bundles)  # Git moved on; the node did not
    result = _check(machine, "node0", "--format", "json")
    assert result.returncode == 1
    import json

    report = json.loads(result.stdout)
    behind = [entry for entry in report["drift"] if entry["kind"].startswith("behind")]
    assert behind and "this node was applied from bundle" in behind[0]["kind"] and report["bundle"] in behind[0]["kind"]
    assert report["applied"] != report["bundle"] and report["mounted"] is True


def test_check_reports_in_json_that_follows_its_schema(machine):
    import json

    from jsonschema import Draft202012Validator

    from generator.resources import SCHEMA_FILE

    schema = json.loads((SCHEMA_FILE.parent / "check-report.schema.json").read_text())
    never = _check(machine, "node0", "--format", "json")
    assert never.returncode == 1
    Draft202012Validator(schema).validate(json.loads(never.stdout))
    for node in ("node0", "mysql", "nginx"):
        assert machine.apply(node, "--secrets", machine.pack(node)).returncode == 0
        result = _check(machine, node, "--format", "json")
        report = json.loads(result.stdout)
        Draft202012Validator(schema).validate(report)
        assert result.returncode == 0 and report["drift"] == [] and report["applied"] == report["bundle"], report


# --- harborgen audit: the nodes' reports against Git ---------------------------------------------

def test_audit_turns_the_nodes_reports_into_one_table(machine, tmp_path):
    import hashlib
    import json

    from tests.helpers import GOLDEN, run_harborgen

    reports = tmp_path / "reports"
    reports.mkdir()
    for node in ("node0", "mysql", "nginx"):
        assert machine.apply(node, "--secrets", machine.pack(node)).returncode == 0
    cfg = machine.installer / "harbor.cfg"
    cfg.write_text(cfg.read_text().replace("max_job_workers = 3", "max_job_workers = 5"))
    for node in ("node0", "mysql", "nginx"):
        (reports / f"{node}.json").write_text(_check(machine, node, "--format", "json").stdout)
    git = {node: hashlib.sha256((machine.bundles / node / "MANIFEST.sha256").read_bytes()).hexdigest()
           for node in ("admin", "mysql", "nginx", "node0", "node1")}
    behind = json.loads((reports / "nginx.json").read_text())
    behind.update(node="node1", applied="0" * 64, mounted=True, bundle="0" * 64,
                  drift=[{"path": "/var/lib/harborgen/harbor-ceph/node1.installed", "kind": "behind: this node was applied from bundle 0…"}])
    (reports / "node1.json").write_text(json.dumps(behind))

    result = run_harborgen("audit", str(TOPOLOGY), "--reports", str(reports))
    assert result.returncode == 1
    if os.environ.get("HARBORGEN_WRITE_GOLDEN"):
        text = result.stdout.replace(str(machine.root), "<root>")
        for node, digest in git.items():
            text = text.replace(digest[:12], f"<{node}>")
        (GOLDEN / "audit" / "seed.txt").write_text(text)
    expected = (GOLDEN / "audit" / "seed.txt").read_text()
    for node, digest in git.items():
        expected = expected.replace(f"<{node}>", digest[:12])
    assert result.stdout == expected.replace("<root>", str(machine.root))
    assert machine.values["harbor_db_password"] not in result.stdout

    markdown = run_harborgen("audit", str(TOPOLOGY), "--reports", str(reports), "--format", "markdown")
    assert markdown.returncode == 1 and "| node0 |" in markdown.stdout and "<details>" in markdown.stdout


def test_audit_refuses_a_report_that_is_not_one_with_its_file(tmp_path):
    from tests.helpers import run_harborgen

    (tmp_path / "x.json").write_text('{"node": "node0"}')
    (tmp_path / "y.json").write_text("not json")
    result = run_harborgen("audit", str(TOPOLOGY), "--reports", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path / 'x.json'}:1:1:" in result.stderr and f"{tmp_path / 'y.json'}:1:1:" in result.stderr


# --- every Harbor node, with the real 1.1.2 prepare -------------------------------------------

# 1.1.2's prepare draws these on every run (prepare: ui_secret, jobservice_secret); only the
# containers of one node share them, so they differ from node to node and from run to run.
NODE_LOCAL_SECRETS = re.compile(rb"^(UI_SECRET|JOBSERVICE_SECRET)=.*$", re.M)


def _config_state(installer: Path) -> dict[str, tuple[bytes, int, int, int]]:
    """common/config: bytes (prepare's per-run secrets masked), mode, owner and group of each file."""
    return tree_state(installer / "common/config", lambda content: NODE_LOCAL_SECRETS.sub(rb"\1=<drawn by prepare>", content))


@pytest.mark.real_component
def test_every_harbor_node_installs_twice_with_the_real_prepare(machine, tmp_path):
    installed = {}
    for node in ("admin", "node0", "node1"):
        host = machine.another(tmp_path / "machines" / node)
        (host.installer / "harbor.v1.1.2.tar.gz").write_bytes(b"images of the offline installer")
        applied = host.apply(node, "--secrets", host.pack(node))
        assert applied.returncode == 0, (node, applied.stdout + applied.stderr)
        runs = []
        for _ in range(2):
            runs.append(host.install(node))
            assert runs[-1].returncode == 0, (node, runs[-1].stdout + runs[-1].stderr)
            assert "loaded secret from file: /mnt/cephfs/harbor/data/secretkey" in runs[-1].stdout, "the real prepare read ours"
            installed.setdefault(node, []).append(_config_state(host.installer))
        assert installed[node][1] == installed[node][0], f"the second install on {node} changed more than prepare's per-run secrets"
        calls = (host.state / "calls").read_text()
        assert calls.count("docker-compose up -d") == 2, calls
        assert not (host.installer / "common/config/db/env").exists()
        for path, names in files_holding(host.root, planted_needles(machine.values)).items():
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode & 0o077 == 0, f"{node}: {path.relative_to(host.root)} holds {sorted(names)} and is readable by others"
        for path in SECRET_BEARING:
            assert (host.installer / "common/config" / path).is_file(), path
    assert installed["node0"][0] == installed["admin"][0] and installed["node1"][0] == installed["admin"][0], \
        "the nodes' common/config differ beyond prepare's per-run secrets"


def test_a_pair_balancer_installs_keepalived_and_reloads_it_only_when_its_files_change(tmp_path):
    topology = TOPOLOGIES / "lb-pair.yaml"
    bundles = tmp_path / "out" / "lbpair"
    write_tree(compiled(topology)[1], bundles)
    machine = Machine(tmp_path / "machine", bundles, tmp_path / "packs", {})

    def reloads() -> int:
        calls = (machine.state / "calls").read_text().splitlines()
        return calls.count("systemctl reload-or-restart keepalived")

    first = machine.apply("lb1")
    assert first.returncode == 0, first.stdout + first.stderr
    etc = machine.root / "etc/keepalived"
    assert (etc / "keepalived.conf").read_bytes() == (bundles / "lb1/keepalived/keepalived.conf").read_bytes()
    assert stat.S_IMODE((etc / "keepalived.conf").stat().st_mode) == 0o644
    for script in ("harborgen-check-nginx.sh", "harborgen-notify.sh"):
        assert stat.S_IMODE((etc / script).stat().st_mode) == 0o755, script
    assert reloads() == 1
    assert machine.apply("lb1").returncode == 0
    assert reloads() == 1, "an unchanged keepalived was reloaded"
    assert _check(machine, "lb1").returncode == 0

    subprocess.run([str(STUBS / "systemctl"), "stop", "keepalived"], env={**os.environ, "STUB_STATE": str(machine.state)}, check=True)
    stopped = _check(machine, "lb1")
    assert stopped.returncode == 1 and "keepalived does not run" in stopped.stdout

    changed = tmp_path / "changed.yaml"
    changed.write_text(topology.read_text().replace("virtual_router_id: 77", "virtual_router_id: 78"))
    write_tree(compiled(changed)[1], bundles)
    assert machine.apply("lb1").returncode == 0
    assert reloads() == 2 and "virtual_router_id 78" in (etc / "keepalived.conf").read_text()


def test_a_pair_balancer_hands_the_floating_address_over_before_its_container_is_replaced(tmp_path):
    topology = TOPOLOGIES / "lb-pair.yaml"
    bundles = tmp_path / "out" / "lbpair"
    write_tree(compiled(topology)[1], bundles)
    machines = {name: Machine(tmp_path / name, bundles, tmp_path / "packs", {}) for name in ("lb1", "lb2")}
    for name, machine in machines.items():
        assert machine.apply(name).returncode == 0
    (machines["lb1"].state / "vrrp-master").write_text("10.77.0.10\n")  # lb1 holds the address

    changed = tmp_path / "changed.yaml"
    changed.write_text(topology.read_text().replace("  listen: 80\n", "  listen: 80\n  image: nginx:1.27.3\n"))
    write_tree(compiled(changed)[1], bundles)
    for name, machine in machines.items():
        before = len((machine.state / "calls").read_text().splitlines())
        applied = machine.apply(name)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        calls = [call for call in (machine.state / "calls").read_text().splitlines()[before:]
                 if call.startswith(("systemctl stop", "systemctl start", "docker rm", "docker run --detach"))]
        if name == "lb1":
            assert [call.split()[1] for call in calls] == ["stop", "rm", "run", "start"], calls
            assert "handing 10.77.0.10 to the other load balancer" in applied.stdout
        else:
            assert [call.split()[1] for call in calls] == ["rm", "run"], f"{name} does not hold the address: {calls}"
        assert _check(machine, name).returncode == 0


def test_a_holder_whose_address_stays_replaces_nothing(tmp_path):
    topology = TOPOLOGIES / "lb-pair.yaml"
    bundles = tmp_path / "out" / "lbpair"
    write_tree(compiled(topology)[1], bundles)
    machine = Machine(tmp_path / "lb1", bundles, tmp_path / "packs", {})
    assert machine.apply("lb1").returncode == 0
    (machine.state / "stuck-address").write_text("10.77.0.10\n")  # stays, whatever keepalived does
    changed = tmp_path / "changed.yaml"
    changed.write_text(topology.read_text().replace("  listen: 80\n", "  listen: 80\n  image: nginx:1.27.3\n"))
    write_tree(compiled(changed)[1], bundles)
    applied = machine.apply("lb1")
    assert applied.returncode != 0 and "nothing was replaced" in applied.stdout + applied.stderr
    assert "docker rm -f nginx-harbor" not in (machine.state / "calls").read_text()


def test_a_patroni_member_never_starts_beside_a_running_stock_cluster_on_its_port(tmp_path, token_pair):
    """Debian's postgresql-15 starts a 15/main of its own on 5432: apply.sh says so, and leaves it running."""
    topology = TOPOLOGIES / "patroni.yaml"
    bundles = tmp_path / "out" / "patroni"
    write_tree(compiled(topology)[1], bundles)
    values = secrets_for(topology, token_pair)
    packs = make_packs(topology, write_secrets_file(tmp_path / "secrets.yaml", values), tmp_path / "packs")
    machine = Machine(tmp_path / "machine", bundles, packs, values)
    (machine.state / "clusters").write_text("15 main 5432 online postgres /var/lib/postgresql/15/main /var/log/postgresql/main.log\n")

    refused = machine.apply("pg1", "--secrets", machine.pack("pg1"))
    assert refused.returncode == 1 and "pg_ctlcluster 15 main stop" in refused.stderr, refused.stdout + refused.stderr
    assert "systemctl start patroni" not in _calls(machine)

    (machine.state / "clusters").write_text("15 main 5432 down postgres /var/lib/postgresql/15/main /var/log/postgresql/main.log\n")
    started = machine.apply("pg1", "--secrets", machine.pack("pg1"))
    assert "systemctl start patroni" in _calls(machine), started.stdout + started.stderr


def test_a_sentinel_is_seeded_over_debians_own_file_once_and_never_overwritten(tmp_path, token_pair):
    """No other sentinel answers (a new set): the seed names the first node; Debian's file is kept aside, and
    the seeded one is the sentinel's own from then on, whatever a later bundle says."""
    topology = TOPOLOGIES / "patroni.yaml"
    bundles = tmp_path / "out" / "patroni"
    write_tree(compiled(topology)[1], bundles)
    values = secrets_for(topology, token_pair)
    packs = make_packs(topology, write_secrets_file(tmp_path / "secrets.yaml", values), tmp_path / "packs")
    machine = Machine(tmp_path / "machine", bundles, packs, values)
    conf = machine.root / "etc/redis/sentinel.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("port 26379\nsentinel monitor mymaster 127.0.0.1 6379 2\n")

    seeded = machine.apply("r2", "--secrets", machine.pack("r2"))
    assert seeded.returncode == 0 and "no other sentinel answered" in seeded.stdout, seeded.stdout + seeded.stderr
    text = conf.read_text()
    assert "sentinel monitor harbor 10.79.0.41 6379 2\n" in text and "mymaster" not in text
    assert f"sentinel auth-pass harbor {values['redis_password']}\n" in text and conf.stat().st_mode & 0o777 == 0o600
    assert "mymaster" in (conf.parent / "sentinel.conf.harborgen-orig").read_text()
    assert "redis-cli -h 10.79.0.41 -p 26379 --raw SENTINEL master harbor" in _calls(machine)
    assert "the sentinel on 10.79.0.43:26379 does not answer" in seeded.stdout

    conf.write_text(text.replace("10.79.0.41 6379", "10.79.0.43 6379") + "sentinel myid abc\n")  # Sentinel's rewrite
    again = machine.apply("r2", "--secrets", machine.pack("r2"))
    assert again.returncode == 0 and "kept: " in again.stdout and "does not answer" in again.stdout, again.stdout + again.stderr
    assert "sentinel monitor harbor 10.79.0.43 6379 2\n" in conf.read_text()
    checked = machine.apply("r2", "--check")
    assert checked.returncode != 0 and "the sentinel does not answer on 10.79.0.42:26379" in checked.stdout, checked.stdout

