"""What Harbor 1.1.2's `prepare` does with harbor.cfg, the templates and the disk.

Reads harbor.cfg with RawConfigParser after a ``[configuration]`` header, under
Python 3's rules or Python 2's (which cut a value at ' ;' and unquote ``""``),
fills the adminserver env template with ``string.Template.substitute``, and
(run_prepare) writes common/config/ the way prepare does. Read from
make/prepare at tag v1.1.2; none of its code is here.
"""

from __future__ import annotations

import configparser
import os
import random
import shutil
import string
import sys
from pathlib import Path
from string import Template


def read_cfg(text: str, *, python2: bool) -> dict[str, str]:
    parser = configparser.RawConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read_string("[configuration]\n" + text)
    values = dict(parser.items("configuration"))
    return {key: _python2_value(value) for key, value in values.items()} if python2 else values


def _python2_value(value: str) -> str:
    # Python 2.7's RawConfigParser._read: only the first ';' is looked at, and it
    # starts a comment when white space precedes it; then strip, and '""' is empty.
    position = value.find(";")
    if position > 0 and value[position - 1].isspace():
        value = value[:position]
    value = value.strip()
    return "" if value == '""' else value


def adminserver_env(template: str, cfg: dict[str, str]) -> dict[str, str]:
    """The env file prepare writes to common/config/adminserver/env, as a mapping."""
    protocol, hostname = cfg["ui_url_protocol"], cfg["hostname"]
    filled = Template(template).substitute(
        ui_url=f"{protocol}://{hostname}",
        auth_mode=cfg["auth_mode"],
        self_registration=cfg["self_registration"],
        ldap_url=cfg["ldap_url"],
        ldap_searchdn=cfg.get("ldap_searchdn", ""),
        ldap_search_pwd=cfg.get("ldap_search_pwd", ""),
        ldap_basedn=cfg["ldap_basedn"],
        ldap_filter=cfg.get("ldap_filter", ""),
        ldap_uid=cfg["ldap_uid"],
        ldap_scope=cfg["ldap_scope"],
        ldap_timeout=cfg["ldap_timeout"],
        db_password=cfg["db_password"],
        email_host=cfg["email_server"],
        email_port=cfg["email_server_port"],
        email_usr=cfg["email_username"],
        email_pwd=cfg["email_password"],
        email_ssl=cfg["email_ssl"],
        email_from=cfg["email_from"],
        email_identity=cfg["email_identity"],
        harbor_admin_password=cfg["harbor_admin_password"],
        project_creation_restriction=cfg["project_creation_restriction"],
        verify_remote_cert=cfg["verify_remote_cert"],
        max_job_workers=cfg["max_job_workers"],
        ui_secret="UISECRET0123456",
        jobservice_secret="JOBSECRET012345",
        token_expiration=cfg["token_expiration"],
        admiral_url=cfg["admiral_url"],
        with_notary=False,
    )
    return parse_env(filled)


def parse_env(text: str) -> dict[str, str]:
    """docker-compose v1's env_file reading: KEY=VALUE lines, '#' comments, no quoting."""
    env = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = value
    return env


# --- the files prepare writes -------------------------------------------------------
# What Harbor 1.1.2's make/prepare (tag v1.1.2) does on disk, as the install step
# meets it. Each behaviour cites the part of prepare it reproduces.

# render() targets and the values prepare substitutes there that are secrets.
RENDERED = {
    "adminserver/env": "adminserver/env",
    "ui/env": "ui/env",
    "registry/config.yml": "registry/config.yml",
    "db/env": "db/env",  # prepare renders it whatever the topology: MYSQL_ROOT_PASSWORD=$db_password
    "jobservice/env": "jobservice/env",
}


def _get_secret(folder: Path, filename: str = "secretkey", length: int = 16) -> str:
    """prepare's _get_secret: read the file at secretkey_path, or generate a new random key there,
    silently and exit 0, when it is missing (then chmod 0600, the one file prepare protects)."""
    key_file = folder / filename
    if key_file.is_file():
        return key_file.read_text()
    folder.mkdir(parents=True, exist_ok=True)
    key = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(length))
    key_file.write_text(key)
    os.chmod(key_file, 0o600)
    return key


def _delfile(path: Path) -> None:
    """prepare's delfile(config_dir): every file under common/config is removed, directories stay."""
    if path.is_file():
        path.unlink()
    elif path.is_dir():
        for item in path.iterdir():
            _delfile(item)


def run_prepare(installer_dir: Path, root: Path = Path("/")) -> None:
    """Write common/config/ as prepare does, with the process umask (prepare's render() is a plain
    open(dest, 'w')). The key pair is copied from common/templates only when customize_crt is off,
    the `else` branch of `if customize_crt == 'on' and openssl_installed()`."""
    config_dir, templates_dir = installer_dir / "common/config", installer_dir / "common/templates"
    _delfile(config_dir)
    cfg = read_cfg((installer_dir / "harbor.cfg").read_text(), python2=True)
    secret_key = _get_secret(root / cfg["secretkey_path"].lstrip("/"))  # root: the tests' --root
    values = {**cfg, "ui_url": f"{cfg['ui_url_protocol']}://{cfg['hostname']}", "secret_key": secret_key}
    for source, target in RENDERED.items():
        destination = config_dir / target
        destination.parent.mkdir(parents=True, exist_ok=True)  # prep_conf_dir: os.makedirs, umask applies
        text = (templates_dir / source).read_text()
        destination.write_text(Template(text).safe_substitute(values, ui_secret="UISECRET0123456", jobservice_secret="JOBSECRET012345"))
    if cfg["customize_crt"] == "on":
        raise NotImplementedError("customize_crt = on makes a new key pair per node: harborgen never sets it")
    for source, target in (("ui/private_key.pem", "ui/private_key.pem"), ("registry/root.crt", "registry/root.crt")):
        (config_dir / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(templates_dir / source, config_dir / target)  # shutil.copyfile: the umask decides the mode


if __name__ == "__main__":
    # A stand-in for the installer's ./prepare: run from the installer directory, as install-harbor.sh does.
    run_prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd(), Path(os.environ.get("PREPARE_ROOT", "/")))
