"""Where the schema and the templates live.

The design card keeps ``schema/`` and ``templates/`` at the top of the
repository, beside the package. A wheel carries them inside the package
(``generator/schema``, ``generator/templates``: see pyproject.toml); an
editable install or a checkout finds them beside it.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_directory(name: str) -> Path:
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


SCHEMA_FILE = _data_directory("schema") / "topology.schema.json"
TEMPLATES_DIR = _data_directory("templates")
