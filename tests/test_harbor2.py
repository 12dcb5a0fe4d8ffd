"""Harbor 2.15 bundles: harbor.yml against the stock template, and the install step under
--root with the real 2.15.2 prepare (tests/real_prepare.py), run through the installer's own
make/prepare script on every Harbor node.

prepare draws its secrets anew on every run: what install-harbor.sh leaves must not depend
on those draws, must hold no secret readable by others, and must be the same on every node.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import bcrypt
import pytest
import yaml

from generator.pipeline import load_cluster
from generator.writer import write_tree
from tests.helpers import (
    HARBOR2_EXAMPLE,
    REFERENCE2,
    ROOT,
    compiled,
    files_holding,
    make_packs,
    planted_needles,
    require_reference,
    require_tool,
    secrets_for,
    topologies_of,
    tree_state,
    write_secrets_file,
)
from tests.real_prepare import container_environment, install_prepare2, require_prepare2, run_prepare2

STUBS = Path(__file__).parent / "stubs"
INSTALLER = "opt/harbor"
PINNED_FILES = ("core/env", "jobservice/env", "registryctl/env", "registry/config.yml")
KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*):")


def template_keys(text: str) -> set[str]:
    """Every key path of harbor.yml.tmpl, the commented-out sections included ('# key:' counts)."""
    paths, stack = set(), []
    for raw in text.splitlines():
        line = raw
        while True:  # '#   # username:' is a key of a commented section, commented once more
            stripped = re.sub(r"^(\s*)# ?", r"\1", line, count=1)
            if stripped == line or KEY.match(line):
                break
            line = stripped
        match = KEY.match(line)
        if not match:
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(1)))
        paths.add(".".join(name for _, name in stack))
    return paths


def key_paths(value, prefix: str = "") -> set[str]:
    if not isinstance(value, dict):
        return set()
    paths = set()
    for key, child in value.items():
        path = f"{prefix}{key}"
        paths |= {path} | key_paths(child, path + ".")
    return paths


def _harbor_ymls(tree) -> dict[str, bytes]:
    return {path: artifact.content for path, artifact in tree.items() if path.endswith("/harbor/harbor.yml")}


def test_every_key_of_harbor_yml_is_a_key_of_the_stock_template(harbor2_case):
    reference = require_reference(REFERENCE2)
    stock = template_keys((reference / "make/harbor.yml.tmpl").read_text())
    _, tree = compiled(harbor2_case[1])
    for path, content in _harbor_ymls(tree).items():
        document = yaml.safe_load(content)
        assert key_paths(document) <= stock, (path, key_paths(document) - stock)
        # A `redis:` section would override external_redis (utils/configs.py: get_redis_configs).
        assert "redis" not in document and "database" not in document, path


def test_harbor_yml_is_identical_on_every_harbor_node(harbor2_case):
    _, tree = compiled(harbor2_case[1])
    contents = set(_harbor_ymls(tree).values())
    assert len(contents) == 1


def test_the_template_key_reader_sees_commented_sections():
    stock = template_keys((require_reference(REFERENCE2) / "make/harbor.yml.tmpl").read_text())
    assert {"external_redis.sentinel_master_set", "external_database.harbor.ssl_mode", "hostname", "external_url"} <= stock
    assert "external_redis.no_such_key" not in stock


class Machine2:
    """A Harbor 2.15 machine under DIRECTORY/root: the installer's own make/prepare, which runs the
    real 2.15.2 prepare program through the stand-in docker, and the cluster's bundles and packs."""

    def __init__(self, directory: Path, bundles: Path, packs: Path, installer_dir: str):
        require_prepare2()
        self.bundles, self.packs = bundles, packs
        self.root, self.state = directory / "root", directory / "state"
        self.installer = self.root / installer_dir.lstrip("/")
        self.installer.mkdir(parents=True)
        install_prepare2(self.installer)
        self.state.mkdir()
        self.env = {**os.environ, **container_environment(self.root, self.state),
                    "HARBORGEN_POLL_SECONDS": "0", "HARBORGEN_START_TIMEOUT": "1"}

    def run(self, node: str, script: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(self.bundles / node / script), "--root", str(self.root), *args],
                              capture_output=True, text=True, timeout=300, env=self.env)

    def apply(self, node: str, *args: str) -> subprocess.CompletedProcess:
        return self.run(node, "apply.sh", "--secrets", str(self.packs / node), *args)

    def install(self, node: str) -> subprocess.CompletedProcess:
        return self.run(node, "install-harbor.sh")

    def config(self) -> dict[str, bytes]:
        config = self.installer / "common/config"
        return {str(path.relative_to(config)): path.read_bytes() for path in sorted(config.rglob("*")) if path.is_file()}

    def calls(self) -> list[str]:
        """What the stand-in commands were asked to do, in order."""
        calls = self.state / "calls"
        return calls.read_text().splitlines() if calls.exists() else []


