"""Mass attenuation of the probe's shielding metals (tungsten, lead), for collimator penetration.

Generated once from xraydb 4.5.8 (`xraydb.mu_elam(element, energy_ev)`, total with coherent
scattering; the Elam-Ravel-Sieber tables, which follow NIST XCOM here) on 41 log-spaced energies
10-800 keV, rounded to 4 significant figures. Each K and L absorption edge is kept as a pair of
points 10 eV apart (5 eV either side of xraydb's edge energy), so log-log interpolation never
straddles an edge. xraydb stops at 800 keV; the 1000-2000 keV points are NIST XCOM (Berger et al.,
XCOM v3.1, total with coherent) quoted directly. tests/calibration/test_shield_attenuation.py
checks the interpolation against xraydb (< 2 % from 15 to 700 keV away from the edges).
"""

from __future__ import annotations

from probe_nav.calibration.attenuation import loglog_interpolate

TUNGSTEN_MU_RHO_CM2_G: tuple[tuple[float, float], ...] = (
    (10.202, 92.11),
    (10.212, 233.1),
    (11.16, 184.6),
    (11.539, 169.1),
    (11.549, 231),
    (12.095, 206.7),
    (12.105, 237.9),
    (12.45, 221.7),
    (13.89, 168.4),
    (15.5, 127.5),
    (17.29, 95.93),
    (19.3, 72.08),
    (21.53, 54.13),
    (24.02, 40.62),
    (26.8, 30.5),
    (29.91, 22.91),
    (33.37, 17.16),
    (37.23, 12.87),
    (41.54, 9.658),
    (46.35, 7.248),
    (51.72, 5.448),
    (57.71, 4.103),
    (64.39, 3.099),
    (69.52, 2.552),
    (69.53, 11.23),
    (71.84, 10.31),
    (80.16, 7.769),
    (89.44, 5.882),
    (99.8, 4.459),
    (111.4, 3.371),
    (124.2, 2.552),
    (138.6, 1.93),
    (154.7, 1.464),
    (172.6, 1.117),
    (192.6, 0.8577),
    (214.9, 0.6637),
    (239.7, 0.5187),
    (267.5, 0.4093),
    (298.5, 0.327),
    (333, 0.265),
    (371.6, 0.2178),
    (414.6, 0.1817),
    (462.6, 0.1538),
    (516.2, 0.132),
    (575.9, 0.1148),
    (642.6, 0.101),
    (717, 0.08983),
    (800, 0.08067),
    (1000, 0.06618),  # XCOM
    (1250, 0.05577),  # XCOM
    (1500, 0.05),  # XCOM
    (2000, 0.04433),  # XCOM
)

LEAD_MU_RHO_CM2_G: tuple[tuple[float, float], ...] = (
    (10, 130.6),
    (11.16, 99.01),
    (12.45, 75.19),
    (13.03, 67.07),
    (13.04, 161.9),
    (13.89, 136.9),
    (15.195, 107.9),
    (15.205, 148.4),
    (15.856, 134.5),
    (15.866, 154.7),
    (17.29, 124.6),
    (19.3, 94.46),
    (21.53, 71.35),
    (24.02, 53.76),
    (26.8, 40.53),
    (29.91, 30.56),
    (33.37, 22.97),
    (37.23, 17.29),
    (41.54, 13.01),
    (46.35, 9.785),
    (51.72, 7.365),
    (57.71, 5.548),
    (64.39, 4.187),
    (71.84, 3.169),
    (80.16, 2.407),
    (88, 1.91),
    (88.01, 7.682),
    (89.44, 7.372),
    (99.8, 5.577),
    (111.4, 4.226),
    (124.2, 3.219),
    (138.6, 2.45),
    (154.7, 1.867),
    (172.6, 1.426),
    (192.6, 1.093),
    (214.9, 0.8429),
    (239.7, 0.6557),
    (267.5, 0.5141),
    (298.5, 0.4074),
    (333, 0.3267),
    (371.6, 0.2652),
    (414.6, 0.2182),
    (462.6, 0.182),
    (516.2, 0.1539),
    (575.9, 0.1318),
    (642.6, 0.1142),
    (717, 0.1001),
    (800, 0.0887),
    (1000, 0.07102),  # XCOM
    (1250, 0.05876),  # XCOM
    (1500, 0.05222),  # XCOM
    (2000, 0.04606),  # XCOM
)


# xraydb atomic_density; sintered tungsten alloys (W-Ni-Fe) are 17-18.5 g/cm3.
DENSITY_G_CM3 = {"W": 19.25, "Pb": 11.34}
_TABLES = {"W": TUNGSTEN_MU_RHO_CM2_G, "Pb": LEAD_MU_RHO_CM2_G}


def shield_materials() -> tuple[str, ...]:
    """The shielding metals with data: their chemical symbols."""
    return tuple(_TABLES)


def shield_mu_per_mm(material: str, energy_kev: float) -> float:
    """Linear attenuation of a shielding metal in 1/mm at energy_kev (log-log interpolated)."""
    table = _TABLES.get(material)
    if table is None:
        raise ValueError(f"unknown shielding material {material!r}; known: {', '.join(_TABLES)}")
    if not energy_kev > 0:
        raise ValueError(f"photon energy must be positive, got {energy_kev} keV")
    return loglog_interpolate(table, energy_kev) * DENSITY_G_CM3[material] / 10.0
