"""Every real-device protocol end to end as a user runs it: `probe-nav monitor --device URL
--protocol P` in a real process reads P's emulator through a real pty.

The emulator is served in the test process with a link that waits for a late reader instead of
dropping bytes (tests/served.py): at 20x an Open Gamma Detector sends 160 KB/s of spectra, which
a pty buffers for under 0.1 s, so on a loaded machine a `sim serve` process would lose bytes to
the monitor's scheduling and the test would count them as bad frames. `sim serve` itself runs for
autodetection and `ports --probe` below."""

from __future__ import annotations

import json
import math

import pytest

from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.links import PtyLink
from probe_nav.simulator.registry import emulator_class
from probe_nav.simulator.scenario import load
from probe_nav.simulator.server import DeviceServer
from tests.conftest import run_cli
from tests.in_process import run_main
from tests.served import WRITE_WAIT_S

SPEED = "20"  # device seconds per host second


def observed_cps(scenario: str = "sln-static") -> float:
    """The scenario's (static) true rate after the counter's non-paralysable dead time."""
    sim = Simulation(load(scenario))
    n = sim.rate_at(30.0)
    return n / (1.0 + n * sim.scenario.probe.dead_time_s)


@pytest.mark.parametrize(("protocol", "model"), [
    ("gmc-320", "GMC-320"), ("gmc-500", "GMC-500+"), ("mightyohm", "MightyOhm Geiger Counter"),
    ("ogd", "Open Gamma Detector"), ("ascii", "ASCII counter"),
])
def test_monitor_reads_each_protocol_from_its_emulator(protocol, model) -> None:
    emulator = emulator_class(protocol)(Simulation(load("sln-static"), 3))
    server = DeviceServer(emulator, PtyLink(write_wait_s=WRITE_WAIT_S), speed=float(SPEED),
                          seed=3).start()
    try:
        result = run_cli("monitor", "--device", server.url, "--protocol", protocol,
                         "--duration", "2", "--json", "--meter", "10")
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["link"] == "connected", last
    assert last["device"]["model"] == model
    assert last["bad_frames"] == 0 and last["dropped_frames"] == 0
    assert last["frames"] >= 20
    # The meter (tau 10 s of live time) has Poisson sd ~ sqrt(r / 2 tau) and reports it;
    # |z| < 4.5 fails by chance with probability 7e-6.
    truth = observed_cps()
    assert last["rate_sd_cps"] == pytest.approx(math.sqrt(truth / 20.0), rel=0.5)
    assert abs(last["rate_cps"] - truth) < 4.5 * last["rate_sd_cps"]


def test_monitor_auto_recognises_the_device(serve) -> None:
    server = serve("--protocol", "gmc-500", "--speed", SPEED)
    result = run_cli("monitor", "--device", server.url, "--protocol", "auto",
                     "--duration", "1.5", "--json")
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["device"] == {"model": "GMC-500+", "serial": "303021572157f6",
                              "firmware": "2.22", "protocol": "gmc RFC1801"}


def test_monitor_auto_on_a_silent_port_says_what_was_tried() -> None:
    link = PtyLink()
    try:
        result = run_main("monitor", "--device", link.url, "--protocol", "auto")
    finally:
        link.close()
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no driver recognised the device" in lines[0]
    assert "gmc" in lines[0] and "--protocol" in lines[0] and "Traceback" not in result.stderr


def test_monitor_says_why_a_counter_gives_no_reading() -> None:
    link = PtyLink()  # a port where nothing answers
    try:
        result = run_cli("monitor", "--device", link.url, "--protocol", "gmc-320",
                         "--duration", "2", "--json", "--interval", "0.5")
    finally:
        link.close()
    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["rate_cps"] is None and last["link"] in ("connecting", "stale")
    assert last["link_reason"] == ("no answer to <GETVER>> within 1 s; "
                                   "is this a GQ GMC counter at 115200 baud?")


@pytest.mark.parametrize(("args", "needle"), [
    (("monitor", "--device", "/dev/does-not-exist", "--protocol", "auto"), "/dev/does-not-exist"),
    (("monitor", "--sim", "sln-static", "--baud", "0"), "--baud"),
    (("monitor", "--device", "/dev/null", "--protocol", "gmc-999"), "gmc-320"),
])
def test_bad_input_is_one_line(args, needle) -> None:
    result = run_main(*args)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_ports_runs_anywhere() -> None:
    result = run_main("ports")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("PORT") or first.startswith("no serial ports found")


def test_ports_on_a_machine_without_serial_ports(monkeypatch, capsys) -> None:
    from probe_nav.cli.main import main

    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: [])
    assert main(["ports"]) == 0
    assert capsys.readouterr().out.startswith("no serial ports found")
    assert main(["ports", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_ports_probe_asks_a_url_who_it_is(serve, monkeypatch, capsys) -> None:
    from probe_nav.cli.main import main

    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: [])
    server = serve("--protocol", "gmc-320", "--speed", SPEED)
    assert main(["ports", "--probe", "--json", server.url]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["device"] == server.url
    assert row["probe"]["protocol"] == "gmc"
    assert row["probe"]["description"] == "GMC-320 firmware 4.26"
    assert main(["ports", "--probe", server.url]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "ANSWERED" in table[0] and "gmc: GMC-320 firmware 4.26" in table[1]
