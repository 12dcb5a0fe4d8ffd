"""Names and numbers that several stages must agree on."""

from __future__ import annotations

# Host ports Harbor 1.1.2's own nginx ("proxy" service) publishes on every Harbor node.
HARBOR_PUBLISHED_PORTS = (80, 443, 4443)

# Secrets harborgen itself needs beyond those the topology names.
SECRETKEY = "harbor_secretkey"
REGISTRY_HTTP_SECRET = "registry_http_secret"
TOKEN_PRIVATE_KEY = "token_private_key"
TOKEN_CERTIFICATE = "token_certificate"

# A placeholder stands where a secret value will be filled in on the machine.
# Its characters are plain in every language the bundles use (ini, env,
# YAML plain scalars, SQL string literals, string.Template), so the
# committed render stays valid and shows exactly which secret goes where.
PLACEHOLDER_PREFIX = "HARBORGEN_SECRET["
PLACEHOLDER_SUFFIX = "]"


def placeholder(secret_name: str) -> str:
    return f"{PLACEHOLDER_PREFIX}{secret_name}{PLACEHOLDER_SUFFIX}"


def default_log_dir(node_name: str) -> str:
    return f"logs/{node_name}"


def cephx_secret_name(client: str) -> str:
    return f"cephx_key_{client.replace('-', '_')}"


def generated_secret_names(cephx_name: str) -> frozenset[str]:
    return frozenset({SECRETKEY, REGISTRY_HTTP_SECRET, TOKEN_PRIVATE_KEY, TOKEN_CERTIFICATE, cephx_name})
