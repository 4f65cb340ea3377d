"""Frame CSV pose columns x_mm,y_mm,z_mm,ux,uy,uz: round trip, empty poses, errors, salvage."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.drivers.frames import CountFrame
from probe_nav.io.frames_csv import (
    FrameCsvError,
    FrameCsvWriter,
    end_line,
    parse_frames_csv,
    read_frames_csv,
    salvage_frames_csv,
    write_frames_csv,
)
from probe_nav.io.frames_pose import PoseError

HEADER = "t_s,live_s,counts,x_mm,y_mm,z_mm,ux,uy,uz"
FINITE = st.floats(allow_nan=False, allow_infinity=False)  # any finite double, huge and -0.0 too


@st.composite
def unit_axes(draw: st.DrawFn) -> tuple[float, float, float]:
    """A unit vector in float64: a random direction normalised (its length is 1 within a few
    ulp, far inside the reader's 1e-3)."""
    v = draw(st.tuples(*[st.floats(-1.0, 1.0)] * 3).filter(lambda v: math.hypot(*v) > 1e-3))
    n = math.sqrt(sum(x * x for x in v))
    return (v[0] / n, v[1] / n, v[2] / n)


POSES = st.one_of(st.none(), st.tuples(st.tuples(FINITE, FINITE, FINITE), unit_axes()))


@st.composite
def recordings(draw: st.DrawFn) -> tuple[list[CountFrame], list, int, bool]:
    """Frames (increasing t_s, live <= real), a parallel list of poses (None: a dropout), the
    number of windows and whether the file has a spectrum column."""
    n_windows = draw(st.integers(1, 3))
    spectrum = draw(st.booleans())
    n = draw(st.integers(0, 12))
    poses = draw(st.lists(POSES, min_size=n, max_size=n))
    frames, t_s = [], 0.0
    for i in range(n):
        real_s = draw(st.floats(1e-3, 1.0))
        t_s += real_s
        counts = tuple(draw(st.lists(st.integers(0, 10**6), min_size=n_windows,
                                     max_size=n_windows)))
        spec = tuple(draw(st.lists(st.integers(0, 5), max_size=8))) if spectrum else None
        frames.append(CountFrame(i, t_s, real_s, real_s * draw(st.floats(0.5, 1.0)), counts,
                                 spectrum=spec))
    return frames, poses, n_windows, spectrum


def _expected(poses: list, part: slice) -> np.ndarray:
    rows = [[math.nan] * 3 if p is None else list(p[0] if part == slice(0, 3) else p[1])
            for p in poses]
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


@given(recordings())
def test_poses_round_trip_bit_identically(recording) -> None:
    frames, poses, n_windows, spectrum = recording
    out = io.StringIO()
    writer = FrameCsvWriter(out, n_windows, ["pose test"], spectrum=spectrum, pose=True)
    for frame, pose in zip(frames, poses, strict=True):
        writer.write(frame, pose)
    out.write(end_line("complete", len(frames)))
    table = parse_frames_csv(io.StringIO(out.getvalue()), "p.csv")
    assert table.position_mm is not None and table.axis is not None
    assert table.position_mm.shape == table.axis.shape == (len(frames), 3)
    # tobytes: bit-identical (-0.0 stays -0.0; NaN where the frame had no pose)
    assert table.position_mm.tobytes() == _expected(poses, slice(0, 3)).tobytes()
    assert table.axis.tobytes() == _expected(poses, slice(3, 6)).tobytes()
    np.testing.assert_array_equal(table.t_s, [f.t_s for f in frames])
    np.testing.assert_array_equal(table.counts, [f.counts[0] for f in frames])
    assert sorted(table.windows) == [f"w{i}" for i in range(1, n_windows)]
    header = out.getvalue().splitlines()[1].split(",")
    pose_at = header.index("x_mm")
    assert header[pose_at:pose_at + 6] == ["x_mm", "y_mm", "z_mm", "ux", "uy", "uz"]
    assert header[pose_at - 1] == ("flags" if n_windows == 1 else f"w{n_windows - 1}")
    assert header[pose_at + 6:] == (["spectrum"] if spectrum else [])


def test_a_file_without_pose_columns_has_none_and_writers_add_none() -> None:
    out = io.StringIO()
    FrameCsvWriter(out).write(CountFrame(0, 0.05, 0.05, 0.05, (3,)))
    assert "x_mm" not in out.getvalue()
    table = parse_frames_csv(io.StringIO(out.getvalue()))
    assert table.position_mm is None and table.axis is None


def test_write_frames_csv_with_poses(tmp_path) -> None:
    frames = [CountFrame(i, 0.05 * (i + 1), 0.05, 0.05, (i,)) for i in range(3)]
    poses = [((1.5, -2.0, 0.0), (0.0, 0.0, -1.0)), None, ((-1e-300, 7.0, -30.25), (0.6, 0.0, 0.8))]
    path = tmp_path / "p.csv"
    assert write_frames_csv(path, frames, poses=poses) == 3
    assert path.read_text().splitlines()[2] == "0.1,0.05,1,0.05,1,0,,,,,,"  # header, rows
    table = read_frames_csv(path)
    assert table.position_mm is not None and table.axis is not None
    np.testing.assert_array_equal(table.position_mm,
                                  [[1.5, -2.0, 0.0], [math.nan] * 3, [-1e-300, 7.0, -30.25]])
    np.testing.assert_array_equal(table.axis, [[0, 0, -1], [math.nan] * 3, [0.6, 0.0, 0.8]])
    with pytest.raises(ValueError, match=r"shorter|longer"):  # zip(strict=True): no file written
        write_frames_csv(tmp_path / "short.csv", frames, poses=poses[:2])
    assert not (tmp_path / "short.csv").exists()


def test_pose_columns_may_come_in_any_order_among_the_others() -> None:
    text = "t_s,live_s,counts,uz,ux,note,z_mm,uy,y_mm,x_mm\n0.05,0.05,3,-1,0,a,-2.5,0,4,-7\n"
    table = parse_frames_csv(io.StringIO(text), "o.csv")
    assert table.position_mm is not None and table.axis is not None
    assert table.position_mm.tolist() == [[-7.0, 4.0, -2.5]]
    assert table.axis.tolist() == [[0.0, 0.0, -1.0]]


@pytest.mark.parametrize(("text", "message"), [
    (f"{HEADER.rsplit(',', 3)[0]}\n",
     "line 1: pose columns come all six or none: has x_mm,y_mm,z_mm, missing ux,uy,uz"),
    ("t_s,live_s,counts,uz\n", "line 1: pose columns come all six or none: has uz, missing "
     "x_mm,y_mm,z_mm,ux,uy"),
    (f"{HEADER}\n0.05,0.05,1,0,0,0,0,0,-1\n0.1,0.05,1,0,0,0,0.87,0,0\n",
     "line 3: ux,uy,uz must be a unit vector, got length 0.87"),
    (f"{HEADER}\n0.05,0.05,1,0,0,0,1e200,0,0\n",
     "line 2: ux,uy,uz must be a unit vector, got length inf"),
    (f"{HEADER}\n0.05,0.05,1,0,0,0,0,0,0\n", "line 2: ux,uy,uz must be a unit vector, got "
     "length 0"),
    (f"{HEADER}\n0.05,0.05,1,nan,0,0,0,0,-1\n", "line 2: column x_mm must be finite, got 'nan'"),
    (f"{HEADER}\n0.05,0.05,1,0,0,0,0,0,-inf\n", "line 2: column uz must be finite, got '-inf'"),
    (f"{HEADER}\n0.05,0.05,1,0,1mm,0,0,0,-1\n", "line 2: column y_mm must be a number, got "
     "'1mm'"),
    (f"{HEADER}\n0.05,0.05,1,,,,,,-1\n",
     "line 2: partly empty pose: column x_mm,y_mm,z_mm,ux,uy empty"),
    (f"{HEADER}\n0.05,0.05,1,1,2,3,0,0, \n", "line 2: partly empty pose: column uz empty"),
])
def test_pose_errors_name_file_line_and_column(text: str, message: str) -> None:
    with pytest.raises(FrameCsvError) as err:
        parse_frames_csv(io.StringIO(text), "bad.csv")
    assert str(err.value).startswith(f"bad.csv, {message}")
    assert "\n" not in str(err.value)


def test_an_axis_within_the_tolerance_reads_as_written() -> None:
    # 1 +- 9e-4 is within the 1e-3 a tracker's rounding may need; the value is kept, not rescaled
    text = f"{HEADER}\n0.05,0.05,1,0,0,0,0,0,-1.0009\n0.1,0.05,1,0,0,0,0.9991,0,0\n"
    table = parse_frames_csv(io.StringIO(text))
    assert table.axis is not None and table.axis.tolist() == [[0, 0, -1.0009], [0.9991, 0, 0]]
    with pytest.raises(FrameCsvError, match=r"got length 1\.0011"):
        parse_frames_csv(io.StringIO(f"{HEADER}\n0.05,0.05,1,0,0,0,0,0,-1.0011\n"))


@pytest.mark.parametrize(("pose", "message"), [
    (((0.0, 0.0, 0.0), (0.0, 0.0, 0.5)), "unit vector, got length 0.5"),
    (((math.inf, 0.0, 0.0), (0.0, 0.0, 1.0)), "column x_mm must be finite"),
    (((math.nan, 0.0, 0.0), (0.0, 0.0, 1.0)), "column x_mm must be finite"),
    (((0.0, 0.0), (0.0, 0.0, 1.0, 0.0)), "3 position values and 3 axis values"),
])
def test_the_writer_refuses_a_pose_the_reader_would_refuse(pose, message: str) -> None:
    out = io.StringIO()
    writer = FrameCsvWriter(out, pose=True)
    header = out.getvalue()
    with pytest.raises(PoseError, match=message):
        writer.write(CountFrame(0, 0.05, 0.05, 0.05, (1,)), pose)
    assert out.getvalue() == header  # nothing of the row written


def test_the_writer_writes_an_all_nan_pose_as_no_pose_and_needs_pose_columns() -> None:
    out = io.StringIO()
    FrameCsvWriter(out, pose=True).write(CountFrame(0, 0.05, 0.05, 0.05, (1,)),
                                         ((math.nan,) * 3, (math.nan,) * 3))
    assert out.getvalue().splitlines()[1] == "0.05,0.05,1,0.05,0,0,,,,,,"
    with pytest.raises(PoseError, match="without pose columns"):
        FrameCsvWriter(io.StringIO()).write(CountFrame(0, 0.05, 0.05, 0.05, (1,)),
                                            ((0, 0, 0), (0, 0, 1)))


def test_salvage_keeps_the_pose_columns_up_to_a_bad_pose() -> None:
    out = io.StringIO()
    writer = FrameCsvWriter(out, pose=True)
    for i in range(5):
        writer.write(CountFrame(i, 0.05 * (i + 1), 0.05, 0.05, (i,)),
                     ((float(i), -1.0, 0.0), (0.0, 0.0, -1.0)))
    text = out.getvalue() + "0.3,0.05,1,0.05,5,0,5,-1,0,,0,-1\n" + "0.35,0.05,1,0.05,6,0,,,,,,\n"
    salvage = salvage_frames_csv(io.StringIO(text), "s.csv")
    assert salvage.frames == 5 and salvage.dropped_lines == 2
    assert salvage.problem == "s.csv, line 7: partly empty pose: column ux empty (a frame " \
        "without a pose leaves all six pose cells empty)"
    table = parse_frames_csv(io.StringIO("".join(salvage.lines)))
    assert table.position_mm is not None
    assert table.position_mm[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_an_older_truth_files_axis_columns_are_read_as_the_axis(tmp_path) -> None:
    # simulator truth CSVs written before the pose columns named the axis axis_x,axis_y,axis_z
    path = tmp_path / "old-truth.csv"
    path.write_text("t_s,live_s,counts,true_rate_cps,x_mm,y_mm,z_mm,axis_x,axis_y,axis_z\n"
                    "0.05,0.05,3,50.0,1.0,2.0,0.0,0.0,0.0,-1.0\n# end: complete, 1 frames\n")
    table = read_frames_csv(path)
    assert table.position_mm.tolist() == [[1.0, 2.0, 0.0]]
    assert table.axis.tolist() == [[0.0, 0.0, -1.0]]
