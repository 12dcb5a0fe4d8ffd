"""A machine of the seed's cluster (Harbor 1.1.2) under a --root directory: a stock installer,
the stand-in commands of tests/stubs, and the real 1.1.2 prepare for its install step."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers import REFERENCE
from tests.real_prepare import install_prepare1, machine1_command, require_prepare1

STUBS = Path(__file__).parent.parent / "stubs"
INSTALLER = "home/cephd/harbor/harbor"
SECRETKEY_PATH = "/mnt/cephfs/harbor/data"  # harbor.cfg's secretkey_path, which the real prepare reads as is


class Machine:
    """One machine under a --root directory, with a stock installer and stand-in commands, that runs
    the cluster's bundles and packs. install() runs the installer's own prepare: the real 1.1.2 program."""

    def __init__(self, directory: Path, bundles: Path, packs: Path, values: dict[str, str]):
        self.bundles, self.packs, self.values = bundles, packs, values
        self.root, self.state = directory / "root", directory / "state"
        self.installer = self.root / INSTALLER
        self.installer.mkdir(parents=True)
        (self.installer / "harbor.cfg").write_text("hostname = reg.mydomain.com\n")
        (self.installer / "docker-compose.yml").write_text("version: '2'\n")
        if REFERENCE.is_dir():
            shutil.copytree(REFERENCE / "common" / "templates", self.installer / "common" / "templates")
        self.state.mkdir()

    def pack(self, node: str) -> str:
        return str(self.packs / node)

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{STUBS}:{os.environ['PATH']}", "STUB_STATE": str(self.state),
                "HARBORGEN_POLL_SECONDS": "0", "HARBORGEN_START_TIMEOUT": "1"}

    def apply(self, node: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(self.bundles / node / "apply.sh"), "--root", str(self.root), *args],
            capture_output=True, text=True, timeout=120, env=self._env(),
        )

    def install(self, node: str, *args: str) -> subprocess.CompletedProcess:
        _, python = require_prepare1()
        install_prepare1(self.installer)
        script = ["bash", str(self.bundles / node / "install-harbor.sh"), "--root", str(self.root), *args]
        return subprocess.run(
            machine1_command(self.root, SECRETKEY_PATH, script, python, keep=(self.state, self.bundles)),
            capture_output=True, text=True, timeout=120, env=self._env(), preexec_fn=lambda: os.umask(0o022),
        )

    def another(self, directory: Path) -> Machine:
        """A second machine of the same cluster, with a root of its own."""
        return Machine(directory, self.bundles, self.packs, self.values)
