"""Frame CSV end lines, cut-short files, torn lines, salvage and bounded integers."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.drivers.frames import CountFrame
from probe_nav.io.frames_csv import (
    FrameCsvError,
    FrameCsvWriter,
    end_interrupted,
    end_line,
    parse_end,
    parse_frames_csv,
    read_frames_csv,
    salvage_frames_csv,
    write_frames_csv,
)


def _text(n: int, end: str | None = "complete", windows: int = 1) -> str:
    out = io.StringIO()
    writer = FrameCsvWriter(out, windows, ["probe-nav test"])
    for i in range(n):
        writer.write(CountFrame(i, 0.05 * (i + 1), 0.05, 0.049, (i % 7, 3)))
    if end is not None:
        out.write(end_line(end, n))
    return out.getvalue()


def test_written_file_is_complete_and_private(tmp_path) -> None:
    path = tmp_path / "r.csv"
    write_frames_csv(path, [CountFrame(0, 0.05, 0.05, 0.05, (3,))], comments=["c"])
    table = read_frames_csv(path)
    assert (table.end, table.complete, table.notice, table.comments) == (
        "complete", True, "", ("c",))
    assert path.read_text().endswith("# end: complete, 1 frames\n")
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        write_frames_csv(path, [])
    assert write_frames_csv(path, [], overwrite=True) == 0


def test_a_file_without_end_line_is_incomplete_but_replays() -> None:
    table = parse_frames_csv(io.StringIO(_text(12, end=None)), "cut.csv")
    assert len(table) == 12 and table.end is None and not table.complete
    assert table.notice == ("cut.csv: incomplete: recording interrupted after 12 frames "
                            "(no end line)")


def test_torn_last_line_is_dropped_with_the_notice() -> None:
    text = _text(12, end=None) + "0.65,0.04"  # a write cut short by a kill
    table = parse_frames_csv(io.StringIO(text), "torn.csv")
    assert (len(table), table.torn_lines) == (12, 1)
    assert table.notice.endswith("after 12 frames (no end line; its torn last line was dropped)")
    # The torn line may be a whole-looking row ("12" cut from "123"): still dropped.
    whole_looking = _text(3, end=None) + "0.2,0.049,1,0.05,3,0"
    assert len(parse_frames_csv(io.StringIO(whole_looking))) == 3
    # A torn end line is no end line.
    cut_end = _text(3, end=None) + "# end: compl"
    assert parse_frames_csv(io.StringIO(cut_end)).end is None


def test_interrupted_and_repaired_end_lines() -> None:
    table = parse_frames_csv(io.StringIO(_text(5, end_interrupted("SIGINT"))), "i.csv")
    assert table.end == "interrupted (SIGINT)"
    assert table.notice == "i.csv: recording interrupted (SIGINT) after 5 frames"
    assert parse_frames_csv(io.StringIO(_text(5, "repaired"))).notice.endswith("(5 frames)")
    assert end_interrupted("disk (nearly) full") == "interrupted (disk [nearly] full)"
    assert parse_end(" end: interrupted (device lost: link stale), 7 frames") == (
        "interrupted (device lost: link stale)", 7)
    assert parse_end("end: finished, 7 frames") is None
    with pytest.raises(ValueError):
        end_line("finished", 3)


@pytest.mark.parametrize(("text", "message"), [
    (_text(3, end=None) + "# end: complete, 4 frames\n", "end line says 4 frames, the file has 3"),
    (_text(3) + "0.2,0.05,1,0.05,3,0\n", "more after the end line"),
    (_text(3) + "# a comment after the end\n", "more after the end line"),
])
def test_end_line_must_be_last_and_right(text: str, message: str) -> None:
    with pytest.raises(FrameCsvError, match=message):
        parse_frames_csv(io.StringIO(text), "bad.csv")


@pytest.mark.parametrize("column", ["counts", "seq", "flags", "w1"])
def test_integers_beyond_int64_are_one_line(column: str) -> None:
    header = "t_s,live_s,counts,real_s,seq,flags,w1\n"
    row = {"counts": "1", "seq": "0", "flags": "0", "w1": "0"}
    good = dict(row, **{column: str(2**63 - 1)})
    text = header + "0.05,0.05,{counts},0.05,{seq},{flags},{w1}\n".format(**good)
    assert len(parse_frames_csv(io.StringIO(text))) == 1
    for big in (str(2**63), "1" + "0" * 4000, "10000000000000000000000000"):
        bad = dict(row, **{column: big})
        text = header + "0.05,0.05,{counts},0.05,{seq},{flags},{w1}\n".format(**bad)
        with pytest.raises(FrameCsvError) as err:
            parse_frames_csv(io.StringIO(text), "big.csv")
        message = str(err.value)
        assert message.startswith(f"big.csv, line 2: column {column} is too large")
        assert "\n" not in message and len(message) < 160


def test_counts_that_add_up_beyond_int64_are_refused() -> None:
    text = f"t_s,live_s,counts\n0.05,0.05,{2**62}\n0.1,0.05,{2**62}\n"
    with pytest.raises(FrameCsvError, match="counts column adds up to more than 2"):
        parse_frames_csv(io.StringIO(text), "sum.csv")


def test_non_utf8_file_is_one_line(tmp_path) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(b"t_s,live_s,counts\n0.05,0.05,1\n\xff\xfe\x00junk\n0.1,0.05,2\n")
    with pytest.raises(FrameCsvError, match=r"bin.csv, line 3: not UTF-8"):
        read_frames_csv(path)
    # Half a character in the torn last line is a torn line, not an error.
    path.write_bytes(_text(2, end=None).encode() + "0.15,0.05,é".encode()[:-1])
    assert len(read_frames_csv(path)) == 2


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_cut_of_a_recording_reads_as_its_prefix(data) -> None:
    """Wherever a kill cuts a recording (after its header row), the reader takes the complete
    rows before the cut and calls the file incomplete; only the whole file is complete."""
    text = _text(9, windows=2)
    header_end = text.index("\n", text.index("t_s,")) + 1
    cut = data.draw(st.integers(header_end, len(text)))
    table = parse_frames_csv(io.StringIO(text[:cut]), "cut.csv")
    rows_before = text[header_end:cut].count("\n") - (1 if cut == len(text) else 0)
    assert len(table) == min(rows_before, 9)
    assert table.seq.tolist() == list(range(len(table)))
    assert table.complete == (cut == len(text))
    assert bool(table.notice) == (cut != len(text))


def test_salvage_keeps_the_good_prefix() -> None:
    text = _text(6, end=None)
    lines = text.splitlines(keepends=True)
    lines.insert(-2, "0.26,0.05,oops,0.05,9,0\n")  # a damaged row before the last two
    salvage = salvage_frames_csv(lines, "d.csv")
    assert salvage.frames == 4 and salvage.end is None and salvage.dropped_lines == 3
    assert "column counts must be an integer" in salvage.problem
    assert "".join(salvage.lines) == "".join(lines[:-3])
    whole = salvage_frames_csv(_text(6).splitlines(keepends=True))
    assert (whole.problem, whole.end, whole.frames) == ("", "complete", 6)
    with pytest.raises(FrameCsvError, match="no header row"):
        salvage_frames_csv(["# only a comment\n"])
