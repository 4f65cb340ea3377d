"""Fuzzing every driver in-process (tests/drivers/fuzzing.py): 10^5 bytes of each kind per driver
here, with fixed seeds; `benchmarks/fuzz_drivers.py` runs >= 10^6 per driver and kind. And the
codecs' properties under hypothesis: whatever the text or bytes, a bounded value or a ValueError,
never another exception and never a number beyond the field's range."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.drivers.ascii_counter.codec import MAX_DIGITS as ASCII_DIGITS
from probe_nav.drivers.ascii_counter.codec import encode_line as ascii_line
from probe_nav.drivers.ascii_counter.codec import parse_line as parse_ascii
from probe_nav.drivers.gmc.codec import GmcError, Rfc1201, Rfc1801, decode_voltage_v, parse_version
from probe_nav.drivers.mightyohm.codec import CPS_MAX, CpmAverager
from probe_nav.drivers.mightyohm.codec import encode_line as mightyohm_line
from probe_nav.drivers.mightyohm.codec import parse_line as parse_mightyohm
from probe_nav.drivers.ogd.codec import (
    MAX_DEAD_TIME_US,
    MAX_DIGITS,
    SpectrumDiffer,
    encode_values,
    parse_data_line,
    parse_message,
)
from tests.drivers.fuzz_targets import TARGETS
from tests.drivers.fuzzing import KINDS, RECOVERY, run

SUITE_BYTES = 100_000  # per driver and kind; the benchmark runs 10^6
SEED = 14
# Where the gate itself (not only the codec) must be seen rejecting frames: counts beyond the
# GMC-500/600's tube in random 4-byte words, CRC-valid absurd ProbeLink COUNTs, 12-digit counts.
GATE_AT_WORK = {("gmc-500", "random"), ("gmc-600", "random"), ("gmc-500", "oversize"),
                ("gmc-600", "oversize"), ("probelink", "oversize"), ("ascii-untimed", "oversize")}

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
digits_heavy = st.text(alphabet="0123456789.,;-+eE ninfa\t", max_size=80)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzzed_driver_emits_only_plausible_frames_and_recovers(name: str, kind: str) -> None:
    target_class = TARGETS[name]
    result = run(target_class, kind, SUITE_BYTES, SEED)
    assert result.problems == [], result.problems[:5]
    assert result.bytes_fed >= SUITE_BYTES
    lag = target_class(SEED).lag  # type: ignore[attr-defined]
    assert result.recovered == result.rounds * (RECOVERY - lag) > 0
    if (name, kind) in GATE_AT_WORK:
        assert result.implausible > 0


# ---------------------------------------------------------------- codec properties


@settings(max_examples=400, deadline=None)
@given(st.one_of(text, digits_heavy))
def test_ascii_lines_parse_bounded_or_not_at_all(line: str) -> None:
    try:
        t_s, count = parse_ascii(line)
    except ValueError:
        return
    assert 0 <= count < 10**ASCII_DIGITS
    assert t_s is None or (math.isfinite(t_s) and 0.0 <= t_s < 10**ASCII_DIGITS)


@given(st.integers(0, 10**ASCII_DIGITS - 1), st.one_of(st.none(), st.floats(0, 1e9)))
def test_ascii_lines_round_trip(count: int, t_s: float | None) -> None:
    parsed = parse_ascii(ascii_line(count, t_s).decode().strip())
    assert parsed[1] == count
    assert (parsed[0] is None) if t_s is None else parsed[0] == pytest.approx(t_s, abs=5e-4)


@settings(max_examples=400, deadline=None)
@given(st.one_of(text, st.from_regex(r"CPS, [0-9]{1,9}, CPM, [0-9]{1,9}, uSv/hr, [0-9]{1,6}\."
                                      r"[0-9]{2}, (SLOW|FAST|INST)", fullmatch=True)))
def test_mightyohm_lines_parse_bounded_or_not_at_all(line: str) -> None:
    try:
        report = parse_mightyohm(line)
    except ValueError:
        return
    assert 0 <= report.cps <= CPS_MAX and 0 <= report.cpm < 10**7
    assert math.isfinite(report.usv_per_h)


@given(st.lists(st.integers(0, 70_000), min_size=1, max_size=70))
def test_mightyohm_firmware_lines_all_parse(pulses: list[int]) -> None:
    averager = CpmAverager()
    for n in pulses:
        report = averager.tick(n)
        line = mightyohm_line(report.cps, report.cpm, report.mode).decode().strip()
        assert parse_mightyohm(line).cps == report.cps


fields = st.one_of(st.integers(0, 10**14), st.text("0123456789x-", max_size=12))


@settings(max_examples=300, deadline=None)
@given(st.one_of(text, st.lists(fields, max_size=50).map(lambda xs: "".join(f"{x};" for x in xs))))
def test_ogd_data_lines_parse_bounded_or_not_at_all(line: str) -> None:
    try:
        values = parse_data_line(line)
    except ValueError:
        return
    assert values and all(0 <= v < 10**MAX_DIGITS for v in values)


@given(st.lists(st.integers(0, 10**MAX_DIGITS - 1), min_size=1, max_size=100))
def test_ogd_data_lines_round_trip(values: list[int]) -> None:
    assert parse_data_line(encode_values(values).decode()) == tuple(values)


@settings(max_examples=300, deadline=None)
@given(st.one_of(text, st.from_regex(r"\[#\] Average Dead Time: \t[0-9]{1,30}(\.[0-9]{1,9})? µs",
                                     fullmatch=True),
                 st.from_regex(r"\[#\] Temperature: \t-?[0-9]{1,30}(\.[0-9]{1,5})? °C",
                               fullmatch=True)))
def test_ogd_messages_never_raise_and_stay_bounded(line: str) -> None:
    msg = parse_message(line)
    assert msg.dead_time_us is None or 0.0 <= msg.dead_time_us <= MAX_DEAD_TIME_US
    assert msg.temperature_c is None or abs(msg.temperature_c) < 1000.0


@given(st.lists(st.lists(st.integers(0, 50), min_size=4, max_size=4), min_size=2, max_size=8))
def test_ogd_differences_never_negative(lines: list[list[int]]) -> None:
    differ = SpectrumDiffer()
    for line in lines:
        delta, _reset = differ.feed(tuple(line))
        assert delta is None or min(delta) >= 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_gmc_replies_decode_bounded_or_raise_gmc_error(reply: bytes) -> None:
    try:
        volts = decode_voltage_v(reply)
    except GmcError:
        volts = None
    assert volts is None or 0.0 <= volts < 1000.0
    with contextlib.suppress(GmcError):
        parse_version(reply)
    for codec in (Rfc1201, Rfc1801):
        n = codec.value_bytes
        if len(reply) >= n:
            assert 0 <= codec.decode_cps(reply[:n]) <= codec.cps_max()
