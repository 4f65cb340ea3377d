"""docs/scenarios.md's table of the probe presets is what the simulator computes now."""

from __future__ import annotations

from pathlib import Path

from tools.probe_table import rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def test_the_documented_preset_table_is_current() -> None:
    text = DOC.read_text()
    start = text.index("<!-- probe-table -->") + len("<!-- probe-table -->")
    documented = text[start:text.index("<!-- /probe-table -->")].strip().splitlines()
    assert documented == rows(), "regenerate it: python -m tools.probe_table"
