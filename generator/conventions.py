"""Names and numbers that several stages must agree on."""

from __future__ import annotations

# Secrets harborgen itself needs beyond those the topology names.
SECRETKEY = "harbor_secretkey"
REGISTRY_HTTP_SECRET = "registry_http_secret"
TOKEN_PRIVATE_KEY = "token_private_key"
TOKEN_CERTIFICATE = "token_certificate"

# Harbor 2.15: what prepare makes at random on every run, pinned to one value for
# the whole cluster (utils/configs.py:parse_yaml_config, utils/core.py:prepare_core).
CORE_SECRET = "harbor_core_secret"  # CORE_SECRET, 16 characters
JOBSERVICE_SECRET = "harbor_jobservice_secret"  # JOBSERVICE_SECRET, 16 characters
CSRF_KEY = "harbor_csrf_key"  # CSRF_KEY, exactly 32 characters
ROBOT_SCANNER_PREFIX = "harbor_robot_scanner_prefix"  # ROBOT_SCANNER_NAME_PREFIX, 8 characters
REGISTRY_CREDENTIAL_PASSWORD = "registry_credential_password"  # core's and jobservice's password at the registry
REGISTRY_CREDENTIAL_USER = "harbor_registry_user"  # configs.py: REGISTRY_USER_NAME
HARBOR2_PINNED = (CORE_SECRET, JOBSERVICE_SECRET, CSRF_KEY, ROBOT_SCANNER_PREFIX, REGISTRY_CREDENTIAL_PASSWORD)

# A placeholder stands where a secret value will be filled in on the machine.
# Its characters are plain in every language the bundles use (ini, env,
# YAML plain scalars, SQL string literals, string.Template), so the
# committed render stays valid and shows exactly which secret goes where.
PLACEHOLDER_PREFIX = "HARBORGEN_SECRET["
PLACEHOLDER_SUFFIX = "]"


def placeholder(secret_name: str, derived: str | None = None) -> str:
    """Where a secret lands; with DERIVED (bcrypt, scram), a form of it that Python computes when filling."""
    suffix = f"|{derived}" if derived else ""
    return f"{PLACEHOLDER_PREFIX}{secret_name}{suffix}{PLACEHOLDER_SUFFIX}"


def default_log_dir(node_name: str) -> str:
    return f"logs/{node_name}"


def cephx_secret_name(client: str) -> str:
    return f"cephx_key_{client.replace('-', '_')}"


def generated_secret_names(cephx_name: str) -> frozenset[str]:
    """The names harborgen gives the secrets it manages itself (either target: one namespace)."""
    return frozenset({SECRETKEY, REGISTRY_HTTP_SECRET, TOKEN_PRIVATE_KEY, TOKEN_CERTIFICATE, cephx_name, *HARBOR2_PINNED})
