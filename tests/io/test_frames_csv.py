"""Frame CSV reader and writer."""

from __future__ import annotations

import io

import numpy as np
import pytest

from probe_nav.drivers.frames import CountFrame, FaultFlag
from probe_nav.io.frames_csv import (
    FrameCsvError,
    FrameCsvWriter,
    parse_frames_csv,
    read_frames_csv,
    write_frames_csv,
)


def test_round_trip_is_bit_identical(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frames = [CountFrame(i, 0.1 * (i + 1) + rng.random() * 1e-3, 0.1, 0.1 * rng.uniform(0.9, 1),
                         (int(rng.integers(0, 1000)), 7, 3), flags=FaultFlag(i % 3))
              for i in range(500)]
    path = tmp_path / "rec.csv"
    assert write_frames_csv(path, frames, n_windows=3, comments=["probe-nav test", "two\nlines"]) \
        == 500
    table = read_frames_csv(path)
    assert len(table) == 500 and table.comments == ("probe-nav test", "two", "lines")
    np.testing.assert_array_equal(table.t_s, [f.t_s for f in frames])
    np.testing.assert_array_equal(table.live_s, [f.live_s for f in frames])
    np.testing.assert_array_equal(table.counts, [f.counts[0] for f in frames])
    np.testing.assert_array_equal(table.real_s, [f.real_s for f in frames])
    np.testing.assert_array_equal(table.flags, [int(f.flags) for f in frames])
    np.testing.assert_array_equal(table.windows["w2"], 3)
    assert table.seq is not None and table.seq[-1] == 499


def test_minimal_file_with_comments_anywhere_and_unknown_columns() -> None:
    text = "# hello\n\nt_s,live_s,counts,note_x\n0.05,0.05,3,9\n# mid\n0.10, 0.049 ,4,1\n"
    table = parse_frames_csv(io.StringIO(text), "m.csv")
    np.testing.assert_array_equal(table.counts, [3, 4])
    assert table.real_s is None and table.flags is None and table.comments == ("hello", "mid")
    empty = parse_frames_csv(io.StringIO("t_s,live_s,counts\n"))
    assert len(empty) == 0


@pytest.mark.parametrize(("text", "message"), [
    ("", "no header row"),
    ("# only comments\n", "no header row"),
    ("time,live,counts\n1,1,1\n", "line 1: header must start with t_s,live_s,counts"),
    ("t_s,live_s,counts,w1,w1\n", "line 1: repeated column"),
    ("t_s,live_s,counts\n0.05,0.05,3\n0.1,0.05\n", "line 3: expected 3 values, got 2"),
    ("t_s,live_s,counts\n0.05,0.05,1.5\n", "line 2: column counts must be an integer"),
    ("t_s,live_s,counts\n0.05,abc,1\n", "line 2: column live_s must be a number"),
    ("t_s,live_s,counts\n0.05,nan,1\n", "line 2: column live_s must be finite"),
    ("t_s,live_s,counts\n0.05,0.05,-1\n", "line 2: column counts must not be negative"),
    ("# c\nt_s,live_s,counts\n0.1,0.05,1\n0.05,0.05,1\n", "line 4: t_s goes backwards"),
    ("t_s,live_s,counts,real_s\n0.1,0.06,1,0.05\n", "line 2: live_s is longer than real_s"),
])
def test_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(FrameCsvError) as err:
        parse_frames_csv(io.StringIO(text), "bad.csv")
    assert str(err.value).startswith("bad.csv") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_writer_pads_missing_windows() -> None:
    out = io.StringIO()
    FrameCsvWriter(out, n_windows=2).write(CountFrame(0, 1.0, 0.5, 0.25, (4,)))
    assert out.getvalue().splitlines() == ["t_s,live_s,counts,real_s,seq,flags,w1",
                                           "1.0,0.25,4,0.5,0,0,0"]
