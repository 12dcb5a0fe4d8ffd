"""A wheel holds the schema and the templates: installed into a clean venv, harborgen works from anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.helpers import ROOT


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """harborgen from a wheel built with `python -m build`, in a venv of its own (not editable)."""
    directory = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools leaves build/ behind, whose stale files a later wheel would pick up.
    source = directory / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", ".hypothesis", ".pytest_cache", "__pycache__", "out", "golden"))
    built = _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(directory / "dist"), str(source)])
    (directory / "build.log").write_text(built.stdout + built.stderr)
    (wheel,) = (directory / "dist").glob("harborgen-*.whl")
    environment = directory / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    _run([str(environment / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)])
    return environment / "bin" / "harborgen"


def test_the_wheel_carries_the_schema_and_every_template(installed):
    import zipfile

    (wheel,) = installed.parents[2].glob("dist/*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"generator/{path.relative_to(ROOT)}" for folder in ("schema", "templates") for path in (ROOT / folder).rglob("*") if path.is_file()}
    assert expected <= names, sorted(expected - names)


def test_the_build_warns_of_nothing(installed):
    """A deprecation with a date (the license table) or a folder of templates setuptools must
    guess about shows here first, not in a newcomer's first make render."""
    log = (installed.parents[2] / "build.log").read_text()
    warnings = sorted({line.strip() for line in log.splitlines() if "Warning" in line})
    assert not warnings, warnings


def test_an_installed_wheel_renders_and_checks_the_seed_from_another_directory(installed, tmp_path):
    topology = tmp_path / "topology.yaml"
    topology.write_text((ROOT / "topology.yaml").read_text())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for command in (["validate", str(topology)], ["render", str(topology), "--out", str(tmp_path / "out")],
                    ["check", str(topology), "--out", str(tmp_path / "out")]):
        _run([str(installed), *command], cwd=elsewhere)
    # What the wheel renders is what the checkout renders.
    diff = subprocess.run(["diff", "-r", str(tmp_path / "out" / "harbor-ceph"), str(ROOT / "out" / "harbor-ceph")], capture_output=True, text=True)
    assert diff.returncode == 0, diff.stdout


def test_the_runtime_imports_no_test_only_package(installed):
    python = installed.parent / "python"
    listed = _run([str(python), "-m", "pip", "list", "--format=freeze"]).stdout.lower()
    for test_only in ("pyyaml", "pytest", "hypothesis", "pymysql", "pre-commit"):
        assert f"{test_only}==" not in listed, f"{test_only} installed with the runtime"
