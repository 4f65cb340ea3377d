"""Reference data for the nuclides used with gamma probes (see DOMAIN.md for sources).

Half-lives and main photon lines from the usual nuclear data tables (NNDC/DDEP values as quoted in
the domain brief); typical probe windows are the clinical defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe_nav.drivers.frames import EnergyWindow

_HOUR_S = 3600.0
_DAY_S = 86400.0
_YEAR_S = 365.25 * _DAY_S


@dataclass(frozen=True, slots=True)
class PhotonLine:
    """A photon emission: energy in keV and yield per decay."""

    energy_kev: float
    yield_per_decay: float


@dataclass(frozen=True, slots=True)
class Nuclide:
    """A radionuclide: half-life, main photon lines and the usual probe window."""

    name: str
    half_life_s: float
    lines: tuple[PhotonLine, ...]
    window: EnergyWindow

    @property
    def main_line(self) -> PhotonLine:
        """The photon line with the highest yield."""
        return max(self.lines, key=lambda line: line.yield_per_decay)

    @property
    def decay_constant_per_s(self) -> float:
        """lambda = ln 2 / T1/2."""
        from math import log

        return log(2.0) / self.half_life_s


def _n(
    name: str, half_life_s: float, lines: list[tuple[float, float]], lo: float, hi: float
) -> Nuclide:
    return Nuclide(
        name=name,
        half_life_s=half_life_s,
        lines=tuple(PhotonLine(e, y) for e, y in lines),
        window=EnergyWindow(lo, hi, name),
    )


NUCLIDES: dict[str, Nuclide] = {
    n.name: n
    for n in (
        _n("Tc-99m", 6.01 * _HOUR_S, [(140.5, 0.885)], 126.0, 155.0),
        # I-125: Te K X-rays (27.2/27.5 keV ~ 114 % together, 31 keV ~ 26 %) and the 35.5 keV gamma.
        _n("I-125", 59.4 * _DAY_S, [(27.4, 1.14), (31.0, 0.26), (35.5, 0.067)], 20.0, 45.0),
        _n("In-111", 2.80 * _DAY_S, [(171.3, 0.907), (245.4, 0.941)], 150.0, 270.0),
        _n("I-131", 8.02 * _DAY_S, [(364.5, 0.812)], 320.0, 410.0),
        _n("I-123", 13.2 * _HOUR_S, [(159.0, 0.83)], 143.0, 175.0),
        _n("Lu-177", 6.65 * _DAY_S, [(208.4, 0.11), (112.9, 0.064)], 100.0, 230.0),
        _n("F-18", 109.8 * 60.0, [(511.0, 1.93)], 400.0, 600.0),
        _n("Ga-68", 67.7 * 60.0, [(511.0, 1.78)], 400.0, 600.0),
        _n("Co-57", 271.8 * _DAY_S, [(122.1, 0.855), (136.5, 0.107)], 110.0, 150.0),
        _n("Ba-133", 10.5 * _YEAR_S, [(356.0, 0.62), (81.0, 0.33)], 320.0, 400.0),
        _n("I-129", 1.6e7 * _YEAR_S, [(39.6, 0.075), (31.0, 0.70)], 20.0, 45.0),
        # Calibration sources (NNDC/DDEP): Cs-137 via Ba-137m, Am-241's 59.5 keV gamma.
        _n("Cs-137", 30.08 * _YEAR_S, [(661.7, 0.851)], 595.0, 728.0),
        _n("Am-241", 432.6 * _YEAR_S, [(59.5, 0.359)], 50.0, 70.0),
    )
}

# Long-lived check sources that stand in for a short-lived clinical nuclide in daily constancy
# checks (DOMAIN.md, "Quality control"): similar photon energy, years of shelf life.
CHECK_SOURCES: dict[str, str] = {
    "Tc-99m": "Co-57",
    "I-123": "Co-57",
    "In-111": "Co-57",
    "Lu-177": "Co-57",
    "I-131": "Ba-133",
    "I-125": "I-129",
    "F-18": "Cs-137",
    "Ga-68": "Cs-137",
}


class UnknownNuclide(ValueError):
    """A nuclide name that is not in the table."""


def nuclide(name: str) -> Nuclide:
    """Look a nuclide up by name, case-insensitively; UnknownNuclide names the known ones."""
    for key, value in NUCLIDES.items():
        if key.lower() == name.strip().lower():
            return value
    raise UnknownNuclide(f"unknown nuclide {name!r}; known: {', '.join(NUCLIDES)}")


def check_source_for(name: str) -> Nuclide:
    """The usual long-lived check-source stand-in for a clinical nuclide (Co-57 for Tc-99m)."""
    clinical = nuclide(name)
    if clinical.name in CHECK_SOURCES:
        return NUCLIDES[CHECK_SOURCES[clinical.name]]
    if clinical.half_life_s > 200 * _DAY_S:
        return clinical  # long-lived already: it is its own check source
    raise UnknownNuclide(f"no check-source stand-in known for {clinical.name}; "
                         f"known for: {', '.join(CHECK_SOURCES)}")


# Narrow-beam linear attenuation coefficients of water (1/cm) at the energies quoted in DOMAIN.md;
# soft tissue is ~1.05x water. Between points we interpolate log(mu) against log(E).
WATER_MU_PER_CM: tuple[tuple[float, float], ...] = (
    (27.5, 0.443),
    (35.5, 0.309),
    (140.5, 0.154),
    (364.0, 0.110),
    (511.0, 0.096),
)
TISSUE_TO_WATER_MU = 1.05


def water_mu_per_mm(energy_kev: float) -> float:
    """Narrow-beam linear attenuation of water in 1/mm, log-log interpolated from the table."""
    from math import exp, log

    table = WATER_MU_PER_CM
    # The bracketing pair of table points (the end pairs extrapolate).
    i = 1
    while i < len(table) - 1 and energy_kev > table[i][0]:
        i += 1
    (e0, m0), (e1, m1) = table[i - 1], table[i]
    slope = (log(m1) - log(m0)) / (log(e1) - log(e0))
    mu_per_cm = exp(log(m0) + slope * (log(energy_kev) - log(e0)))
    return mu_per_cm / 10.0


def tissue_mu_per_mm(energy_kev: float) -> float:
    """Narrow-beam linear attenuation of soft tissue in 1/mm (water x 1.05)."""
    return water_mu_per_mm(energy_kev) * TISSUE_TO_WATER_MU