@pytest.fixture
def machine2(tmp_path, token_pair):
    """The Harbor 2.15 example rendered, its packs, and one machine to run them on."""
    _, tree = compiled(HARBOR2_EXAMPLE)
    bundles = tmp_path / "out" / "harbor2"
    write_tree(tree, bundles)
    values = secrets_for(HARBOR2_EXAMPLE, token_pair)
    packs = make_packs(HARBOR2_EXAMPLE, write_secrets_file(tmp_path / "secrets.yaml", values), tmp_path / "packs")
    machine = Machine2(tmp_path, bundles, packs, INSTALLER)
    machine.values = values
    return machine


def _pinned_values(values: dict[str, str]) -> dict[str, str]:
    return {
        "core_secret": values["harbor_core_secret"],
        "jobservice_secret": values["harbor_jobservice_secret"],
        "registry_password": values["registry_credential_password"],
        "csrf_key": values["harbor_csrf_key"],
        "scan_robot_prefix": values["harbor_robot_scanner_prefix"],
    }


def test_apply_lays_harbor_yml_seeds_the_secrets_and_mounts_only_the_registry_directory(machine2):
    result = machine2.apply("node0")
    assert result.returncode == 0, result.stdout + result.stderr
    root, values = machine2.root, machine2.values
    assert (root / "etc/fstab").read_text().splitlines() == [
        "10.222.77.73:6789:/harbor2/registry /data/registry ceph name=admin,secretfile=/etc/ceph/admin.secret,noatime,_netdev 0 0"
    ]
    assert (machine2.state / "mounts").read_text().splitlines() == [str(root / "data/registry")]
    for path, name in (("keys/secretkey", "harbor_secretkey"), ("core/private_key.pem", "token_private_key"),
                       ("registry/root.crt", "token_certificate")):
        seeded = root / "data/secret" / path
        assert seeded.read_text().rstrip("\n") == values[name].rstrip("\n"), path
        assert stat.S_IMODE(seeded.stat().st_mode) == 0o600
    harbor_yml = machine2.installer / "harbor.yml"
    assert stat.S_IMODE(harbor_yml.stat().st_mode) == 0o600
    document = yaml.safe_load(harbor_yml.read_text())
    assert document["external_database"]["harbor"]["password"] == values["harbor_db_password"]
    assert document["external_redis"]["password"] == values["redis_password"]
    assert document["harbor_admin_password"] == values["harbor_admin_password"]
    check = machine2.run("node0", "apply.sh", "--check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_install_pins_every_secret_the_same_on_every_node_and_every_rerun(machine2):
    for node in ("node0", "node1"):
        assert machine2.apply(node).returncode == 0
    first = machine2.install("node0")
    assert first.returncode == 0, first.stdout + first.stderr
    after_first = machine2.config()
    second = machine2.install("node0")  # prepare draws every secret anew
    assert second.returncode == 0, second.stderr
    assert machine2.config() == after_first, "a rerun changed a pinned file"
    assert machine2.install("node1").returncode == 0  # same installer directory layout, another node's bundle
    assert machine2.config() == after_first, "node1's files differ from node0's"
    seeded = machine2.root / "data/secret/keys/secretkey"
    assert seeded.read_text() == machine2.values["harbor_secretkey"], "prepare made a secretkey of its own"

    values = machine2.values
    env = dict(line.split("=", 1) for line in after_first["core/env"].decode().splitlines() if "=" in line)
    assert env["CORE_SECRET"] == values["harbor_core_secret"] and env["CSRF_KEY"] == values["harbor_csrf_key"]
    assert len(env["CSRF_KEY"]) == 32
    assert env["ROBOT_SCANNER_NAME_PREFIX"] == values["harbor_robot_scanner_prefix"]
    assert env["REGISTRY_CREDENTIAL_PASSWORD"] == values["registry_credential_password"]
    line = after_first["registry/passwd"].decode()
    user, _, hashed = line.rstrip("\n").partition(":")
    assert user == "harbor_registry_user"
    assert bcrypt.checkpw(values["registry_credential_password"].encode(), ("$2b$" + hashed[4:]).encode())
    verify = subprocess.run(["htpasswd", "-vb", str(machine2.installer / "common/config/registry/passwd"),
                             user, values["registry_credential_password"]], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    config = yaml.safe_load(after_first["registry/config.yml"])
    assert config["http"]["secret"] == values["registry_http_secret"] and config["http"]["secret"] != "placeholder"
    for path in ("core/env", "jobservice/env", "registryctl/env", "registry/config.yml", "registry/passwd", "jobservice/config.yml"):
        mode = stat.S_IMODE((machine2.installer / "common/config" / path).stat().st_mode)
        assert mode == 0o600, (path, oct(mode))


def _pinned_lines(pins: Path) -> dict[str, set[str]]:
    """The target file of each pin file of the pack, and the whole lines it puts there."""
    targets = {"core.env": "core/env", "jobservice.env": "jobservice/env", "registryctl.env": "registryctl/env",
               "registry-config.yml": "registry/config.yml", "registry.passwd": "registry/passwd"}
    return {target: {line for line in (pins / name).read_text().splitlines() if line and not line.startswith("#")}
            for name, target in targets.items()}


def test_pinning_changes_only_the_pinned_lines_of_what_the_real_prepare_wrote(machine2):
    """Every byte install-harbor.sh leaves in common/config is the real prepare's, but the pinned lines."""
    assert machine2.apply("node0").returncode == 0
    assert machine2.install("node0").returncode == 0
    with_trivy = load_cluster(HARBOR2_EXAMPLE).harbor.with_trivy
    prepared = subprocess.run(["bash", "./prepare", *(["--with-trivy"] if with_trivy else [])], cwd=machine2.installer,
                              capture_output=True, text=True, timeout=300, env=machine2.env)
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    written = machine2.config()
    assert "db/env" in written, "the real prepare writes db/env: install-harbor.sh must remove it"
    pins = machine2.installer / "harborgen/pins"
    pinned = subprocess.run(["bash", str(machine2.bundles / "node0/pin-secrets.sh"), "common/config", str(pins)],
                            cwd=machine2.installer, capture_output=True, text=True)
    assert pinned.returncode == 0, pinned.stderr
    after = machine2.config()
    assert sorted(after) == sorted(written)
    lines = _pinned_lines(pins)
    for path, before in written.items():
        if after[path] == before:
            continue
        assert path in lines, f"pin-secrets.sh changed {path}, which nothing pins"
        old, new = before.decode().splitlines(), after[path].decode().splitlines()
        assert len(old) == len(new), path
        changed = [(was, now) for was, now in zip(old, new, strict=True) if was != now]
        assert changed, path
        for was, now in changed:
            assert now in lines[path], (path, now)
            assert re.split(r"[=:]", was, maxsplit=1)[0] == re.split(r"[=:]", now, maxsplit=1)[0], (path, was, now)
    for path, wanted in lines.items():
        assert wanted <= set(after[path].decode().splitlines()), f"a pin did not land in {path}"
    # The real prepare's core/env carries what a stand-in once left out.
    assert b"QUOTA_UPDATE_PROVIDER=db\n" in after["core/env"]


def test_pinning_refuses_a_stock_file_without_the_key(machine2, tmp_path):
    assert machine2.apply("node0").returncode == 0
    assert machine2.install("node0").returncode == 0
    config = machine2.installer / "common/config"
    env = config / "core/env"
    env.write_text("\n".join(line for line in env.read_text().splitlines() if not line.startswith("CSRF_KEY=")) + "\n")
    before = env.read_bytes()
    result = subprocess.run(["bash", str(machine2.bundles / "node0/pin-secrets.sh"), str(config), str(machine2.installer / "harborgen/pins")],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "key CSRF_KEY is 0 times" in result.stderr, result.stderr
    assert env.read_bytes() == before, "a refused pin changed the file"


def test_install_refuses_a_leftover_secretkey_the_installer_would_move_over_ours(machine2):
    assert machine2.apply("node0").returncode == 0
    (machine2.root / "data/secretkey").write_text("an-old-1.x-key!!")
    result = machine2.install("node0")
    assert result.returncode == 1 and "/data/secretkey exists" in result.stderr, result.stderr
    assert not (machine2.installer / "common").exists()


def test_install_refuses_an_unmounted_node_or_a_missing_seeded_secret(machine2):
    assert machine2.apply("node0").returncode == 0
    (machine2.state / "mounts").write_text("")
    result = machine2.install("node0")
    assert result.returncode == 1 and "data/registry is not mounted" in result.stderr, result.stderr
    assert machine2.apply("node0").returncode == 0
    (machine2.root / "data/secret/keys/secretkey").unlink()
    result = machine2.install("node0")
    assert result.returncode == 1 and "secretkey: run apply.sh first" in result.stderr, result.stderr
    assert not (machine2.installer / "common").exists(), "prepare ran on a node that was not ready"


def test_the_pinned_secrets_are_the_same_in_every_harbor_nodes_pack(tmp_path, token_pair):
    values = secrets_for(HARBOR2_EXAMPLE, token_pair)
    packs = make_packs(HARBOR2_EXAMPLE, write_secrets_file(tmp_path / "secrets.yaml", values), tmp_path / "packs")
    harbor_nodes = ("admin", "node0", "node1")
    for path in ("files/harbor/harbor.yml", "files/harbor/harborgen/pins/core.env", "files/harbor/harborgen/pins/registry.passwd",
                 "files/secret/keys/secretkey", "files/secret/core/private_key.pem"):
        contents = {(packs / node / path).read_bytes() for node in harbor_nodes}
        assert len(contents) == 1, path
    again = make_packs(HARBOR2_EXAMPLE, tmp_path / "secrets.yaml", tmp_path / "packs-again")
    assert (again / "node0/files/harbor/harborgen/pins/registry.passwd").read_bytes() == \
        (packs / "node0/files/harbor/harborgen/pins/registry.passwd").read_bytes()
    shutil.rmtree(tmp_path / "packs-again")


def test_the_redis_node_gets_its_settings_and_the_database_node_a_dry_run(machine2):
    result = machine2.apply("redis")
    assert result.returncode == 0, result.stdout + result.stderr
    settings = machine2.root / "etc/redis/harborgen-harbor2.conf"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    text = settings.read_text()
    assert f"requirepass {machine2.values['redis_password']}\n" in text and "appendonly yes\n" in text
    assert "include /etc/redis/harborgen-harbor2.conf" in result.stdout
    dry = machine2.apply("pg", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "would run" in dry.stdout and "pg_hba.conf" in dry.stdout
    schema = machine2.apply("pg", "--dry-run", "--schema", "/nonexistent/registry.sql")
    assert schema.returncode != 0 and "this database is postgresql" in schema.stderr, schema.stdout + schema.stderr


@pytest.mark.parametrize("owner", ["redis", "nobody"])
def test_the_redis_settings_go_into_debians_etc_redis_but_no_other_users_directory(machine2, owner):
    """Debian's /etc/redis is redis:redis 2770: root may write there (mktemp, then a rename that
    follows no link); a directory of any other user on the way is refused by name."""
    import pwd

    try:
        user = pwd.getpwnam(owner)
    except KeyError:
        pytest.skip(f"no user {owner} here (Debian's redis-server package makes redis)")
    directory = machine2.root / "etc/redis"
    directory.mkdir(parents=True)
    os.chown(directory, user.pw_uid, user.pw_gid)
    directory.chmod(0o2770)
    result = machine2.apply("redis")
    if owner == "redis":
        assert result.returncode == 0, result.stdout + result.stderr
        assert (directory / "harborgen-harbor2.conf").is_file()
    else:
        assert result.returncode == 1 and f"{directory} is owned by nobody" in result.stderr, result.stderr
        assert not (directory / "harborgen-harbor2.conf").exists()


@pytest.mark.real_component
def test_the_stock_compose_file_prepare_writes_from_our_harbor_yml_is_valid(harbor2_case, tmp_path):
    """harborgen changes nothing in 2.15's compose file: the real prepare writes it from harbor.yml. It must
    hold no database or Redis of its own, put the registry's storage on the CephFS mount, and pass docker-compose v1."""
    compose = require_tool("docker-compose")
    _, tree = compiled(harbor2_case[1])
    cluster = load_cluster(harbor2_case[1])
    harbor_yml = next(iter(_harbor_ymls(tree).values())).decode()
    installer = run_prepare2(harbor_yml, tmp_path / "machine", tmp_path / "state", with_trivy=cluster.harbor.with_trivy)
    services = yaml.safe_load((installer / "docker-compose.yml").read_text())["services"]
    assert "postgresql" not in services and "redis" not in services, sorted(services)
    assert ("trivy-adapter" in services) == cluster.harbor.with_trivy
    volumes = services["registry"]["volumes"]
    assert f"{cluster.harbor.data_volume}/registry:/storage:z" in volumes
    assert {mount.target for mount in cluster.cephfs.mounts} <= {
        volume.split(":")[0] for service in services.values() for volume in service.get("volumes", []) if isinstance(volume, str)
    }, "every CephFS mount is a volume of the stock compose file"
    result = subprocess.run([compose, "-f", "docker-compose.yml", "config", "-q"], capture_output=True, text=True, cwd=installer)
    assert result.returncode == 0, result.stderr


SECRET_BEARING_LIST = re.compile(r"^secret_bearing=\(\n(.*?)^\)", re.S | re.M)


def _listed_secret_bearing() -> set[str]:
    """lock_down's list in install-harbor2.sh: the files it leaves readable by their owner only."""
    text = (ROOT / "templates/scripts/install-harbor2.sh").read_text()
    return {line.strip() for line in SECRET_BEARING_LIST.search(text).group(1).splitlines() if line.strip()}


class InstalledCluster:
    """Every Harbor node of a 2.15 topology, each on a machine root of its own, after apply.sh and
    two runs of install-harbor.sh with the real 2.15.2 prepare."""

    def __init__(self, topology: Path, directory: Path, token_pair):
        self.cluster = load_cluster(topology)
        name, tree = compiled(topology)
        bundles = directory / "out" / name
        write_tree(tree, bundles)
        self.values = secrets_for(topology, token_pair)
        packs = make_packs(topology, write_secrets_file(directory / "secrets.yaml", self.values), directory / "packs")
        self.roots, self.runs, self.first, self.second, self.calls = {}, {}, {}, {}, {}
        for node in self.cluster.harbor_nodes:
            machine = Machine2(directory / "machines" / node.name, bundles, packs, self.cluster.harbor.installer_dir)
            self.runs[node.name] = [machine.apply(node.name), machine.install(node.name)]
            self.first[node.name] = self.installed(machine.root)
            self.runs[node.name].append(machine.install(node.name))
            self.second[node.name] = self.installed(machine.root)
            self.roots[node.name] = machine.root
            self.calls[node.name] = machine.calls()

    def installer(self, node: str) -> Path:
        return self.roots[node] / self.cluster.harbor.installer_dir.lstrip("/")

    def installed(self, root: Path) -> dict[str, tuple[bytes, int, int, int]]:
        """What the issue calls a node's install: common/config, docker-compose.yml, data_volume/secret."""
        installer = root / self.cluster.harbor.installer_dir.lstrip("/")
        secret = root / self.cluster.harbor.secret_dir.lstrip("/")
        state = {f"common/config/{path}": value for path, value in tree_state(installer / "common/config").items()}
        state.update({f"secret/{path}": value for path, value in tree_state(secret).items()})
        compose = installer / "docker-compose.yml"
        if compose.is_file():
            state["docker-compose.yml"] = tree_state(installer)["docker-compose.yml"]
        return state

    def needles(self) -> dict[str, bytes]:
        """Each planted secret as it lands in a file (planted_needles), and the registry
        credential's bcrypt line as the pack holds it."""
        found = planted_needles(self.values)
        passwd = (self.installer(self.cluster.harbor_nodes[0].name) / "harborgen/pins/registry.passwd").read_text()
        found["registry_credential_password|bcrypt"] = [line for line in passwd.splitlines() if not line.startswith("#")][0].encode()
        return found


# The 2.15 topologies whose Harbor nodes hold no database or Redis of their own (harbor2-minimal
# puts them on one machine: apply.sh would run a real psql there).
INSTALL_CASES = [(name, path) for name, path in sorted(topologies_of("2.15").items()) if name != "harbor2-minimal"]


@pytest.fixture(scope="module")
def installed2(tmp_path_factory, token_pair):
    """InstalledCluster of each 2.15 topology, made once for the tests of this module."""
    made = {}

    def install(case) -> InstalledCluster:
        name, topology = case
        if name not in made:
            made[name] = InstalledCluster(topology, tmp_path_factory.mktemp(name), token_pair)
        return made[name]

    return install


@pytest.mark.real_component
@pytest.mark.parametrize("case", INSTALL_CASES, ids=[name for name, _ in INSTALL_CASES])
def test_every_harbor_node_installs_twice_with_the_real_prepare_and_holds_the_same_files(case, installed2):
    cluster = installed2(case)
    for node, runs in cluster.runs.items():
        for run in runs:
            assert run.returncode == 0, (node, run.args[1], run.stdout[-3000:] + run.stderr[-3000:])
        assert cluster.calls[node].count("docker compose up -d") == 2, (node, cluster.calls[node])
        assert cluster.second[node] == cluster.first[node], f"the second install on {node} changed a byte, mode or owner"
        assert "common/config/db/env" not in cluster.first[node], "db/env holds the database password: removed"
        assert "docker-compose.yml" in cluster.first[node]
    reference, *others = cluster.cluster.harbor_nodes
    for node in others:
        differ = {path for path in cluster.first[node.name].keys() | cluster.first[reference.name].keys()
                  if cluster.first[node.name].get(path) != cluster.first[reference.name].get(path)}
        assert not differ, f"{node.name} and {reference.name} differ in {sorted(differ)}"


@pytest.mark.real_component
@pytest.mark.parametrize("case", INSTALL_CASES, ids=[name for name, _ in INSTALL_CASES])
def test_lock_down_lists_exactly_the_files_prepare_leaves_holding_a_secret(case, installed2):
    """The list is a fact about the real prepare's output: derived here from planted secret values."""
    cluster = installed2(case)
    needles = cluster.needles()
    listed = _listed_secret_bearing()
    for node in cluster.roots:
        root, installer = cluster.roots[node], cluster.installer(node)
        holding = files_holding(root, needles)
        for path, names in holding.items():
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert mode & 0o077 == 0, f"{path.relative_to(root)} holds {sorted(names)} and is readable by others ({oct(mode)})"
        prepared = {str(path.relative_to(installer)) for path in holding
                    if path.is_relative_to(installer) and not path.is_relative_to(installer / "harborgen")}
        present = {path for path in listed if (installer / path).is_file()}
        assert prepared == present, f"holding a secret but not listed: {sorted(prepared - present)}; listed but holding none: {sorted(present - prepared)}"
        for path in present:
            assert stat.S_IMODE((installer / path).stat().st_mode) == 0o600, path


def _balancer_directives(topology: Path) -> list[str]:
    """The load balancer's directives, without what names this cluster (upstream servers and name, header)."""
    _, tree = compiled(topology)
    (content,) = [artifact.content.decode() for path, artifact in tree.items() if path.endswith("nginx/default.conf")]
    lines = [line.split("#")[0].strip() for line in content.splitlines()]
    lines = [re.sub(r"harbor_[a-z0-9-]+", "UPSTREAM", line) for line in lines if line and not line.startswith(("server ", "server_name "))]
    return lines


def test_the_load_balancer_keeps_the_proven_streaming_timeout_and_failover_settings():
    """tests/test_nginx_traffic.py proves them on the 1.1.2 loopback cluster; 2.15's balancer differs only in its nodes."""
    harbor1 = _balancer_directives(ROOT / "tests/topologies/loopback.yaml")
    harbor2 = _balancer_directives(ROOT / "tests/topologies/harbor2-loopback.yaml")
    assert harbor2 == harbor1
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in harbor2
    _, tree = compiled(ROOT / "tests/topologies/harbor2-loopback.yaml")
    servers = re.findall(r"server (\S+) ", tree["lb/nginx/default.conf"].content.decode())
    assert servers == ["127.0.0.21:18081", "127.0.0.22:18081", "127.0.0.23:18081"], "each node's own nginx, on http.port"
