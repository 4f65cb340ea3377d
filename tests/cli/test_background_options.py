"""`monitor` and `replay` decide hot only against a background the user set (--background-cps,
or --background-s: "the first S s are background"); without either the JSON says null. Bad
background options are one line and exit 2."""

from __future__ import annotations

import json

import pytest

from tests.in_process import run_main


def monitor_json(*extra: str) -> list[dict]:
    done = run_main("monitor", "--sim", "sln-static", "--duration", "3", "--json",
                    "--interval", "0.2", *extra)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.slow
def test_monitor_without_a_background_decides_nothing_and_with_one_it_does() -> None:
    bare = [u for u in monitor_json() if u["rate_cps"] is not None]
    assert bare, "no live update in 3 s"
    assert all(u["background_cps"] is None and u["hot"] is None for u in bare)
    given = [u for u in monitor_json("--background-cps", "5", "--background-sd-cps", "0.5")
             if u["rate_cps"] is not None]
    assert given and all(u["background_cps"] == 5.0 and u["background_sd_cps"] == 0.5
                         and isinstance(u["hot"], bool) for u in given)
    # the simulated probe sits over the sln-static node (~40 cps vs 5): hot once it is sure
    assert given[-1]["hot"] is True


@pytest.mark.parametrize("args, message", [
    (("--background-cps", "-1"), "outside the allowed range"),
    (("--background-cps", "nan"), "outside the allowed range"),
    (("--background-s", "0"), "outside the allowed range"),
    (("--background-s", "7200"), "outside the allowed range"),
    (("--background-cps", "5", "--background-s", "10"), "not allowed with"),
    (("--background-sd-cps", "1"), "--background-sd-cps needs --background-cps"),
])
@pytest.mark.parametrize("command", ["monitor", "replay"])
def test_bad_background_options_are_one_line_and_exit_2(tmp_path, command, args,
                                                        message) -> None:
    where = (("--sim", "sln-static", "--duration", "1") if command == "monitor"
             else (str(tmp_path / "none.csv"), "--json"))
    done = run_main(command, *where, *args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
