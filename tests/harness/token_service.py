"""A stand-in for Harbor 1.1.2's token service (the ui's /service/token), one process per node.

Harbor's ui cannot run here (it needs its MySQL schema, its adminserver and its image), so
this is the one part of the data path we write ourselves. It is written from reading
src/ui/service/token/ of Harbor v1.1.2, and keeps what the registry checks:
- the issuer "harbor-token-issuer" (the registry's auth.token.issuer must equal it);
- the audience: the `service` the registry named in its challenge;
- a JOSE header with alg RS256 and the libtrust key ID of the signing key as `kid`, which
  is how the registry finds the key among the certificates of its rootcertbundle;
- the key: the node's own filled private_key.pem (PEM type RSA PRIVATE KEY), read from disk;
- the claims: iss, sub, aud, exp, nbf, iat, jti and access.
What it leaves out is Harbor's authorisation (projects, roles): it grants every action a
scope asks for, as Harbor does for its admin on an existing project.

Usage: python -m tests.harness.token_service ADDRESS PORT PRIVATE_KEY
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

ISSUER = "harbor-token-issuer"  # src/ui/service/token/authutils.go, v1.1.2
EXPIRATION_MINUTES = 30  # the adminserver's default token_expiration


def libtrust_key_id(public_key) -> str:
    """libtrust's KeyID: SHA-256 of the DER public key, 240 bits, base32 in 12 groups of 4."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(encoded[index:index + 4] for index in range(0, len(encoded), 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def access_of(scopes: list[str]) -> list[dict]:
    """GetResourceActions: 'type:name:action,action' per scope; a name may hold no colon here."""
    access = []
    for scope in scopes:
        if not scope:
            continue
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":") if rest.count(":") else (rest, "", "")
        access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
    return access


def make_token(private_key, subject: str, service: str, scopes: list[str], now: int | None = None) -> str:
    now = int(time.time()) if now is None else now
    header = {"typ": "JWT", "alg": "RS256", "kid": libtrust_key_id(private_key.public_key())}
    claims = {
        "iss": ISSUER, "sub": subject, "aud": service,
        "exp": now + EXPIRATION_MINUTES * 60, "nbf": now, "iat": now,
        "jti": secrets.token_hex(8), "access": access_of(scopes),
    }
    payload = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = private_key.sign(payload.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{payload}.{_b64url(signature)}"


def load_private_key(path: str):
    with open(path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


class TokenHandler(BaseHTTPRequestHandler):
    private_key = None  # set by serve()
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        url = urlsplit(self.path)
        if url.path != "/service/token":
            self._reply(404, b'{"error": "the stand-in token service only serves /service/token"}')
            return
        query = parse_qs(url.query)
        subject = self._user() or ""
        token = make_token(self.private_key, subject, query.get("service", [""])[0], query.get("scope", []))
        body = json.dumps({"token": token, "expires_in": EXPIRATION_MINUTES * 60,
                           "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode()
        self._reply(200, body)

    def _user(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            return base64.b64decode(header[6:]).decode("utf-8").partition(":")[0]
        except ValueError:
            return None

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the http.server API)
        pass


def serve(address: str, port: int, key_path: str) -> None:
    TokenHandler.private_key = load_private_key(key_path)
    ThreadingHTTPServer((address, port), TokenHandler).serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])
