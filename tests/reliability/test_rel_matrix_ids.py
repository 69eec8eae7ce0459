"""``docs/reliability-matrix.md`` names tests by node id; every one must still exist.

A renamed or deleted test would otherwise leave a reliability row "covered" by nothing. The
check reads each named file and looks for the test function's definition.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "docs" / "reliability-matrix.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(::\w+)?")


def _references() -> list[tuple[str, str | None]]:
    """(file, test name or None) in document order; ``::name`` continues the last file."""
    out: list[tuple[str, str | None]] = []
    last: str | None = None
    for line in MATRIX.read_text().splitlines():
        for match in REFERENCE.finditer(line):
            path, name = match.group(1), match.group(2)
            if path:
                last = path
            if path or name:
                assert last is not None, f"{line!r}: '::' with no file before it"
                out.append((last, name[2:] if name else None))
    return out


def test_every_test_the_matrix_names_exists():
    references = _references()
    assert len(references) > 250
    missing = []
    for path, name in references:
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif name and not re.search(rf"^(async )?def {name}\(", source.read_text(), re.M):
            missing.append(f"{path}::{name}")
    assert sorted(set(missing)) == []


def test_every_row_and_regression_has_a_status():
    text = MATRIX.read_text()
    rows = re.findall(r"^### (\d+)\. .* — (COVERED|PARTIAL|NOT COVERED)$", text, re.M)
    assert [int(n) for n, _ in rows] == list(range(1, 33))
    regressions = re.findall(r"^\| [^|]+ \| (COVERED|PARTIAL|NOT COVERED) \|", text, re.M)
    assert len(regressions) == 18
