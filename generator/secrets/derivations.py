"""Forms of a secret that a file needs instead of the value: computed when filling, the same every time.

A hash is normally salted at random. Here the salt is derived from the value
(HMAC-SHA-256 keyed with the value, over the form and the secret's name), so
that every node and every rerun receives the same bytes: the file is pinned,
and `apply.sh --check` sees no drift. The values are random secrets of the
cluster (or chosen by the operator), never a human's reused password, so a
salt unique per value and name loses nothing that a random one would give.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

# bcrypt's own base64 alphabet: the same bit packing as standard base64.
_STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
BCRYPT_COST = 5  # htpasswd -B's default, as Harbor's prepare runs it: the registry checks it on every request
SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations


def _salt(form: str, name: str, value: str, size: int) -> bytes:
    return hmac.new(value.encode("utf-8"), f"harborgen {form} salt {name}".encode(), hashlib.sha256).digest()[:size]


def bcrypt_hash(name: str, value: str) -> str:
    """An htpasswd -B hash of the value ($2y$, as htpasswd writes it)."""
    import bcrypt

    encoded = base64.b64encode(_salt("bcrypt", name, value, 16)).decode("ascii").rstrip("=")
    salt = f"$2b${BCRYPT_COST:02d}$" + encoded.translate(str.maketrans(_STANDARD, _BCRYPT))
    hashed = bcrypt.hashpw(value.encode("utf-8"), salt.encode("ascii")).decode("ascii")
    return "$2y$" + hashed[4:]


def scram_verifier(name: str, value: str) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of the value (what pg_authid.rolpassword holds).

    The server stores only this; giving it instead of the password keeps the
    password out of the SQL file, the server's logs and pg_stat_activity.
    scramp (pg8000's SCRAM library) does the key derivation and SASLprep; only
    the salt is ours, so that the verifier is the same on every run.
    """
    import scramp

    salt = _salt("scram", name, value, 16)
    salt, stored_key, server_key, iterations = scramp.ScramMechanism("SCRAM-SHA-256").make_auth_info(
        value, iteration_count=SCRAM_ITERATIONS, salt=salt
    )

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


DERIVATIONS = {"bcrypt": bcrypt_hash, "scram": scram_verifier}
