"""The activity image as NRRD (probe_nav.io.nrrd_out), read back with pynrrd: the same voxels in
the same place as the OpenIGTLink IMAGE, written atomically."""

from __future__ import annotations

from pathlib import Path

import nrrd
import numpy as np
import pytest

from probe_nav.files import OutputExists
from probe_nav.io.igtl_out import ijk_to_ras
from probe_nav.io.nrrd_out import write_nrrd
from tests.io.test_igtl_out import make_image


def test_nrrd_reads_back_with_the_right_space(tmp_path: Path) -> None:
    image = make_image(1)
    path = tmp_path / "activity.nrrd"
    write_nrrd(path, image)
    data, header = nrrd.read(str(path), index_order="F")
    assert data.shape == image.grid.shape and data.dtype == np.float32
    assert np.array_equal(data, image.activity_bq.astype(np.float32).reshape(image.grid.shape))
    assert header["space"] == "right-anterior-superior"
    assert np.allclose(header["space origin"], [-3.0, 10.0, -1.0])
    assert np.allclose(header["space directions"], np.diag([2.0, 2.0, -2.0]))
    # the voxel (i, j, k) sits where the IMAGE message puts it
    m = ijk_to_ras(image.grid)
    for ijk in ((0, 0, 0), (4, 2, 3), (1, 2, 0)):
        where = header["space origin"] + np.asarray(ijk) @ header["space directions"]
        assert np.allclose(where, (m @ [*ijk, 1])[:3])
        assert np.allclose(where, (image.grid.x_mm[ijk[0]], image.grid.y_mm[ijk[1]],
                                   image.grid.z_mm[ijk[2]]))
    assert path.stat().st_mode & 0o777 == 0o600


def test_an_existing_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "activity.nrrd"
    path.write_bytes(b"earlier")
    with pytest.raises(OutputExists):
        write_nrrd(path, make_image())
    assert path.read_bytes() == b"earlier"
    write_nrrd(path, make_image(), overwrite=True)
    data, _ = nrrd.read(str(path))
    assert data.shape == (5, 3, 4)
    assert [p.name for p in tmp_path.iterdir()] == ["activity.nrrd"]  # no temporary left
