"""The secrets file: read, check, generate missing values, write back (0600, atomically).

The file is a flat YAML mapping from secret name to value, kept out of Git.
harborgen writes every value as a one-line double-quoted scalar, a form that
apply.sh on a machine can read exactly without a YAML library; operators may
add plain words (a cephx key) or single-quoted values by hand.
"""

from __future__ import annotations

import datetime
import os
import re
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .bundle import Tree
from .conventions import TOKEN_CERTIFICATE, TOKEN_PRIVATE_KEY
from .errors import Diagnostic, InputError, OutputError
from .formats import SHAPES
from .loader import Located, load_file
from .model import Cluster
from .secrets import (
    ALNUM,
    PASSWORD_ALPHABET,
    PASSWORD_LENGTH,
    generated_kind,
    needed_in_bundle,
    random_text,
    value_problems,
)

SECRETS_FILE_MODE = 0o600


@dataclass(frozen=True)
class SecretValues:
    """Values read from a secrets file, with where each stands in it."""

    located: Located | None
    values: dict[str, str]

    def diagnostic(self, name: str, message: str) -> Diagnostic:
        if self.located is None:
            return Diagnostic("<secrets>", 1, 1, name, message)
        return self.located.diagnostic((name,), message)


def needed_secrets(tree: Tree) -> dict[str, frozenset[str]]:
    """Every secret the rendered tree holds a placeholder for, with the contexts it lands in."""
    needed: dict[str, set[str]] = {}
    by_node: dict[str, dict[str, bytes]] = {}
    for path, artifact in tree.items():
        node, _, bundle_path = path.partition("/")
        by_node.setdefault(node, {})[bundle_path] = artifact.content
    for contents in by_node.values():
        for name, contexts in needed_in_bundle(contents).items():
            needed.setdefault(name, set()).update(contexts)
    return {name: frozenset(contexts) for name, contexts in sorted(needed.items())}


def read_secrets(path: Path) -> SecretValues:
    located = load_file(path)
    problems = []
    for name, value in located.data.items():
        if not SHAPES["secret-name"].check(name):
            problems.append(located.diagnostic((name,), f"{name!r} is not a secret name (expected {SHAPES['secret-name'].expected})", of_key=True))
        elif not isinstance(value, str):
            problems.append(located.diagnostic((name,), "is not a string (expected the secret's text; quote numbers and booleans)"))
    if problems:
        raise InputError(problems)
    return SecretValues(located, dict(located.data))


def check_secrets(cluster: Cluster, needed: dict[str, frozenset[str]], secrets: SecretValues) -> list[Diagnostic]:
    """Every needed secret present and legal for every context it lands in; the token pair matching."""
    problems = []
    for name, contexts in needed.items():
        value = secrets.values.get(name)
        if value is None:
            problems.append(secrets.diagnostic(name, f"missing ({how_to_obtain(cluster, name)})"))
            continue
        for problem in value_problems(value, contexts):
            problems.append(secrets.diagnostic(name, f"the value {problem}"))
    if not problems and TOKEN_PRIVATE_KEY in needed and TOKEN_CERTIFICATE in needed:
        if not _pair_matches(secrets.values[TOKEN_PRIVATE_KEY], secrets.values[TOKEN_CERTIFICATE]):
            problems.append(secrets.diagnostic(TOKEN_CERTIFICATE, f"is not the certificate of {TOKEN_PRIVATE_KEY} (expected one key pair)"))
    return problems


def file_mode_problem(path: Path) -> Diagnostic | None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Diagnostic(
            str(path), 1, 1, "",
            f"the secrets file has mode {mode:04o} (expected 0600: readable by its owner only; run 'chmod 600 {path}')",
        )
    return None


def git_work_tree(path: Path) -> Path | None:
    """The Git work tree that holds path, if any."""
    directory = path.resolve().parent
    return next((parent for parent in (directory, *directory.parents) if (parent / ".git").exists()), None)


def git_exposure_problem(path: Path) -> Diagnostic | None:
    """A secrets file inside a Git work tree must be one that Git ignores, or one commit publishes it."""
    work_tree = git_work_tree(path)
    if work_tree is None:
        return None
    target = path.resolve()
    try:
        ignored = subprocess.run(
            ["git", "-C", str(work_tree), "check-ignore", "-q", str(target)],
            capture_output=True, timeout=30,
        ).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ignored = False  # git cannot answer: treat the file as exposed
    if ignored:
        return None
    return Diagnostic(
        str(path), 1, 1, "",
        f"the secrets file is inside the Git work tree {work_tree} and Git does not ignore it "
        "(expected a path outside Git, or one that .gitignore lists)",
    )


