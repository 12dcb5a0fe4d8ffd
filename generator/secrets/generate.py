"""Generation: a strong value for every secret harborgen can make, legal wherever it lands."""

from __future__ import annotations

import datetime
import secrets as random_source
import string

from .managed import TOKEN_CERTIFICATE, TOKEN_PAIR, TOKEN_PRIVATE_KEY, ManagedSecret

# Passwords use an alphabet that is legal in every context of generator/secrets/legality.py.
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.:+=@%^!~*"
PASSWORD_LENGTH = 24
ALNUM = string.ascii_letters + string.digits
PLAIN_LENGTH = 32
# Contexts in which a generated password is letters and digits only: a plain YAML word, redis.conf.
PLAIN_CONTEXTS = frozenset({"yaml-plain", "redis-conf"})


def random_text(alphabet: str, length: int) -> str:
    return "".join(random_source.choice(alphabet) for _ in range(length))


def generate_missing(
    needed: dict[str, frozenset[str]],
    existing: dict[str, str],
    *,
    cluster_name: str,
    cephx_name: str,
    managed: tuple[ManagedSecret, ...],
) -> tuple[dict[str, str], list[str]]:
    """(new values for the secrets harborgen can make, names it cannot make); existing ones untouched."""
    recipes = {secret.name: secret for secret in managed}
    added: dict[str, str] = {}
    impossible: list[str] = []
    for name in needed:
        if name in existing or name in added:
            continue
        if name == cephx_name:
            impossible.append(name)  # only the Ceph cluster can issue a cephx key
        elif name in recipes:
            added[name] = random_text(ALNUM, recipes[name].length)
        elif name in TOKEN_PAIR:
            if TOKEN_PRIVATE_KEY in existing or TOKEN_CERTIFICATE in existing:
                impossible.append(name)  # half a pair: the other half cannot be made to match
            else:
                added[TOKEN_PRIVATE_KEY], added[TOKEN_CERTIFICATE] = token_key_pair(cluster_name)
        elif needed[name] & PLAIN_CONTEXTS:
            added[name] = random_text(ALNUM, PLAIN_LENGTH)
        else:
            added[name] = random_text(PASSWORD_ALPHABET, PASSWORD_LENGTH)
    return added, impossible


def token_key_pair(cluster_name: str) -> tuple[str, str]:
    """A new RSA key and its self-signed certificate, the pair every node signs and checks tokens with."""
    # Imported here: only generation pays for the cryptography library.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "harborgen"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"harbor-token-issuer {cluster_name}"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode("ascii")
    return private_pem, certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
