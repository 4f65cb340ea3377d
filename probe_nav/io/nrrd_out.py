"""The reconstructed activity as a NRRD volume (3D Slicer, ITK-SNAP, 3D viewers load it): float32
Bq per voxel, space right-anterior-superior with the tracker's frame taken as RAS (mm), the
same origin and spacing as the OpenIGTLink IMAGE (probe_nav/io/igtl_out.py), so the file and
the live image land in the same place over a CT registered to the tracker.
"""

from __future__ import annotations

from pathlib import Path

import nrrd

from probe_nav.files import atomic_write_with
from probe_nav.io.igtl_out import ijk_to_ras, volume_xyz
from probe_nav.navigation.localise import Image


def nrrd_header(image: Image) -> dict[str, object]:
    """The NRRD header of an Image: RAS space, directions = voxel size, origin = first voxel's
    centre (NRRD's cell-centred convention, as Slicer reads it)."""
    m = ijk_to_ras(image.grid)
    return {
        "type": "float",
        "dimension": 3,
        "space": "right-anterior-superior",
        "space directions": m[:3, :3].T.copy(),  # row n: the step of index n in space
        "space origin": m[:3, 3].copy(),
        "space units": ["mm", "mm", "mm"],
        "kinds": ["domain", "domain", "domain"],
        "encoding": "gzip",
        "content": f"probe-nav activity (Bq per voxel), background {image.background_cps:.3g} cps",
    }


def write_nrrd(path: str | Path, image: Image, *, overwrite: bool = False) -> None:
    """Write the image's activity to `path` atomically (the whole file or none; an existing file
    is replaced only with overwrite, else probe_nav.files.OutputExists)."""
    data = volume_xyz(image)  # [x, y, z]; written with x fastest (index_order F)
    header = nrrd_header(image)

    def write(temp: Path) -> None:
        nrrd.write(str(temp), data, header, index_order="F")
    atomic_write_with(path, write, overwrite=overwrite)
