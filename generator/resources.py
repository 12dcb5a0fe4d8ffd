"""Where the schema and the templates live.

The design card keeps ``schema/`` and ``templates/`` at the top of the
repository, beside the package; harborgen runs from that checkout (the
Makefile installs it in editable mode).
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = PROJECT_ROOT / "schema" / "topology.schema.json"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
