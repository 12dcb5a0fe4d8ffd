"""The installers' own prepare programs, for tests to run as they run nginx or PostgreSQL.

Harbor 2.15.2: the unmodified make/photon/prepare (the program of the goharbor/prepare
image). Whole runs go through the installer's make/prepare script and a stand-in `docker`
(tests/stubs/prepare-container) that gives the program the paths of its image in a private
mount namespace; pure functions of it (the Redis URLs) are imported from its source.

Harbor 1.1.2: the unmodified make/prepare, under Python 2.7 (pyenv), in a private mount
namespace (tests/stubs/machine-ns) where /usr/bin/python is that Python 2 and the absolute
secretkey_path of harbor.cfg is the test machine's directory.

Both need root and unshare. Under CI=true anything missing is a failure, not a skip.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import IN_CI, REFERENCE, REFERENCE2, require_reference, require_tool

STUBS = Path(__file__).parent / "stubs"
PROGRAM2 = REFERENCE2 / "make" / "photon" / "prepare"
INSTALLER_SCRIPT2 = REFERENCE2 / "make" / "prepare"
PREPARE1 = REFERENCE / "make" / "prepare"


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the real prepare must run)")
    pytest.skip(message)


def require_namespaces() -> None:
    """The stand-in container needs root (prepare chowns) and a private mount namespace."""
    if os.geteuid() != 0:
        _unavailable("the real prepare needs root")
    require_tool("unshare")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        _unavailable(f"no private mount namespace here: {probe.stderr.strip()}")


def require_prepare2() -> Path:
    """The 2.15.2 prepare program and what it runs: openssl, htpasswd, its Python requirements."""
    require_reference(REFERENCE2)
    require_namespaces()
    require_tool("openssl")
    require_tool("htpasswd")
    for module in ("click", "jinja2", "yaml", "packaging", "distutils"):
        try:
            importlib.import_module(module)
        except ImportError:
            _unavailable(f"the 2.15.2 prepare needs the Python module {module} (the test extra installs it)")
    return PROGRAM2


def python2() -> str:
    """pyenv's Python 2.7, which Harbor 1.1.2's prepare is written for."""
    env = {**os.environ, "PYENV_VERSION": "2.7.18"}
    found = subprocess.run(["bash", "-c", "command -v pyenv >/dev/null && pyenv which python2.7"], capture_output=True, text=True, env=env)
    path = found.stdout.strip()
    if found.returncode != 0 or not path or not Path(path).is_file():
        _unavailable("Python 2.7 is not installed (pyenv 2.7.18): Harbor 1.1.2's prepare needs it")
    return str(Path(path).resolve())


def require_prepare1() -> tuple[Path, str]:
    require_reference(REFERENCE)
    require_namespaces()
    return PREPARE1, python2()


def install_prepare2(installer: Path) -> None:
    """Put the installer's own make/prepare script where an extracted offline installer has it."""
    shutil.copyfile(INSTALLER_SCRIPT2, installer / "prepare")
    (installer / "prepare").chmod(0o755)


def container_environment(root: Path, state: Path) -> dict[str, str]:
    """What the stand-in docker needs to run the real 2.15.2 prepare for a machine under ROOT."""
    return {
        "PATH": f"{STUBS}:{os.environ['PATH']}", "STUB_STATE": str(state), "STUB_ROOT": str(root),
        "PREPARE_PROGRAM": str(PROGRAM2), "PREPARE_PYTHON": sys.executable,
    }


def install_prepare1(installer: Path) -> None:
    """The installer's own prepare and the stock templates it reads, as the offline installer lays them."""
    shutil.copyfile(PREPARE1, installer / "prepare")
    (installer / "prepare").chmod(0o755)
    if not (installer / "common" / "templates").exists():
        shutil.copytree(REFERENCE / "common" / "templates", installer / "common" / "templates")


def machine1_command(root: Path, secretkey_path: str, command: list[str], python: str, keep: tuple[Path, ...] = ()) -> list[str]:
    """COMMAND in a namespace where /usr/bin/python is Python 2.7 and SECRETKEY_PATH is ROOT's.

    1.1.2's prepare reads the secretkey at the absolute secretkey_path of harbor.cfg; on a
    --root test machine that directory is under ROOT. Writes outside ROOT and the KEEP
    directories vanish with the namespace.
    """
    directory = root / secretkey_path.lstrip("/")
    directory.mkdir(parents=True, exist_ok=True)
    binds = [option for path in (root, *keep) for option in ("--bind", f"{path}:{path}")]
    return [str(STUBS / "machine-ns"), *binds, "--bind", f"{directory}:{secretkey_path}",
            "--link", f"{python}:/usr/bin/python", "--", *command]


def run_prepare1(installer: Path, root: Path, secretkey_path: str, *, umask: int = 0o022) -> subprocess.CompletedProcess:
    """The real 1.1.2 prepare, run in INSTALLER (under ROOT, the machine) as install.sh runs it."""
    _, python = require_prepare1()
    install_prepare1(installer)
    return subprocess.run(machine1_command(root, secretkey_path, ["./prepare"], python), cwd=installer,
                          capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(umask))


def prepare2_module(name: str):
    """A module of the real 2.15.2 prepare program, imported from its source (utils.configs, utils.registry)."""
    require_reference(REFERENCE2)
    if str(PROGRAM2) not in sys.path:
        sys.path.insert(0, str(PROGRAM2))
    return importlib.import_module(name)


def redis_urls(external_redis: dict) -> dict[str, str]:
    """The Redis URLs the real prepare builds for core, jobservice, the registry and trivy (get_redis_configs)."""
    configs = prepare2_module("utils.configs").get_redis_configs(external_redis=external_redis, with_trivy=True)
    return {"core": configs["redis_url_core"], "jobservice": configs["redis_url_js"],
            "registry": configs["redis_url_reg"], "trivy": configs["trivy_redis_url"]}


def run_prepare2(harbor_yml: str, directory: Path, state: Path, *, with_trivy: bool) -> Path:
    """Run the real 2.15.2 prepare (through the installer's make/prepare) on HARBOR_YML in an
    installer directory under DIRECTORY, treated as the machine's root; returns that installer."""
    require_prepare2()
    installer = directory / "opt" / "harbor"
    installer.mkdir(parents=True, exist_ok=True)
    install_prepare2(installer)
    (installer / "harbor.yml").write_text(harbor_yml)
    state.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["bash", "./prepare", *(["--with-trivy"] if with_trivy else [])], cwd=installer, capture_output=True, text=True,
        timeout=300, env={**os.environ, **container_environment(directory, state)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return installer
