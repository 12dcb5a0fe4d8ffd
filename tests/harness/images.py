"""Images for the data-path tests: an OCI layout made here, copied by skopeo (the real client)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import require_tool

LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Image:
    layout: Path  # an OCI image layout holding one tag
    tag: str
    layer_digest: str
    layer_path: Path


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def _random_layer(path: Path, size: int) -> tuple[str, str]:
    """A gzipped tar of one file of SIZE random bytes, written to PATH: the digests of the tar and
    of the blob. Gzipped, as clients push layers, so that skopeo ships the blob's bytes unchanged;
    level 0 (stored blocks), since random bytes do not compress and making the image stays fast."""
    block = 4 * 1024 * 1024
    info = tarfile.TarInfo("payload.bin")
    info.size, info.mode = size, 0o644
    tar_hash = hashlib.sha256()
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=0, mtime=0) as packed:
        def write(data: bytes) -> None:
            packed.write(data)
            tar_hash.update(data)

        write(info.tobuf(format=tarfile.GNU_FORMAT))
        left = size
        while left:
            chunk = os.urandom(min(block, left))
            write(chunk)
            left -= len(chunk)
        write(b"\0" * ((512 - size % 512) % 512) + b"\0" * 1024)
    return tar_hash.hexdigest(), _file_digest(path)


def _file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def make_image(layout: Path, layer_size: int, tag: str = "1") -> Image:
    (layout / "blobs" / "sha256").mkdir(parents=True)
    staging = layout / "layer.tmp"
    tar_hex, layer_hex = _random_layer(staging, layer_size)
    layer_path = layout / "blobs" / "sha256" / layer_hex
    staging.rename(layer_path)
    config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [f"sha256:{tar_hex}"]}}
    config_digest, config_size = _blob(layout, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                "config": {"mediaType": CONFIG, "digest": config_digest, "size": config_size},
                "layers": [{"mediaType": LAYER, "digest": f"sha256:{layer_hex}", "size": layer_path.stat().st_size}]}
    manifest_digest, manifest_size = _blob(layout, json.dumps(manifest).encode())
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": MANIFEST, "digest": manifest_digest, "size": manifest_size,
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return Image(layout, tag, f"sha256:{layer_hex}", layer_path)


# Harbor 1.1.2's admin, for the stand-in token service (which takes any password).
ADMIN = "admin:unused"


def skopeo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """skopeo over plain HTTP, trusting any image (no policy file on the test machine)."""
    binary = require_tool("skopeo")
    return subprocess.run([binary, "--insecure-policy", *args], capture_output=True, text=True, timeout=timeout)


def push(image: Image, host: str, repository: str, credentials: str = ADMIN) -> subprocess.CompletedProcess:
    return skopeo("copy", "--dest-tls-verify=false", "--dest-creds", credentials,
                  f"oci:{image.layout}:{image.tag}", f"docker://{host}/{repository}:{image.tag}")


def pull(host: str, repository: str, tag: str, into: Path, credentials: str = ADMIN) -> subprocess.CompletedProcess:
    return skopeo("copy", "--src-tls-verify=false", "--src-creds", credentials,
                  f"docker://{host}/{repository}:{tag}", f"dir:{into}")


def same_bytes(first: Path, second: Path, block: int = 4 * 1024 * 1024) -> bool:
    if first.stat().st_size != second.stat().st_size:
        return False
    with first.open("rb") as one, second.open("rb") as two:
        while True:
            a, b = one.read(block), two.read(block)
            if a != b:
                return False
            if not a:
                return True

