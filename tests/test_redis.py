"""The Harbor 2.15 Redis definition against a real Redis and Redis Sentinel on loopback.

The Redis node's bundle configures the server (its redis/harbor.conf, included from a
redis.conf as the RUNBOOK says); prepare builds every Redis URL from the one definition
in harbor.yml (utils/configs.py: get_redis_configs, imported from the real 2.15.2 prepare).
Each URL must authenticate and select its own database; so must the registry's
config.yml, which the real prepare writes from the registry URL.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from generator.pipeline import load_cluster
from generator.secrets.packs import materialize
from generator.writer import write_tree
from tests.harness.processes import stop
from tests.harness.resp import command
from tests.harness.sentinel import kill_the_master, sentinel_set
from tests.helpers import (
    TOPOLOGIES,
    compiled,
    require_tool,
    run_harborgen,
    secrets_for,
    write_secrets_file,
)
from tests.real_prepare import prepare2_module, redis_urls, run_prepare2

pytestmark = pytest.mark.real_component

TOPOLOGY = TOPOLOGIES / "harbor2-loopback.yaml"
REDIS_ADDRESS, REDIS_PORT = "127.0.0.25", 16379
SENTINEL_ADDRESS, SENTINEL_PORT = "127.0.0.26", 26390
# Legal wherever the password lands (harbor.yml, registry config.yml, redis.conf), and URL syntax to escape.
PASSWORD = "Zq+9/x=y~.-_K7"
START_TIMEOUT = 30


def _open(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=10)


def _wait_for(host: str, port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with _open(host, port):
                return
        except OSError:
            assert process.poll() is None, log.read_text() if log.exists() else "the server exited"
            assert time.monotonic() < deadline, f"nothing listens on {host}:{port}"
            time.sleep(0.2)


def _filled(tmp_path: Path, topology_text: str, token_pair) -> tuple[Path, dict[str, str]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    topology = tmp_path / "topology.yaml"
    topology.write_text(topology_text)
    values = secrets_for(topology, token_pair, redis_password=PASSWORD)
    _, tree = compiled(topology)
    write_tree(materialize(tree, values), tmp_path / "out" / "loopback2")
    return tmp_path / "out", values


@pytest.fixture
def redis_server(tmp_path, token_pair):
    """Redis configured by the redis node's bundle, included from a redis.conf of the test's own."""
    server = require_tool("redis-server")
    bundles, values = _filled(tmp_path, TOPOLOGY.read_text(), token_pair)
    data = tmp_path / "redis"
    data.mkdir()
    main = data / "redis.conf"
    main.write_text(f'daemonize no\ndir {data}\nsave ""\nlogfile {data}/redis.log\n'
                    f"include {bundles / 'loopback2/redis/redis/harbor.conf'}\n")
    process = subprocess.Popen([server, str(main)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(REDIS_ADDRESS, REDIS_PORT, process, data / "redis.log")
        yield {"bundles": bundles, "values": values, "data": data, "tmp": tmp_path}
    finally:
        stop(process)


def _urls(harbor_yml: str) -> dict[str, str]:
    return redis_urls(yaml.safe_load(harbor_yml)["external_redis"])


def _use(url: str, key: str) -> int:
    """What Harbor's clients do with a URL: authenticate, select the database, write. Returns the database."""
    parts = urlsplit(url)
    host_port, path = parts.netloc.rpartition("@")[2], parts.path.split("/")
    if parts.scheme == "redis+sentinel":
        sentinel_host, _, sentinel_port = host_port.split(",")[0].rpartition(":")
        with _open(sentinel_host, int(sentinel_port)) as sentinel:
            host, port = command(sentinel, "SENTINEL", "get-master-addr-by-name", path[1])
        database = int(path[2]) if len(path) == 3 else 0
    else:
        host, _, port = host_port.rpartition(":")
        database = int(path[1]) if len(path) == 2 and path[1] else 0
    with _open(host, int(port)) as connection:
        assert command(connection, "AUTH", unquote(parts.password)) == "OK"
        assert command(connection, "SELECT", str(database)) == "OK"
        assert command(connection, "SET", key, url) == "OK"
    return database


def _database_of(key: str) -> list[int]:
    with _open(REDIS_ADDRESS, REDIS_PORT) as admin:
        command(admin, "AUTH", PASSWORD)
        found = []
        for database in range(16):
            command(admin, "SELECT", str(database))
            if command(admin, "GET", key) is not None:
                found.append(database)
        return found


