"""The shared pieces: line framing and command/reply exchanges, on a fake clock."""

from __future__ import annotations

import pytest

from probe_nav.drivers.exchange import ExchangeRunner, ReplyError, Step
from probe_nav.drivers.lines import LineSplitter, is_text_line


def test_lines_end_with_cr_lf_or_crlf_and_may_arrive_in_pieces() -> None:
    split = LineSplitter()
    assert split.feed(b"a\r\nb\nc\rd", 0.0) == ["a", "b", "c"]
    assert split.feed(b"ef\r", 0.1) == ["def"]
    assert split.feed(b"\n\r\n", 0.2) == []  # empty lines are not lines
    assert split.stats.lines == 4


def test_overlong_line_is_dropped_up_to_the_next_line_end() -> None:
    split = LineSplitter(max_line_bytes=8)
    assert split.feed(b"0123456789abc", 0.0) == []
    assert split.feed(b"def\nok\n", 0.1) == ["ok"]
    assert split.stats.overlong == 1 and split.stats.skipped_bytes == 16


def test_a_line_cut_off_by_silence_is_dropped_not_glued_to_the_next() -> None:
    split = LineSplitter(stale_after_s=0.5)
    assert split.feed(b"CPS, 3, CP", 0.0) == []
    assert not split.expire(0.4)
    assert split.feed(b"S, 4, CPM\n", 1.0) == ["S, 4, CPM"]  # the old fragment went first
    assert split.stats.short == 1
    assert split.feed(b"next\n", 1.1) == ["next"]


def test_text_lines() -> None:
    assert is_text_line("[#] Temperature: \t27.3 \u00b0C")
    assert not is_text_line("ab\x00c") and not is_text_line("a\ufffdb")


def run(job, replies):
    """Drive a job with (time, bytes) events; returns what was sent."""
    sent: list[bytes] = []
    runner = ExchangeRunner(sent.append)
    runner.start(job, 0.0)
    for t, data in replies:
        if data is None:
            runner.tick(t)
        else:
            assert runner.feed(data, t) == b""
    return sent, runner


def test_steps_exact_at_least_settle_and_send() -> None:
    log: list = []

    def job():
        log.append((yield Step.settle(b"STOP", 0.2)))
        log.append((yield Step.exact(b"CPM", 2)))
        log.append((yield Step.at_least(b"VER", 3, quiet_s=0.05)))
        yield Step.send(b"GO")
        log.append("done")

    sent, runner = run(job(), [(0.1, b"\x00\x17"), (0.25, None), (0.3, b"\x01\xb6\x99"),
                               (0.35, b"GMC-3"), (0.38, b"20"), (0.4, None), (0.45, None)])
    assert sent == [b"STOP", b"CPM", b"VER", b"GO"]
    assert log == [b"\x00\x17", b"\x01\xb6", b"GMC-320", "done"]
    assert not runner.busy
    assert runner.discarded_bytes == 3  # the settled word and the byte after the exact reply


def test_time_outs_are_thrown_into_the_job() -> None:
    log: list = []

    def job():
        try:
            yield Step.exact(b"CPM", 2, timeout_s=0.5)
        except ReplyError as exc:
            log.append(str(exc))
        try:
            yield Step.at_least(b"VER", 7, timeout_s=0.5)
        except ReplyError as exc:
            log.append(str(exc))

    run(job(), [(0.6, None), (0.7, b"GMC"), (1.2, None)])
    assert log == ["no answer to CPM within 0.5 s", "short reply to VER: 3 of 7 bytes (b'GMC')"]


def test_bytes_outside_a_step_are_the_stream_and_cancel_closes_the_job() -> None:
    runner = ExchangeRunner(lambda _b: None)
    assert runner.feed(b"\x00\x10", 0.0) == b"\x00\x10"
    closed: list = []

    def job():
        try:
            yield Step.exact(b"X", 1)
        finally:
            closed.append(True)

    runner.start(job(), 0.0)
    runner.cancel()
    assert closed == [True] and not runner.busy


@pytest.mark.parametrize(("step", "kind"), [
    (Step.exact(b"a", 2), "exact"), (Step.at_least(b"a", 1), "at_least"),
    (Step.settle(b"a", 0.1), "settle"), (Step.send(b"a"), "send"),
])
def test_step_kinds(step, kind) -> None:
    assert step.kind == kind
