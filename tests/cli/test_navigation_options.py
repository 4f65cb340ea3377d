"""The console's navigation options refused in one line with exit 2, before anything opens:
half a navigation (probe without tracker), --slicer without navigation, a bad HOST:PORT, a bad
tracker or probe file."""

from __future__ import annotations

import pytest

from tests.in_process import run_main


@pytest.fixture
def files(tmp_path):
    probe = tmp_path / "probe.toml"
    probe.write_text('[probe]\npreset = "cdte-14"\n')
    tracker = tmp_path / "tracker.toml"
    tracker.write_text('[tracker]\nsource = "openigtlink"\nport = 99999\n')
    return probe, tracker


@pytest.mark.parametrize("argv,message", [
    (["gui", "--device", "/dev/null", "--probe", "P"], "needs both --probe and --tracker"),
    (["gui", "--device", "/dev/null", "--slicer", "127.0.0.1:18944"],
     "--slicer needs navigation"),
    (["demo", "--slicer", "nohost", "--duration", "1"], "--slicer must be HOST:PORT"),
    (["gui", "--device", "/dev/null", "--probe", "{probe}", "--tracker", "{tracker}",
      "--console"], "port must be 1-65535"),
    (["gui", "--device", "/dev/null", "--probe", "{missing}", "--tracker", "{tracker}"],
     "cannot read"),
    (["gui", "--device", "/dev/null", "--probe", "{probe}", "--tracker", "{tracker}",
      "--skin-z-mm", "nan"], "--skin-z-mm must be finite"),
])
def test_bad_navigation_options(files, tmp_path, argv, message) -> None:
    probe, tracker = files
    args = [a.format(probe=probe, tracker=tracker, missing=tmp_path / "none.toml")
            for a in argv]
    done = run_main(*args)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
