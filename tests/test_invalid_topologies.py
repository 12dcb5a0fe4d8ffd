"""The corpus of invalid topologies: exit 2, every problem located, nothing written.

Each file in tests/invalid/ ends with its expected diagnostics, one
``# expect: LINE:COL: path: message`` comment per line harborgen must print.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.cli import main

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))


def expected_lines(case: Path) -> list[str]:
    prefix = "# expect: "
    return [f"{case}:{line[len(prefix):]}" for line in case.read_text().splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize("case", CASES, ids=lambda path: path.stem)
def test_invalid_topology_is_refused_with_located_errors(case, tmp_path, capsys):
    expected = expected_lines(case)
    assert expected, f"{case.name} states no expected diagnostic"
    out_dir = tmp_path / "out"

    with pytest.raises(SystemExit) as exit_info:
        main(["render", str(case), "--out", str(out_dir)])

    captured = capsys.readouterr()
    assert exit_info.value.code == 2
    assert captured.err.splitlines() == expected
    assert "Traceback" not in captured.err
    assert not out_dir.exists(), "an invalid topology must write nothing"
