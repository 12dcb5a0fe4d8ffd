"""How Harbor 1.1.2's `prepare` reads harbor.cfg and fills the adminserver env: a stand-in
for fast unit tests over many inputs.

Reads harbor.cfg with RawConfigParser after a ``[configuration]`` header, under
Python 3's rules or Python 2's (which cut a value at ' ;' and unquote ``""``), and
fills the adminserver env template with ``string.Template.substitute``. Read from
make/prepare at tag v1.1.2; none of its code is here. It proves nothing alone:
tests/test_prepare_semantics.py runs the real prepare under Python 2.7 on hostile
values and requires the same env; where they disagree, the real one is right.
"""

from __future__ import annotations

import configparser
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
