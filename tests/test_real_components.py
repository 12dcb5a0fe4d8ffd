"""Every artifact accepted by the real program that consumes it: nginx, docker-compose v1, shellcheck."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from generator.pipeline import compile_cluster, load_cluster
from tests.helpers import ROOT, TOPOLOGIES, compiled, require_tool

pytestmark = pytest.mark.real_component

RUN_TIMEOUT = 60


def _write_bundle(tree, node: str, destination: Path) -> Path:
    for path, artifact in tree.items():
        if path.startswith(f"{node}/"):
            target = destination / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact.content)
    return destination / node


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, **kwargs)


def test_docker_compose_v1_accepts_every_compose_file(harbor1_case, tmp_path):
    docker_compose = require_tool("docker-compose")
    _, topology = harbor1_case
    cluster = load_cluster(topology)
    tree = compile_cluster(cluster)
    for node in cluster.harbor_nodes:
        bundle = _write_bundle(tree, node.name, tmp_path)
        for service in ("adminserver", "ui", "jobservice"):  # what prepare writes, referenced by env_file
            env = bundle / "harbor" / "common" / "config" / service / "env"
            env.parent.mkdir(parents=True, exist_ok=True)
            env.write_text("LOG_LEVEL=debug\n")
        result = _run([docker_compose, "-f", str(bundle / "harbor" / "docker-compose.yml"), "config", "-q"])
        assert result.returncode == 0, f"{node.name}: {result.stderr}"


def _self_signed_certificate(directory: Path) -> None:
    openssl = require_tool("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    result = _run([
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=registry.example.com",
        "-keyout", str(directory / "privkey.pem"), "-out", str(directory / "fullchain.pem"),
    ])
    assert result.returncode == 0, result.stderr


def _topology_for_nginx_test(topology: Path, tmp_path: Path) -> Path:
    """The topology, with any TLS files moved to real ones under tmp_path."""
    text = topology.read_text()
    if "certificate:" not in text:
        return topology
    certificates = tmp_path / "tls"
    _self_signed_certificate(certificates)
    copy = tmp_path / topology.name
    copy.write_text(text.replace("/etc/ssl/registry/", f"{certificates}/"))
    return copy


def _nginx_test_config(directory: Path, site: Path) -> Path:
    config = directory / "nginx.conf"
    config.write_text(
        f"pid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log;\n"
        "events {}\n"
        "http {\n"
        "    access_log off;\n"
        f"    client_body_temp_path {directory}/body;\n"
        f"    proxy_temp_path {directory}/proxy;\n"
        f"    include {site};\n"
        "}\n"
    )
    return config


def test_nginx_accepts_default_conf_inside_an_http_block(topology_case, tmp_path):
    nginx = require_tool("nginx")
    _, topology = topology_case
    cluster = load_cluster(_topology_for_nginx_test(topology, tmp_path))
    tree = compile_cluster(cluster)
    bundle = _write_bundle(tree, cluster.load_balancer.node, tmp_path / "bundles")
    config = _nginx_test_config(tmp_path, bundle / "nginx" / "default.conf")
    result = _run([nginx, "-t", "-p", str(tmp_path), "-c", str(config)])
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def _bundle_holding_every_role(tmp_path: Path) -> Path:
    """The minimal topology with one node holding all four roles: its bundle ships every script."""
    text = (TOPOLOGIES / "minimal.yaml").read_text()
    text = (text.replace("roles: [harbor, ceph-admin, database]", "roles: [harbor, ceph-admin, database, load-balancer]")
                .replace("roles: [harbor, load-balancer]", "roles: [harbor]")
                .replace("  node: b\n  listen: 8080\n  server_name: 192.168.10.2", "  node: a\n  listen: 8080\n  server_name: 192.168.10.1")
                .replace("http://192.168.10.2:8080", "http://192.168.10.1:8080"))
    topology = tmp_path / "all-roles.yaml"
    topology.write_text(text)
    cluster = load_cluster(topology)
    assert cluster.nodes[0].roles == ("harbor", "ceph-admin", "load-balancer", "database")
    tree = compile_cluster(cluster)
    for path, artifact in tree.items():
        target = tmp_path / "out" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(artifact.content)
    return tmp_path / "out"


def _harbor2_bundle_holding_every_role(tmp_path: Path) -> Path:
    """The Harbor 2.15 example with one node holding all five roles."""
    text = (ROOT / "examples" / "harbor2" / "topology.yaml").read_text()
    text = (text.replace("roles: [harbor, ceph-admin]}", "roles: [harbor, ceph-admin, load-balancer, database, redis]}")
                .replace("nginx: {address: 10.222.76.70, roles: [load-balancer]}", "")
                .replace("pg: {address: 10.222.76.74, roles: [database]}", "")
                .replace("redis: {address: 10.222.76.75, roles: [redis]}", "")
                .replace("node: nginx\n  listen: 80\n  server_name: 10.222.76.70", "node: admin\n  listen: 8080\n  server_name: 10.222.77.73")
                .replace("http://10.222.76.70 ", "http://10.222.77.73:8080 ")
                .replace("node: pg", "node: admin").replace("node: redis", "node: admin"))
    topology = tmp_path / "all-roles-2.yaml"
    topology.write_text(text)
    cluster = load_cluster(topology)
    assert cluster.nodes[0].roles == ("harbor", "ceph-admin", "load-balancer", "database", "redis")
    for path, artifact in compile_cluster(cluster).items():
        target = tmp_path / "out2" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(artifact.content)
    return tmp_path / "out2"


def _pair_balancer_bundle(tmp_path: Path) -> Path:
    """A load balancer of a pair: the keepalived scripts ship there only (they read no values.sh)."""
    _, tree = compiled(TOPOLOGIES / "lb-pair.yaml")
    for path, artifact in tree.items():
        if path.startswith("lb1/"):
            target = tmp_path / "pair" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact.content)
    return tmp_path / "pair"


def _member_scripts(tmp_path: Path, topology: str, member: str) -> list[Path]:
    """A replicated database member's own scripts (Galera's, Patroni's), beside its values.sh: apply.sh is checked with
    the values of a bundle holding every role."""
    _, tree = compiled(TOPOLOGIES / topology)
    for path, artifact in tree.items():
        if path.startswith(f"{member}/"):
            target = tmp_path / topology / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifact.content)
    return sorted(path for path in (tmp_path / topology / member).rglob("*.sh") if path.name not in ("apply.sh", "values.sh"))


def test_shellcheck_accepts_the_plain_scripts_with_the_values_they_read(tmp_path):
    """The scripts are the same in every bundle: checked once, following values.sh, for a node with every role (each target)."""
    shellcheck = require_tool("shellcheck")
    scripts = sorted([*_bundle_holding_every_role(tmp_path).rglob("*.sh"), *_harbor2_bundle_holding_every_role(tmp_path).rglob("*.sh"),
                      *(_pair_balancer_bundle(tmp_path) / "lb1" / "keepalived").glob("*.sh"),
                      *_member_scripts(tmp_path, "galera.yaml", "db1"), *_member_scripts(tmp_path, "patroni.yaml", "pg1")])
    plain = {path.read_bytes() for path in (ROOT / "templates" / "scripts").glob("*.sh")}
    assert {path.read_bytes() for path in scripts} >= plain, "a plain script is in no bundle"
    for script in scripts:
        assert script.read_bytes().startswith(b"#!/usr/bin/env bash\n") or script.name == "values.sh", script
    result = _run([shellcheck, "--external-sources", "--shell=bash", "--severity=style", *map(str, scripts)])
    assert result.returncode == 0, result.stdout


def test_every_rendered_values_file_is_plain_assignments(topology_case, tmp_path):
    shellcheck = require_tool("shellcheck")
    _, topology = topology_case
    _, tree = compiled(topology)
    files = [path for path in tree if path.endswith("values.sh")]
    assert files
    for path in files:
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(tree[path].content)
        lines = [line for line in tree[path].content.decode().splitlines() if line and not line.startswith("#")]
        assert all(re.fullmatch(r"[a-z_]+=(\(.*\)|'[^']*')", line) for line in lines), path
    result = _run([shellcheck, "--shell=bash", "--severity=style", *[str(tmp_path / p) for p in files]])
    assert result.returncode == 0, result.stdout


def test_every_script_in_a_bundle_is_a_plain_script_shipped_as_is(topology_case):
    _, topology = topology_case
    _, tree = compiled(topology)
    plain = {path.read_bytes() for path in (ROOT / "templates" / "scripts").glob("*.sh")}
    for path, artifact in tree.items():
        if artifact.executable:
            assert artifact.content in plain, f"{path} differs from every script of templates/scripts/"


def test_systemd_accepts_the_docker_drop_in(topology_case, tmp_path):
    """systemd-analyze verify reads docker.service with our drop-in and warns about nothing."""
    analyze = require_tool("systemd-analyze")
    _, topology = topology_case
    cluster = load_cluster(topology)
    tree = compile_cluster(cluster)
    (tmp_path / "docker.service").write_text("[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n")
    for node in cluster.harbor_nodes:
        dropin = tree[f"{node.name}/systemd/docker.service.d/harborgen-cephfs.conf"].content
        targets = " ".join(mount.target for mount in cluster.cephfs.mounts)
        assert f"RequiresMountsFor={targets}\n".encode() in dropin
        (tmp_path / "docker.service.d").mkdir(exist_ok=True)
        (tmp_path / "docker.service.d" / "harborgen-cephfs.conf").write_bytes(dropin)
        result = _run([analyze, "verify", str(tmp_path / "docker.service")], env={"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0 and result.stderr == "", result.stderr
