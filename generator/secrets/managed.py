"""The secrets harborgen makes itself: each one a name, how long it is, and what its consumer asks of it.

A target lists its own (``Target.managed_secrets``); the ones below are every
target's. ``secrets generate`` makes exactly these, the topology may not name
a secret of its own with one of their names, and a value in a secrets file is
checked against what the consumer asks wherever the secret lands.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ManagedSecret:
    name: str
    length: int  # letters and digits, the alphabet every context of legality.py admits
    asks: tuple[str, ...] = ()  # contexts of legality.py its consumer checks, wherever the value lands


SECRETKEY = ManagedSecret("harbor_secretkey", 16)  # Harbor's secretkey file: exactly 16 characters
REGISTRY_HTTP_SECRET = ManagedSecret("registry_http_secret", 32)  # one for every registry, or uploads fail across nodes

# The key every node signs tokens with and the certificate every registry checks them with: made together,
# since half a pair cannot be made to match the other half.
TOKEN_PRIVATE_KEY = "token_private_key"
TOKEN_CERTIFICATE = "token_certificate"
TOKEN_PAIR = (TOKEN_PRIVATE_KEY, TOKEN_CERTIFICATE)

SHARED: tuple[ManagedSecret, ...] = (SECRETKEY, REGISTRY_HTTP_SECRET)