def secrets_file_problems(path: Path) -> list[Diagnostic]:
    """The rules every command that reads or writes a secrets file applies: private, and out of Git."""
    problems = [problem for problem in (git_exposure_problem(path),) if problem]
    if path.exists():
        mode_problem = file_mode_problem(path)
        if mode_problem:
            problems.append(mode_problem)
    return problems


def how_to_obtain(cluster: Cluster, name: str) -> str:
    """What the operator does to supply a secret that is missing."""
    if name == cluster.cephfs.key.name:
        client = cluster.cephfs.client
        return (
            f"run 'ceph auth get-key client.{client}' on the ceph-admin node (bootstrap-cephfs.sh prints it) "
            f"and add it as '{name}: <key>'"
        )
    if name in (TOKEN_PRIVATE_KEY, TOKEN_CERTIFICATE):
        return f"{TOKEN_PRIVATE_KEY} and {TOKEN_CERTIFICATE} are one pair: remove the half that is there and run 'harborgen secrets generate'"
    return "run 'harborgen secrets generate' to add it"


def generate_missing(cluster: Cluster, needed: dict[str, frozenset[str]], existing: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(new values for the secrets harborgen can make, names it cannot make); existing ones untouched."""
    added: dict[str, str] = {}
    impossible: list[str] = []
    for name in needed:
        if name in existing or name in added:
            continue
        kind = generated_kind(name)
        if name == cluster.cephfs.key.name:
            impossible.append(name)
        elif kind == "secretkey":
            added[name] = random_text(ALNUM, 16)
        elif kind == "http-secret":
            added[name] = random_text(ALNUM, 32)
        elif kind == "token-key-pair":
            if TOKEN_PRIVATE_KEY in existing or TOKEN_CERTIFICATE in existing:
                impossible.append(name)  # half a pair: the other half cannot be made to match
            else:
                added[TOKEN_PRIVATE_KEY], added[TOKEN_CERTIFICATE] = token_key_pair(cluster.name)
        else:
            added[name] = random_text(PASSWORD_ALPHABET, PASSWORD_LENGTH)
    return added, impossible


def token_key_pair(cluster_name: str) -> tuple[str, str]:
    """A new RSA key and its self-signed certificate, the pair every node signs and checks tokens with."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "harborgen"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"harbor-token-issuer {cluster_name}"),
    ])
    now = datetime.datetime.now(datetime.timezone.utc)
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


def _pair_matches(private_pem: str, certificate_pem: str) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        return False
    return key.public_key().public_numbers() == certificate.public_key().public_numbers()


def quote(value: str) -> str:
    """A one-line YAML double-quoted scalar; apply.sh decodes exactly these escapes."""
    escaped = []
    for char in value:
        if char == "\\":
            escaped.append("\\\\")
        elif char == '"':
            escaped.append('\\"')
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            raise ValueError(f"control character {ord(char):#04x} in a secret")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def secrets_file_text(values: dict[str, str], cluster_name: str | None = None) -> str:
    header = f"# harborgen secrets of cluster {cluster_name}. Keep out of Git; mode 0600.\n" if cluster_name else ""
    return header + "".join(f"{name}: {quote(value)}\n" for name, value in sorted(values.items()))


def add_secrets(path: Path, added: dict[str, str], cluster_name: str) -> None:
    """Append the new values (an existing file keeps every byte it had), mode 0600."""
    try:
        if path.exists():
            existing = path.read_bytes()
            separator = b"" if not existing or existing.endswith(b"\n") else b"\n"
            content = existing + separator + secrets_file_text(added).encode("utf-8")
        else:
            content = secrets_file_text(added, cluster_name).encode("utf-8")
        _replace_privately(path, content)
    except (OSError, ValueError) as error:
        raise OutputError(f"cannot write the secrets file {path}: {error}") from error


def _replace_privately(path: Path, content: bytes) -> None:
    path = path.resolve()  # through a link: the file it names gets the new secrets, and the link stays
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, SECRETS_FILE_MODE)
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# The line forms apply.sh reads (see templates/apply/apply.sh.j2, read_secrets).
_APPLY_READABLE = (
    re.compile(r'[a-z][a-z0-9_]*:[ \t]+"(?:[^"\\]|\\[\\"nt])*"[ \t]*'),
    re.compile(r"[a-z][a-z0-9_]*:[ \t]+'.*'[ \t]*"),
    re.compile(r"[a-z][a-z0-9_]*:[ \t]+[A-Za-z0-9+/=._~-]+[ \t]*"),
)


def apply_unreadable_lines(path: Path) -> list[Diagnostic]:
    """Lines of the secrets file that apply.sh on a machine could not read."""
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not any(form.fullmatch(line) for form in _APPLY_READABLE):
            problems.append(Diagnostic(
                str(path), number, 1, "",
                "apply.sh reads only one secret per line: name: \"value\" (escapes \\\\ \\\" \\n \\t), name: 'value' or name: word",
            ))
    return problems
