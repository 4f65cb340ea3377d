"""posed.csv: every frame navigation handled with its pose, readable as a frame CSV by locate's
reader, published on close, and a disk failure ends only this file."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from probe_nav.drivers.frames import CountFrame
from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.io.frames_csv import read_frames_csv
from probe_nav.live.posed_recording import POSED_FILE, POSED_PARTIAL, PosedRecording


def frame(i: int) -> CountFrame:
    return CountFrame(seq=i, t_s=0.1 * (i + 1), real_s=0.1, live_s=0.0999, counts=(i % 3,))


def test_posed_frames_round_trip_with_and_without_pose(tmp_path) -> None:
    rec = PosedRecording(tmp_path)
    poses = [PoseSample(1.0 + i, (float(i), -2.5, 0.25), (0.0, 0.6, -0.8)) if i % 4 else None
             for i in range(10)]
    for i, pose in enumerate(poses):
        rec.write(frame(i), pose)
    assert (tmp_path / POSED_PARTIAL).exists() and not (tmp_path / POSED_FILE).exists()
    rec.close()
    rec.close()  # idempotent
    table = read_frames_csv(tmp_path / POSED_FILE)
    assert table.complete and len(table) == 10
    for i, pose in enumerate(poses):
        if pose is None:  # no pose: NaN in the table
            assert np.isnan(table.position_mm[i]).all() and np.isnan(table.axis[i]).all()
        else:
            assert tuple(table.position_mm[i]) == pose.position_mm
            assert tuple(table.axis[i]) == pose.axis
    assert list(table.seq) == list(range(10))


def test_a_write_failure_ends_only_this_file(tmp_path, monkeypatch, caplog) -> None:
    rec = PosedRecording(tmp_path)
    rec.write(frame(0), None)

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(rec._file, "flush", broken)
    for i in range(1, 5):  # the flush comes due within 0.1 s of recording time: one frame
        rec.write(frame(i), None)
    assert rec.path is None
    assert "no longer recorded" in caplog.text
    rec.write(frame(9), None)  # ignored, no raise
    rec.close()


def test_an_existing_partial_file_is_never_replaced(tmp_path) -> None:
    (tmp_path / POSED_PARTIAL).write_text("earlier interrupted recording\n")
    with pytest.raises(Exception, match=r"exists|already"):
        PosedRecording(tmp_path)
    assert (tmp_path / POSED_PARTIAL).read_text() == "earlier interrupted recording\n"
