"""What Harbor 2.15.2's `prepare` computes from harbor.yml, and the files it writes from the stock templates.

Read from make/photon/prepare at tag v2.15.2; none of its code is here. Each
function names the function of prepare it follows. The templates are the
stock ones (shared/reference/harbor-v2.15.2), rendered with prepare's own
Jinja settings (utils/jinja.py: trim_blocks, lstrip_blocks, a to_json filter).
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
from pathlib import Path
from urllib.parse import quote, unquote, urlencode, urlsplit

import jinja2
import yaml

REGISTRY_USER_NAME = "harbor_registry_user"  # utils/configs.py
LOG_LEVELS = {"debug": "debug", "info": "info", "warning": "warn", "error": "error", "fatal": "fatal"}  # utils/registry.py


def random_string(length: int) -> str:
    """utils/misc.py: generate_random_string."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


def redis_url(db: int, redis: dict) -> str:
    """utils/configs.py: get_redis_url (and get_redis_schema, get_redis_url_param)."""
    kwargs = {"host": "redis:6379", "password": "", **redis}
    tls = "tlsOptions" in kwargs and kwargs["tlsOptions"].get("enable")
    sentinel = kwargs.get("sentinel_master_set")
    scheme = ("rediss" if tls else "redis") + ("+sentinel" if sentinel else "")
    db_part = f"/{db}" if db else ""
    sentinel_part = f"/{sentinel}" if sentinel else ""
    quoted = quote(str(kwargs.get("password")), safe="")
    password_part = f":{quoted}@" if quoted else ""
    username_part = kwargs.get("username") or ""
    params = {"idle_timeout_seconds": kwargs["idle_timeout_seconds"]} if "idle_timeout_seconds" in kwargs else {}
    query = "?" + urlencode(params) if params else ""
    return f"{scheme}://{username_part}{password_part}{kwargs['host']}{sentinel_part}{db_part}{query}"


def redis_configs(external_redis: dict, with_trivy: bool) -> dict:
    """utils/configs.py: get_redis_configs, for an external Redis and no `redis:` section."""
    redis = {"host": "redis:6379", "password": "", "registry_db_index": 1, "jobservice_db_index": 2, "trivy_db_index": 5, "idle_timeout_seconds": 30}
    redis.update({key: value for key, value in external_redis.items() if value})
    configs = {
        "external_redis": True,
        "redis_url_core": redis_url(0, redis),
        "redis_url_js": redis_url(redis["jobservice_db_index"], redis),
        "redis_url_reg": redis_url(redis["registry_db_index"], redis),
    }
    if with_trivy:
        configs["trivy_redis_url"] = redis_url(redis["trivy_db_index"], redis)
    return configs


def parse_redis(url: str) -> dict:
    """utils/registry.py: parse_redis (what the registry's config.yml gets)."""
    parts = urlsplit(url)
    values = {
        "redis_host": parts.netloc.split("@")[-1],
        "redis_password": "" if parts.password is None else unquote(parts.password),
        "redis_username": "" if parts.username is None else unquote(parts.username),
        "redis_enableTLS": "true" if parts.scheme.startswith("rediss") else "false",
    }
    if parts.scheme.endswith("+sentinel"):
        path = parts.path.split("/")
        values["sentinel_master_set"] = path[1]
        values["redis_db_index_reg"] = int(path[2]) if len(path) == 3 else 0
    else:
        values["redis_db_index_reg"] = parts.path and int(parts.path[1:]) or 0
    return values


