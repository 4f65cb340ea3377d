"""The simulated-probe launcher (probe_nav.simulator.launch): one line for every bad choice, in
the simulator's words; the command line's and the console's wrappers keep their own."""

from __future__ import annotations

import os
import socket

import pytest

from probe_nav.errors import UserError
from probe_nav.simulator.launch import LaunchError, start_server


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"speed": 0.0}, "speed must be > 0, got 0.0"),
        ({"speed": float("nan")}, "speed must be > 0, got nan"),
        ({"faults": "unplug@"}, "faults: "),
        ({"scenario": "nope"}, "unknown scenario 'nope'"),
        ({"protocol": "nope"}, "the simulator cannot speak protocol 'nope'"),
        ({"truth": "truth.txt"}, "must end in .csv or .jsonl"),
        ({"truth": "/nonexistent-dir/truth.csv"}, "cannot write /nonexistent-dir/truth.csv: "),
    ],
)
def test_bad_choices_are_one_line_launch_errors(kwargs: dict, message: str) -> None:
    args = {"protocol": "probelink", "scenario": "sln-static", "link": "pty", "seed": 0} | kwargs
    with pytest.raises(LaunchError) as caught:
        start_server(**args)
    text = str(caught.value)
    assert message in text and "\n" not in text and "--" not in text


def test_a_busy_tcp_port_is_a_launch_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LaunchError, match=r"^cannot open a tcp link: "):
            start_server("probelink", "sln-static", "tcp", 0, port=port)


def test_a_launched_probe_serves_on_a_pty_and_writes_the_truth(tmp_path) -> None:
    truth = tmp_path / "truth.csv"
    server = start_server("probelink", "sln-static", "pty", 3, speed=1.0, truth=str(truth))
    try:
        assert os.path.exists(server.url)
        assert server.truth_writer is not None
    finally:
        server.stop()
        server.truth_writer.close()
    assert "\nt_s,live_s,counts," in truth.read_text(encoding="utf-8")  # the header, closed


def test_an_unplug_fault_gets_a_stable_link_path() -> None:
    server = start_server("probelink", "sln-static", "pty", 0, faults="unplug@100+1")
    try:
        assert os.path.islink(server.url)  # the host keeps this URL across unplug/replug
    finally:
        server.stop()


def test_the_command_line_keeps_its_own_wording() -> None:
    from probe_nav.cli.sim import start_server as cli_start_server

    for kwargs, message in (({"speed": 0}, "--speed must be > 0, got 0"),
                            ({"faults": "unplug@"}, "--faults: "),
                            ({"scenario": "nope"}, "unknown scenario 'nope'")):
        args = {"protocol": "probelink", "scenario": "sln-static", "link": "pty", "seed": 0}
        with pytest.raises(UserError) as caught:
            cli_start_server(**(args | kwargs))
        assert str(caught.value).startswith(message)


def test_the_console_turns_a_launch_error_into_a_user_error() -> None:
    from probe_nav.gui.training_sim import TrainingSim

    with pytest.raises(UserError, match="unknown scenario 'nope'"):
        TrainingSim("nope")
