"""Hostile topologies for the property test (`make test`, bounded) and `make fuzz` (many more).

A case starts from one of the golden topologies and mutates it: hostile text
in string fields, integers spelt as floats, strings, booleans or huge numbers,
lists emptied or doubled, keys removed, renamed or added, and YAML the loader
refuses (merge keys, anchors, aliases, tags). The properties are those of the
command line: it ends with 0 or 2 and never with a traceback; a refusal names
FILE:LINE:COL and writes nothing; an accepted topology renders files that
bash, nginx, MySQL and docker-compose read as intended.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, seed, settings
from hypothesis import strategies as st

from generator.review.semantic import sql_statements
from tests.helpers import LOCATED_LINE, all_topologies, run_cli

FUZZING = "HARBORGEN_FUZZ_EXAMPLES" in os.environ
settings.register_profile(
    "harborgen",
    max_examples=int(os.environ.get("HARBORGEN_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)


def hostile_property(test):
    """A property test: a fixed seed and 150 examples in `make test`, fresh seeds and many more in `make fuzz`."""
    test = settings(settings.get_profile("harborgen"))(test)
    return test if FUZZING else seed(20261128)(test)

HOSTILE_TEXT = [
    "", " ", "a b", "x;y", "x ;y", "a'b", 'a"b', "a\\b", "$HOME", "${x}", "$(reboot)", "`id`", "#c", "a#b",
    "\n", "a\nb", "\t", "\x00", "\x7f", "\r", "{{ x }}", "{% x %}", "}", "{", "..", "../etc", "/", "//x",
    "a\u202eb", "\u200b", "\ufeff", "a\ud800b", "\udfff", "ünï", "Ä", "x" * 300, "-", "-x", "0", "1.5", "true",
    "null", "~", "*", "&a", "!x", "%", "@", "a:b", "a: b", "- a", "[a]", "{a: 1}", "<<", "10.0.0.256", "::1",
    "http://x", "https://x:0", "http://a:b@c", "ldap://x", "sha256:", "a" * 64, "A", "_", "node0", "admin",
]

INTEGER_SPELLINGS = st.sampled_from([0, -1, 65536, 10**30, 2**63, 80.0, 900.0, 1.5, 1e400, "80", True, False, None])


@cache
def base_documents() -> dict[str, dict[str, Any]]:
    return {name: yaml.safe_load(path.read_text(encoding="utf-8")) for name, path in sorted(all_topologies().items())}


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _parent(document: Any, path: tuple) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


def _replacement(draw, old: Any) -> Any:
    if isinstance(old, bool):
        return draw(st.sampled_from(["yes", "on", 1, 0, None, "true"]))
    if isinstance(old, int):
        return draw(st.one_of(INTEGER_SPELLINGS, st.integers(1, 70000), st.sampled_from([1, 2, 64, 128, 443, 8443, 3306])))
    if isinstance(old, str):
        return draw(st.one_of(
            st.sampled_from(HOSTILE_TEXT),
            st.from_regex(r"[a-z][a-z0-9-]{0,12}[a-z0-9]", fullmatch=True),  # often valid: renders go deep
            st.builds(lambda piece, at: old[:at] + piece + old[at:], st.sampled_from(HOSTILE_TEXT), st.integers(0, len(old))),
            st.text(max_size=20),
        ))
    if isinstance(old, list):
        return draw(st.sampled_from([[], old + old, old[:1], [None], [{}], old[::-1]]))
    if isinstance(old, dict):
        return draw(st.sampled_from([{}, [], "x", None, {**old, "unknown_key": 1}]))
    return draw(st.sampled_from(HOSTILE_TEXT + [0, [], {}]))


def _mutate(draw, document: dict) -> None:
    path = draw(st.sampled_from(_paths(document)[1:]))
    parent, last = _parent(document, path), path[-1]
    action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "rename"]))
    if action == "replace" or isinstance(parent, list):
        parent[last] = _replacement(draw, parent[last])
    elif action == "delete":
        del parent[last]
    else:
        new_name = draw(st.one_of(st.sampled_from(HOSTILE_TEXT), st.just(str(last) + "s"), st.just(str(last).upper())))
        parent[new_name] = parent.pop(last)


def _as_yaml(draw, document: dict) -> str:
    style = draw(st.sampled_from(["block", "flow", "json"]))
    if style != "json":
        with contextlib.suppress(yaml.YAMLError, UnicodeEncodeError):
            return yaml.safe_dump(document, allow_unicode=True, default_flow_style=style == "flow", sort_keys=False)
    return json.dumps(document, ensure_ascii=True)  # JSON is YAML; lone surrogates travel as \ud800 escapes


# Text edits that reach what a mapping cannot express: the YAML the loader refuses.
TEXT_EDITS = [
    lambda text: "<<: {cluster: x}\n" + text,
    lambda text: text.replace("load_balancer:\n", "load_balancer:\n  <<: {listen: 80}\n", 1),
    lambda text: text.replace("cluster:", "cluster: &c", 1) + "extra: *c\n",
    lambda text: text.replace("harbor:\n", "harbor: !!map\n", 1),
    lambda text: text.replace("cluster:", "cluster: !!python/object:os.system", 1),
    lambda text: text + "---\ncluster: other\n",
    lambda text: "\ufeff" + text,
    lambda text: text.replace("  ", "\t", 1),
    lambda text: text + text.splitlines()[0] + "\n" if text.strip() else text,
    lambda text: text[: len(text) // 2],
    lambda text: text.replace(":", ": [", 1),
    lambda text: text.replace("\n", "\r\n"),
    lambda text: "? [a, b]\n: c\n" + text,
    lambda text: "1: x\n1.0: y\ntrue: z\nnull: w\n" + text,
]


@st.composite
def hostile_topologies(draw) -> str:
    """The text of a mutated golden topology."""
    documents = base_documents()
    document = copy.deepcopy(documents[draw(st.sampled_from(sorted(documents)))])
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        _mutate(draw, document)
    text = _as_yaml(draw, document)
    if draw(st.sampled_from([False, False, False, False, True])):  # integers(0, 4) would favour 0
        text = draw(st.sampled_from(TEXT_EDITS))(text)
    return text


# Valid-looking values by key: these go deep into rendering, where hostile text stops at validation.
_PLAUSIBLE_TEXT = {
    "address": st.ip_addresses(v=4).map(str),
    "installer_dir": st.from_regex(r"/[a-z][a-z0-9_.-]{0,10}(/[a-z][a-z0-9_.-]{0,10}){0,2}", fullmatch=True),
    "mount_point": st.from_regex(r"/[a-z][a-z0-9_-]{0,10}(/[a-z][a-z0-9_-]{0,10}){0,2}", fullmatch=True),
    "harbor_dir": st.from_regex(r"[a-z][a-z0-9_-]{0,10}(/[a-z][a-z0-9_-]{0,10})?", fullmatch=True),
    "log_dir": st.from_regex(r"logs/[a-z][a-z0-9_-]{0,10}", fullmatch=True),
    "name": st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
    "fs_name": st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
    "user": st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
    "username": st.from_regex(r"[A-Za-z0-9@._-]{1,20}", fullmatch=True),
    "from": st.from_regex(r"[A-Za-z0-9]{1,8} <[a-z0-9.]{1,8}@[a-z0-9.]{1,8}>", fullmatch=True),
    "image": st.from_regex(r"nginx:1\.[0-9]{1,2}(\.[0-9])?", fullmatch=True),
    "secret": st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
}
_PLAUSIBLE_INT = {
    "max_job_workers": st.integers(1, 64),
    "token_expiration": st.integers(1, 10080),
    "timeout": st.integers(900, 86400),
    "port": st.integers(1, 65535),
    "pg_num": st.sampled_from([2**n for n in range(16)]),
    "scope": st.integers(0, 2),
}


@st.composite
def plausible_topologies(draw) -> str:
    """A golden topology with some leaves changed to other values of their kind."""
    documents = base_documents()
    document = copy.deepcopy(documents[draw(st.sampled_from(sorted(documents)))])
    leaves = [path for path in _paths(document)[1:] if not isinstance(_parent(document, path)[path[-1]], (dict, list))]
    for path in draw(st.lists(st.sampled_from(leaves), max_size=6, unique=True)):
        parent, key = _parent(document, path), path[-1]
        old, name = parent[key], next((part for part in reversed(path) if isinstance(part, str)), "")
        if isinstance(old, bool):
            parent[key] = not old
        elif isinstance(old, int) and name in _PLAUSIBLE_INT:
            parent[key] = draw(_PLAUSIBLE_INT[name])
        elif isinstance(old, str) and name in _PLAUSIBLE_TEXT:
            parent[key] = draw(_PLAUSIBLE_TEXT[name])
    return _as_yaml(draw, document)


# --- the properties ----------------------------------------------------------------


def check_render(text: str, directory: Path) -> None:
    """Render the text as a topology and assert every property of the outcome."""
    topology = directory / "topology.yaml"
    topology.write_text(text, encoding="utf-8", errors="surrogatepass")
    out = directory / "out"
    code, _, stderr = run_cli("render", str(topology), "--out", str(out))
    event(f"exit {code}")
    assert code in (0, 2), f"exit {code}: {stderr}"
    assert "Traceback" not in stderr
    if code == 2:
        lines = stderr.splitlines()
        assert lines and all(LOCATED_LINE.match(line) and line.startswith(str(topology)) for line in lines), stderr
        assert not out.exists(), "a refused topology wrote something"
        return
    (cluster_dir,) = [path for path in out.iterdir() if not path.name.startswith(".")]  # beside it: the lock file
    check_artifacts(cluster_dir)


def check_artifacts(cluster_dir: Path) -> None:
    for path in sorted(cluster_dir.rglob("*")):
        if not path.is_file():
            continue
        content = path.read_bytes()
        if path.suffix == ".sh":
            bash_accepts(content)
        elif path.name == "default.conf":
            nginx_accepts(content)
        elif path.name == "create-database.sql" and b"\\gexec" in content:
            check_postgresql_sql(content.decode("utf-8"))
        elif path.name == "create-database.sql":
            check_create_database(content.decode("utf-8"))
        elif path.name == "pg_hba.conf":
            check_hba_lines(content.decode("utf-8"))
        elif path.name == "harbor.yml":
            check_harbor_yml(content.decode("utf-8"))
        elif path.name == "docker-compose.yml":
            services = set(yaml.safe_load(content)["services"])
            assert services == {"log", "registry", "adminserver", "ui", "jobservice", "proxy"}, services


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


_ACCEPTED: set[tuple[str, str]] = set()  # (tool, digest): most cases render the same file again


def bash_accepts(content: bytes) -> None:
    if ("bash", _digest(content)) in _ACCEPTED:
        return
    result = subprocess.run(["bash", "-n"], input=content, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    _ACCEPTED.add(("bash", _digest(content)))


def nginx_accepts(content: bytes) -> None:
    """nginx -t inside an http block, in a private network namespace: it binds its listen sockets."""
    if ("nginx", _digest(content)) in _ACCEPTED:
        return
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        site = _with_test_certificates(content.decode("utf-8"), directory)
        (directory / "site.conf").write_text(site, encoding="utf-8")
        (directory / "nginx.conf").write_text(
            f"pid {directory}/nginx.pid;\nerror_log {directory}/error.log;\nevents {{}}\n"
            f"http {{\n access_log off;\n client_body_temp_path {directory}/body;\n proxy_temp_path {directory}/proxy;\n"
            f" include {directory}/site.conf;\n}}\n"
        )
        command = ["unshare", "-n", shutil.which("nginx") or "nginx", "-t", "-q", "-p", str(directory), "-c", str(directory / "nginx.conf")]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr + site
    _ACCEPTED.add(("nginx", _digest(content)))


@lru_cache(maxsize=1)
def _test_certificate() -> tuple[bytes, bytes]:
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        key, cert = Path(scratch, "key.pem"), Path(scratch, "cert.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=60,
        )
        return key.read_bytes(), cert.read_bytes()


def _with_test_certificates(site: str, directory: Path) -> str:
    """The site with its certificate paths pointing at a real throw-away pair (nginx -t loads them)."""
    if "ssl_certificate" not in site:
        return site
    key, cert = _test_certificate()
    (directory / "key.pem").write_bytes(key)
    (directory / "cert.pem").write_bytes(cert)
    site = re.sub(r"^(\s*ssl_certificate_key) \S+;", rf"\1 {directory}/key.pem;", site, flags=re.M)
    return re.sub(r"^(\s*ssl_certificate) \S+;", rf"\1 {directory}/cert.pem;", site, flags=re.M)


SQL_STATEMENTS = [
    re.compile(r"CREATE DATABASE IF NOT EXISTS `[^`]+` DEFAULT CHARACTER SET utf8 COLLATE utf8_general_ci"),
    re.compile(r"CREATE USER IF NOT EXISTS '[^']+'@'[0-9.]+' IDENTIFIED BY 'HARBORGEN_SECRET\[[a-z0-9_]+\]'"),
    re.compile(r"ALTER USER '[^']+'@'[0-9.]+' IDENTIFIED BY 'HARBORGEN_SECRET\[[a-z0-9_]+\]'"),
    re.compile(r"GRANT ALL PRIVILEGES ON `[^`]+`\.\* TO '[^']+'@'[0-9.]+'"),
    re.compile(r"FLUSH PRIVILEGES"),
    # A Galera member's: the account of its state transfers, fixed text.
    re.compile(r"CREATE USER IF NOT EXISTS 'mysql'@'localhost' IDENTIFIED VIA unix_socket"),
    re.compile(r"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON \*\.\* TO 'mysql'@'localhost'"),
]


def check_create_database(text: str) -> None:
    statements = sql_statements(text)
    kinds = [next((i for i, pattern in enumerate(SQL_STATEMENTS) if pattern.fullmatch(s)), None) for s in statements]
    users = kinds.count(1)
    galera = [5, 6] if 5 in kinds else []
    assert users >= 1 and kinds == [0] + [1, 2, 3] * users + galera + [4], statements


_PG_ID = r'"[A-Za-z_][A-Za-z0-9_]*"'
_PG_LITERAL = r"'[A-Za-z_][A-Za-z0-9_]*'"
POSTGRESQL_LINES = [
    re.compile(line) for line in (
        r"\\set ON_ERROR_STOP on",
        r"SET client_min_messages = warning;",
        rf"SELECT 'CREATE ROLE {_PG_ID}'",
        rf"WHERE NOT EXISTS \(SELECT FROM pg_catalog.pg_roles WHERE rolname = {_PG_LITERAL}\)",
        r"\\gexec",
        rf"ALTER ROLE {_PG_ID} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT",
        r"    CONNECTION LIMIT -?[0-9]+ PASSWORD 'HARBORGEN_SECRET\[[a-z0-9_]+\|scram\]';",
        rf"SELECT 'CREATE DATABASE {_PG_ID} OWNER {_PG_ID} ENCODING ''UTF8'' TEMPLATE template0'",
        rf"WHERE NOT EXISTS \(SELECT FROM pg_catalog.pg_database WHERE datname = {_PG_LITERAL}\)",
        r"\\gexec",
        rf"ALTER DATABASE {_PG_ID} OWNER TO {_PG_ID};",
        rf"REVOKE ALL ON DATABASE {_PG_ID} FROM PUBLIC;",
        rf"\\connect {_PG_ID}",
        rf"ALTER SCHEMA public OWNER TO {_PG_ID};",
        r"REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
    )
]


def check_postgresql_sql(text: str) -> None:
    """psql input of exactly the expected shape: every statement in place, nothing else."""
    lines = [line for line in text.splitlines() if line and not line.startswith("--")]
    assert len(lines) == len(POSTGRESQL_LINES), lines
    for line, pattern in zip(lines, POSTGRESQL_LINES, strict=True):
        assert pattern.fullmatch(line), (line, pattern.pattern)


_HBA_LINE = re.compile(rf'host(ssl)? {_PG_ID} {_PG_ID} [0-9.]+/32 scram-sha-256  # [a-z0-9-]+')


def check_hba_lines(text: str) -> None:
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(lines) >= 3 and all(_HBA_LINE.fullmatch(line) for line in lines[:-2]), lines
    assert re.fullmatch(rf"host all {_PG_ID} all reject", lines[-2]) and re.fullmatch(rf"local all {_PG_ID} reject", lines[-1]), lines


HARBOR_YML_KEYS = {
    "hostname", "http", "external_url", "harbor_admin_password", "data_volume", "trivy", "jobservice",
    "notification", "log", "_version", "external_database", "external_redis", "upload_purging", "cache",
}


def check_harbor_yml(text: str) -> None:
    document = yaml.safe_load(text)
    assert set(document) == HARBOR_YML_KEYS, set(document) ^ HARBOR_YML_KEYS
    assert isinstance(document["external_redis"]["host"], str) and isinstance(document["http"]["port"], int)