class _Model:
    """The small model objects of prepare (models.py) that the templates read, disabled as harborgen leaves them."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def config_dict(harbor_yml: str, *, with_trivy: bool, pinned: dict | None = None) -> dict:
    """utils/configs.py: parse_yaml_config, for what harborgen's harbor.yml holds.

    Secrets are drawn at random as prepare does, unless PINNED gives them
    (core_secret, jobservice_secret, registry_password, csrf_key, scan_robot_prefix).
    """
    configs = yaml.safe_load(harbor_yml)
    database = configs["external_database"]["harbor"]
    jobservice, notification = configs["jobservice"], configs["notification"]
    result = {
        "portal_url": "http://portal:8080",
        "registry_url": "http://registry:5000",
        "registry_controller_url": "http://registryctl:8080",
        "core_url": "http://core:8080",
        "core_local_url": "http://127.0.0.1:8080",
        "token_service_url": "http://core:8080/service/token",
        "jobservice_url": "http://jobservice:8080",
        "trivy_adapter_url": "http://trivy-adapter:8080",
        "hostname": configs["hostname"],
        "public_url": configs["external_url"],
        "data_volume": configs["data_volume"],
        "harbor_admin_password": configs["harbor_admin_password"],
        "storage_provider_name": "filesystem",
        "storage_provider_config": {},
        "max_job_workers": jobservice["max_job_workers"],
        "max_job_duration_hours": max(jobservice.get("max_job_duration_hours") or 24, 24),
        "job_loggers": jobservice["job_loggers"],
        "logger_sweeper_duration": jobservice["logger_sweeper_duration"],
        "notification_webhook_job_max_retry": notification["webhook_job_max_retry"],
        "notification_webhook_job_http_client_timeout": notification["webhook_job_http_client_timeout"],
        "log_level": configs["log"]["level"].lower(),
        "external_database": True,
        "harbor_db_host": database["host"],
        "harbor_db_port": database["port"],
        "harbor_db_name": database["db_name"],
        "harbor_db_username": database["username"],
        "harbor_db_password": database["password"],
        "harbor_db_sslmode": database["ssl_mode"],
        "harbor_db_max_idle_conns": database.get("max_idle_conns") or 2,
        "harbor_db_max_open_conns": database.get("max_open_conns") or 0,
        "harbor_db_conn_max_lifetime": database.get("conn_max_lifetime") or "5m",
        "harbor_db_conn_max_idle_time": database.get("conn_max_idle_time") or "0",
        "registry_username": REGISTRY_USER_NAME,
        "internal_tls": _Model(enabled=False, verify_client_cert=False),
        "metric": _Model(enabled=False, port=9090, path="/metrics"),
        "trace": _Model(enabled=False),
        "purge_upload": _Model(**configs["upload_purging"]),
        "cache": _Model(**configs["cache"]),
        "core": _Model(quota_update_provider=None),
        "reload_key": "",
        "with_trivy": with_trivy,
        # no proxy section: the *_http_proxy values are absent (Jinja's undefined prints nothing)
    }
    result.update(redis_configs(configs["external_redis"], with_trivy))
    drawn = {
        "core_secret": random_string(16),  # parse_yaml_config
        "jobservice_secret": random_string(16),  # parse_yaml_config
        "registry_password": random_string(32),  # parse_yaml_config
        "csrf_key": random_string(32),  # utils/core.py: prepare_core
        "scan_robot_prefix": random_string(8),  # utils/core.py: prepare_core
    }
    result.update(pinned or drawn)
    return result


def _environment(templates: Path) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)), trim_blocks=True, lstrip_blocks=True,
        autoescape=jinja2.select_autoescape(), undefined=jinja2.Undefined,
    )
    environment.filters["to_json"] = json.dumps
    return environment


def storage_provider_info(name: str, config: dict) -> str:
    """utils/registry.py: get_storage_provider_info, for the filesystem driver."""
    config = dict(config)
    config.setdefault("rootdirectory", "/storage")
    return ("\n" + " " * 4).join([name + ":", *(f"{key}: {value}" for key, value in config.items())])


def render_config(templates: Path, config: dict, *, htpasswd: bool = True) -> dict[str, str]:
    """The files of common/config that hold the pinned secrets, as prepare writes them.

    utils/core.py: prepare_core (core/env); utils/jobservice.py: prepare_job_service
    (jobservice/env, jobservice/config.yml); utils/registry_ctl.py: prepare_registry_ctl
    (registryctl/env); utils/registry.py: prepare_registry (registry/config.yml and,
    through gen_passwd_file, registry/passwd).
    """
    environment = _environment(templates)
    files = {
        "core/env": environment.get_template("core/env.jinja").render(**config),
        "jobservice/env": environment.get_template("jobservice/env.jinja").render(**config),
        "registryctl/env": environment.get_template("registryctl/env.jinja").render(**config),
        "jobservice/config.yml": environment.get_template("jobservice/config.yml.jinja").render(
            internal_tls=config["internal_tls"], max_job_workers=config["max_job_workers"],
            max_job_duration_hours=config["max_job_duration_hours"], job_loggers=config["job_loggers"],
            logger_sweeper_duration=config["logger_sweeper_duration"], redis_url=config["redis_url_js"],
            level=config["log_level"].upper(), metric=config["metric"],
        ),
        "registry/config.yml": environment.get_template("registry/config.yml.jinja").render(
            level=LOG_LEVELS[config["log_level"]],
            storage_provider_info=storage_provider_info(config["storage_provider_name"], config["storage_provider_config"]),
            **config, **parse_redis(config["redis_url_reg"]),
        ),
    }
    if htpasswd:
        files["registry/passwd"] = htpasswd_line(config["registry_username"], config["registry_password"])
    return files


def htpasswd_line(user: str, password: str) -> str:
    """utils/registry.py: gen_passwd_file runs `htpasswd -bcB`; its output, with a fresh salt."""
    result = subprocess.run(["htpasswd", "-nbB", user, password], capture_output=True, text=True, check=True)
    return result.stdout.rstrip("\n") + "\n"


def write_config(directory: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o640)  # utils/jinja.py: render_jinja's default mode


def random_key_pair(directory: Path) -> None:
    """utils/cert.py: create_root_cert (openssl genrsa -traditional 4096, then a self-signed certificate)."""
    key, certificate = directory / "core/private_key.pem", directory / "registry/root.crt"
    key.parent.mkdir(parents=True, exist_ok=True)
    certificate.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", str(key), "-out", str(certificate), "-days", "2", "-subj", "/"],
                   check=True, capture_output=True)


def run_prepare(installer_dir: Path, root: Path, templates: Path, *, with_trivy: bool) -> None:
    """commands/prepare.py: prepare, for the files harborgen cares about, under ROOT (the tests' --root).

    It clears common/config (delfile), writes the files from the stock templates with secrets drawn
    anew, and keeps data_volume/secret/keys/secretkey, core/private_key.pem and registry/root.crt
    when they exist, making them otherwise (get_secret_key, prepare_registry_ca; 2048-bit here, for speed).
    """
    config_dir = installer_dir / "common/config"
    if config_dir.exists():
        import shutil

        shutil.rmtree(config_dir)
    harbor_yml = (installer_dir / "harbor.yml").read_text()
    config = config_dict(harbor_yml, with_trivy=with_trivy)
    files = render_config(templates, config)
    passwd = files.pop("registry/passwd")
    write_config(config_dir, files)
    (config_dir / "registry/passwd").write_text(passwd)  # htpasswd -bcB: the umask decides the mode
    # make/prepare mounts the data_volume it read with grep and awk as the prepare image's /data.
    data_path = os.environ.get("PREPARE_DATA_PATH", config["data_volume"])
    assert data_path.startswith("/"), f"the prepare script read data_volume as {data_path!r}"
    secret_dir = root / data_path.lstrip("/") / "secret"
    secretkey = secret_dir / "keys/secretkey"
    if not secretkey.is_file():
        secretkey.parent.mkdir(parents=True, exist_ok=True)
        secretkey.write_text(random_string(16))
    if len(secretkey.read_text()) != 16:  # utils/cert.py: get_secret_key reads the whole file
        raise SystemExit(f"secret key's length has to be 16 chars, current length: {len(secretkey.read_text())}")
    if not ((secret_dir / "core/private_key.pem").exists() and (secret_dir / "registry/root.crt").exists()):
        random_key_pair(secret_dir)


if __name__ == "__main__":
    # A stand-in for the installer's ./prepare [--with-trivy], run from the installer directory as install-harbor.sh does.
    import sys

    run_prepare(
        Path.cwd(), Path(os.environ.get("PREPARE_ROOT", "/")), Path(os.environ["PREPARE_TEMPLATES"]),
        with_trivy="--with-trivy" in sys.argv[1:],
    )


def compose_variables(config: dict, harbor_yml: str, *, with_trivy: bool) -> dict:
    """utils/docker_compose.py: prepare_docker_compose's rendering variables (VERSION_TAG from the installer's versions file)."""
    configs = yaml.safe_load(harbor_yml)
    return {
        "version": "v2.15.2", "reg_version": "v2.15.2", "redis_version": "v2.15.2", "trivy_adapter_version": "v2.15.2",
        "data_volume": config["data_volume"],
        "log_location": configs["log"]["local"]["location"],  # parse_yaml_config: log_location
        "protocol": "https" if configs.get("https") else "http",
        "http_port": configs["http"]["port"],
        "external_redis": config["external_redis"],
        "external_database": config["external_database"],
        "with_trivy": with_trivy,
        "internal_tls": config["internal_tls"],
        "metric": config["metric"],
    }


def render_compose(templates: Path, harbor_yml: str, *, with_trivy: bool) -> str:
    config = config_dict(harbor_yml, with_trivy=with_trivy)
    variables = compose_variables(config, harbor_yml, with_trivy=with_trivy)
    return _environment(templates).get_template("docker_compose/docker-compose.yml.jinja").render(**variables)