def test_unauthenticated_clients_are_refused(redis_server):
    with _open(REDIS_ADDRESS, REDIS_PORT) as connection, pytest.raises(RuntimeError, match="NOAUTH"):
        command(connection, "SELECT", "1")
    with _open(REDIS_ADDRESS, REDIS_PORT) as connection:
        command(connection, "AUTH", PASSWORD)
        assert command(connection, "CONFIG", "GET", "appendonly") == ["appendonly", "yes"]


def test_every_redis_url_authenticates_and_selects_its_own_database(redis_server):
    harbor_yml = (redis_server["bundles"] / "loopback2/h1/harbor/harbor.yml").read_text()
    urls = _urls(harbor_yml)
    assert "%2B" in urls["core"] and "%2F" in urls["core"], "the password is escaped for a URL"
    used = {}
    for name, url in urls.items():
        used[name] = _use(url, f"harborgen-test-{name}")
        assert _database_of(f"harborgen-test-{name}") == [used[name]], name
    assert used == {"core": 0, "jobservice": 2, "registry": 1, "trivy": 5}
    # The registry reads its Redis from config.yml, which prepare fills from the registry URL.
    registry = prepare2_module("utils.registry").parse_redis(urls["registry"])
    assert (registry["redis_host"], registry["redis_password"], registry["redis_db_index_reg"]) == (f"{REDIS_ADDRESS}:{REDIS_PORT}", PASSWORD, 1)
    # Every node builds the same URLs: harbor.yml is one file.
    for node in ("h2", "h3"):
        assert _urls((redis_server["bundles"] / f"loopback2/{node}/harbor/harbor.yml").read_text()) == urls


def test_the_registry_config_prepare_writes_reads_back_the_password_exactly(redis_server):
    harbor_yml = (redis_server["bundles"] / "loopback2/h1/harbor/harbor.yml").read_text()
    tmp = redis_server["tmp"]
    installer = run_prepare2(harbor_yml, tmp / "machine", tmp / "prepare-state", with_trivy=True)
    redis = yaml.safe_load((installer / "common/config/registry/config.yml").read_text())["redis"]
    assert redis["password"] == PASSWORD and redis["db"] == 1 and redis["addr"] == f"{REDIS_ADDRESS}:{REDIS_PORT}"


