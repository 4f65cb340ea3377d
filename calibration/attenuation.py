"""Narrow-beam linear attenuation coefficient of liquid water, tabulated densely for interpolation.

Generated once from xraydb 4.5.8 (`xraydb.material_mu("H2O", energy_ev, density=1.0)`,
total with coherent scattering; xraydb's cross-sections are the Elam-Ravel-Sieber tables, which
follow NIST XCOM in this range) on 36 log-spaced energies 10-800 keV, rounded to 4 significant
figures. xraydb clamps at 800 keV ("Elam tables are unreliable for energies > 800 keV"), so the
1000-2000 keV points are NIST XCOM (Berger et al., XCOM v3.1, water, total with coherent) quoted
directly; they serve Ga-68 (1077 keV) and Tl-209 (1567 keV). Log-log interpolation of this table
stays within 0.5 % of xraydb from 15 to 700 keV (tests/calibration/test_nuclides_data.py: < 2 %).
Regenerate with the same call if the table must change; the test is the oracle.
"""

from __future__ import annotations

from math import exp, log

# (energy keV, mu 1/cm) for water at 1.000 g/cm3.
WATER_MU_PER_CM: tuple[tuple[float, float], ...] = (
    (10, 5.33),
    (11.33, 3.689),
    (12.85, 2.573),
    (14.56, 1.814),
    (16.5, 1.299),
    (18.7, 0.9488),
    (21.2, 0.7107),
    (24.02, 0.5483),
    (27.23, 0.4372),
    (30.86, 0.3608),
    (34.97, 0.3077),
    (39.64, 0.2705),
    (44.92, 0.2439),
    (50.92, 0.2245),
    (57.71, 0.2097),
    (65.4, 0.1982),
    (74.13, 0.1887),
    (84.02, 0.1806),
    (95.22, 0.1734),
    (107.9, 0.1667),
    (122.3, 0.1604),
    (138.6, 0.1543),
    (157.1, 0.1483),
    (178.1, 0.1424),
    (201.8, 0.1366),
    (228.7, 0.1308),
    (259.3, 0.1252),
    (293.8, 0.1196),
    (333, 0.114),
    (377.4, 0.1086),
    (427.8, 0.1033),
    (484.8, 0.09813),
    (549.5, 0.09306),
    (622.8, 0.0881),
    (705.9, 0.08327),
    (800, 0.07866),
    (1000, 0.07072),  # XCOM
    (1250, 0.06323),  # XCOM
    (1500, 0.05754),  # XCOM
    (2000, 0.04942),  # XCOM
)


def loglog_interpolate(table: tuple[tuple[float, float], ...], x: float) -> float:
    """Interpolate log(y) linearly in log(x) between the bracketing points; the ends extrapolate."""
    i = 1
    while i < len(table) - 1 and x > table[i][0]:
        i += 1
    (x0, y0), (x1, y1) = table[i - 1], table[i]
    slope = (log(y1) - log(y0)) / (log(x1) - log(x0))
    return exp(log(y0) + slope * (log(x) - log(x0)))


def water_mu_per_cm(energy_kev: float) -> float:
    """Narrow-beam linear attenuation of water in 1/cm at energy_kev (log-log interpolated)."""
    if not energy_kev > 0:
        raise ValueError(f"photon energy must be positive, got {energy_kev} keV")
    return loglog_interpolate(WATER_MU_PER_CM, energy_kev)
