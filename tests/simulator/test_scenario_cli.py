"""Scenario mistakes on the command line: one line naming the file and the problem, exit 2."""

from __future__ import annotations

import pytest

from tests.in_process import run_main


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[probe]\ndetector = 'wood'\n", "unknown detector 'wood'"),
        ("[[sources]]\nposition_mm = [0, 0, -10]\nactivity_mbq = 1\nradius_mm = -2\n",
         "sources[0].radius_mm must be >= 0"),
        ("[path]\nwaypoints = [{ position_mm = [0, 0, 0], speed = 3 }]\n", "speed"),
        ("nuclide = 'Tc-99m'\nframe_period_s = 120\n", "frame_period_s"),
    ],
)
@pytest.mark.parametrize("command", [("sim", "run"), ("sim", "serve")])
def test_malformed_scenario_file_one_line_exit_2(tmp_path, text: str, problem: str,
                                                  command: tuple[str, ...]) -> None:
    path = tmp_path / "case.toml"
    path.write_text(text)
    result = run_main(*command, "--scenario", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and problem in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