def test_every_url_through_sentinel_reaches_the_master(redis_server, token_pair):
    sentinel = require_tool("redis-sentinel")
    text = TOPOLOGY.read_text().replace(
        "  password: {secret: redis_password}\n",
        f"  password: {{secret: redis_password}}\n  sentinel:\n    master_set: harbor-master\n    hosts: [\"{SENTINEL_ADDRESS}:{SENTINEL_PORT}\"]\n",
    )
    bundles, _ = _filled(redis_server["tmp"] / "sentinel-case", text, token_pair)
    directory = redis_server["data"] / "sentinel"
    directory.mkdir()
    conf = directory / "sentinel.conf"
    conf.write_text(f"port {SENTINEL_PORT}\nbind {SENTINEL_ADDRESS}\ndir {directory}\nlogfile {directory}/sentinel.log\n"
                    f"sentinel monitor harbor-master {REDIS_ADDRESS} {REDIS_PORT} 1\nsentinel auth-pass harbor-master {PASSWORD}\n")
    process = subprocess.Popen([sentinel, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(SENTINEL_ADDRESS, SENTINEL_PORT, process, directory / "sentinel.log")
        urls = _urls((bundles / "loopback2/h1/harbor/harbor.yml").read_text())
        assert all(url.startswith("redis+sentinel://:") and "/harbor-master" in url for url in urls.values()), urls
        used = {name: _use(url, f"harborgen-sentinel-{name}") for name, url in urls.items()}
        assert used == {"core": 0, "jobservice": 2, "registry": 1, "trivy": 5}
        for name, database in used.items():
            assert _database_of(f"harborgen-sentinel-{name}") == [database]
    finally:
        stop(process)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("hostile", ["pa ss", "p'ss", 'p"ss', "p#ss", "p@ss:w/rd", "p$ss", "p\\ss", "päss"])
def test_a_password_a_redis_file_cannot_carry_is_refused_by_name(hostile, tmp_path, token_pair):
    values = secrets_for(TOPOLOGY, token_pair, redis_password=hostile)
    result = run_harborgen("secrets", "check", str(TOPOLOGY), "--secrets", str(write_secrets_file(tmp_path / "s.yaml", values)))
    assert result.returncode == 2 and "redis_password" in result.stderr, result.stdout + result.stderr
    assert hostile not in result.stderr


# The loopback topology's one Redis made a Sentinel set harborgen renders: three nodes, each a Redis and
# a sentinel, with a short down-after so that a failover takes seconds.
SET_NODES = {"r1": "127.0.0.41", "r2": "127.0.0.42", "r3": "127.0.0.43"}
SET_MASTER_SET = "harbor-master"


def _sentinel_set_topology() -> str:
    members = "".join(f"  {name}: {{address: {address}, roles: [redis]}}\n" for name, address in SET_NODES.items())
    return TOPOLOGY.read_text().replace("  node: redis\n  port: 16379\n", f"  nodes: [{', '.join(SET_NODES)}]\n  port: 16379\n").replace(
        "  password: {secret: redis_password}\n",
        f"  password: {{secret: redis_password}}\n  sentinel:\n    master_set: {SET_MASTER_SET}\n    port: 26391\n"
        "    down_after_milliseconds: 1000\n    failover_timeout: 10000\n",
    ).replace("  redis: {address: 127.0.0.25, roles: [redis]}\n", members)


def test_a_rendered_sentinel_set_fails_over_and_every_harbor_url_follows_the_new_master(tmp_path, token_pair):
    """The set brought up from its bundles (tests/harness/sentinel.py); the URLs are the real prepare's, from the
    rendered harbor.yml. After the master's SIGKILL every URL reaches the promoted replica, with its own database.
    The old master's machine, rebuilt, is seeded with the master its peers name, and its Redis, restarted with
    the same included file, becomes a replica: the bundle never points the set back at the old master."""
    text = _sentinel_set_topology()
    bundles, _ = _filled(tmp_path / "render", text, token_pair)
    cluster = load_cluster(tmp_path / "render" / "topology.yaml")
    urls = _urls((bundles / "loopback2/h1/harbor/harbor.yml").read_text())
    (tmp_path / "set").mkdir()
    with sentinel_set(tmp_path / "set", bundles / "loopback2", cluster, PASSWORD) as group:
        old, found, window = kill_the_master(group, urls)
        print(f"\nSentinel: master {old[0]}:{old[1]} killed; every Harbor URL reached the new master after {window:.2f} s")
        masters = {master for master, _ in found.values()}
        assert len(masters) == 1 and old not in masters, found
        assert {name: database for name, (_, database) in found.items()} == {"core": 0, "jobservice": 2, "registry": 1, "trivy": 5}
        (new,) = masters
        rebuilt = group.name_of(old)
        stop(group.sentinels.pop(rebuilt))
        # Rebuilt as soon as one other sentinel names the new master: the other may still name the old one.
        group.wait_until_named(new, by=1)
        group.sentinel_conf(rebuilt).unlink()
        reseeded = group.apply(rebuilt)
        assert reseeded.returncode == 0 and f"watching {new[0]} {new[1]}" in reseeded.stdout, reseeded.stdout + reseeded.stderr
        assert reseeded.stdout.count("the sentinel on ") == 2, reseeded.stdout
        group.start_server(rebuilt)
        group.start_sentinel(rebuilt)
        group.wait_until_watched(new)
        assert group.master_named_by(rebuilt) == new
        assert group.role(rebuilt)[:3] == ["slave", new[0], new[1]]


def test_apply_gives_a_running_sentinel_its_settings_and_check_sees_when_they_differ(tmp_path, token_pair):
    bundles, _ = _filled(tmp_path / "render", _sentinel_set_topology(), token_pair)
    cluster = load_cluster(tmp_path / "render" / "topology.yaml")
    (tmp_path / "set").mkdir()
    with sentinel_set(tmp_path / "set", bundles / "loopback2", cluster, PASSWORD) as group:
        for name in SET_NODES:
            checked = group.apply(name, "--check")
            assert checked.returncode == 0, checked.stdout + checked.stderr
        assert group.ask_sentinel("r3", "SENTINEL", "SET", SET_MASTER_SET, "down-after-milliseconds", "4000") == "OK"
        drifted = group.apply("r3", "--check")
        assert drifted.returncode != 0 and "down-after-milliseconds 1000" in drifted.stdout, drifted.stdout
        seeded = group.sentinel_conf("r3").read_text()
        again = group.apply("r3")
        assert again.returncode == 0 and "gave the sentinel its settings" in again.stdout, again.stdout + again.stderr
        assert "kept: " in again.stdout and group.apply("r3", "--check").returncode == 0
        state = group.ask_sentinel("r3", "SENTINEL", "master", SET_MASTER_SET)
        assert dict(zip(state[::2], state[1::2], strict=True))["down-after-milliseconds"] == "1000"
        assert "sentinel monitor" in seeded and "HARBORGEN_SECRET" not in seeded
