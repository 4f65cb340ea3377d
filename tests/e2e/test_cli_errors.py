"""Bad input gets one clear line on stderr and exit status 2, never a traceback.

The cases run `main(argv)` in-process (tests/in_process.py); two real processes prove that the
installed console script and `python -m probe_nav` end the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.in_process import run_main


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("monitor", "--device", "/dev/does-not-exist"), "/dev/does-not-exist"),
        (("monitor", "--device", "/dev/null", "--protocol", "nope"), "unknown protocol 'nope'"),
        (("monitor", "--sim", "nope"), "unknown scenario 'nope'"),
        (("monitor", "--sim", "sln-static", "--protocol", "nope"), "'nope'"),
        (("monitor", "--sim", "sln-static", "--duration", "-1"), "--duration"),
        (("monitor",), "--device"),
        (("monitor", "--sim", "sln-static", "--meter", "slow"), "unknown meter 'slow'"),
        (("sim", "serve", "--scenario", "nope"), "unknown scenario 'nope'"),
        (("sim", "serve", "--protocol", "nope"), "'nope'"),
        (("sim", "serve", "--link", "carrier-pigeon"), "carrier-pigeon"),
        (("frobnicate",), "frobnicate"),
    ],
)
def test_bad_input_one_line_exit_2(args: tuple[str, ...], needle: str) -> None:
    result = run_main(*args)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert result.stdout == ""


def test_malformed_scenario_file_names_file_and_problem(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[sources]]\nposition_mm = [0, 0]\nactivity_mbq = 1\n')
    result = run_main("sim", "serve", "--scenario", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr and "position_mm" in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    result = run_main("monitor", "--sim", str(broken))
    assert result.returncode == 2 and "not valid TOML" in result.stderr


def test_sim_serve_prints_url_first_and_stops_cleanly(serve) -> None:
    server = serve("--link", "tcp")
    assert server.url.startswith("socket://127.0.0.1:")
    assert server.stop() == 0


def test_sim_list_has_a_line_per_scenario() -> None:
    from probe_nav.simulator.scenario import builtin_names

    result = run_main("sim", "list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == builtin_names()
    assert all(len(line.split(None, 1)[1]) > 10 for line in lines)


def test_python_m_and_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("probe-nav ")


CONSOLE_SCRIPT = Path(sys.executable).with_name("probe-nav")


@pytest.mark.parametrize(("argv", "args", "needle"), [
    pytest.param([str(CONSOLE_SCRIPT)], ("frobnicate",), "frobnicate",  # argparse's error
                 id="console-script"),
    pytest.param([sys.executable, "-m", "probe_nav"], ("monitor", "--sim", "nope"),
                 "unknown scenario 'nope'", id="python-m"),  # a UserError from the command
])
def test_real_process_bad_input_one_line_exit_2(argv: list[str], args: tuple[str, ...],
                                               needle: str) -> None:
    if not os.access(argv[0], os.X_OK):
        pytest.skip(f"{argv[0]} is not installed (pip install -e .)")
    result = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert result.stdout == ""
