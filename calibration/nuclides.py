"""Reference data for the nuclides used with gamma probes: half-lives, photon lines, usual windows.

Every line is (energy keV, photons per decay of the listed nuclide, kind, emitter). Sources, per
nuclide in `Nuclide.reference`: ENSDF decay data as served by NNDC NuDat 3 and DDEP (LNHB
"Table de Radionucleides") recommended data; K X-ray yields are the ENSDF/DDEP atomic-radiation
tables, each K-alpha or K-beta group summed into one line at its intensity-weighted energy (the
probe cannot resolve them). Lines below the 12 keV counting threshold and lines under ~0.3 %
are left out (named in docs/nuclides.md). Half-lives are cross-checked against ICRP-107
(radioactivedecay) by tests/calibration/test_nuclides_data.py; attenuation lives in
probe_nav.calibration.attenuation (xraydb / NIST XCOM). Typical probe windows are the clinical
defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe_nav.calibration.attenuation import water_mu_per_cm
from probe_nav.drivers.frames import EnergyWindow

_MINUTE_S = 60.0
_HOUR_S = 3600.0
_DAY_S = 86400.0
_YEAR_S = 365.25 * _DAY_S

GAMMA, XRAY, ANNIHILATION = "gamma", "x-ray", "annihilation"


@dataclass(frozen=True, slots=True)
class PhotonLine:
    """A photon emission: energy in keV, yield per decay of the parent, kind, emitting nuclide."""

    energy_kev: float
    yield_per_decay: float
    kind: str = GAMMA  # GAMMA, XRAY or ANNIHILATION
    emitter: str = ""  # a daughter in equilibrium that emits it; "" = the nuclide itself


@dataclass(frozen=True, slots=True)
class Nuclide:
    """A radionuclide: half-life, photon lines (with daughters in equilibrium), usual window."""

    name: str
    half_life_s: float
    lines: tuple[PhotonLine, ...]
    window: EnergyWindow
    reference: str = ""  # where the half-life, lines and yields come from
    daughters: tuple[str, ...] = ()  # short-lived progeny whose lines are included

    @property
    def main_line(self) -> PhotonLine:
        """The highest-yield line in the usual window (Ba-133's 356 keV, not its stronger Cs K
        X-rays); the highest-yield line overall if none is in the window."""
        inside = [line for line in self.lines
                  if self.window.lo_kev <= line.energy_kev <= self.window.hi_kev]
        return max(inside or self.lines, key=lambda line: line.yield_per_decay)

    @property
    def decay_constant_per_s(self) -> float:
        """lambda = ln 2 / T1/2."""
        from math import log

        return log(2.0) / self.half_life_s


Line = tuple[float, float] | tuple[float, float, str] | tuple[float, float, str, str]


def _n(name: str, half_life_s: float, lines: list[Line], lo: float, hi: float,
       reference: str, daughters: tuple[str, ...] = ()) -> Nuclide:
    return Nuclide(
        name=name,
        half_life_s=half_life_s,
        lines=tuple(PhotonLine(*line) for line in lines),
        window=EnergyWindow(lo, hi, name),
        reference=reference,
        daughters=daughters,
    )


# Ac-225 decays through Fr-221 (4.8 min), At-217 (32 ms) and Bi-213 (45.6 min; 97.9 % beta to
# Po-213, 2.1 % alpha to Tl-209 of 2.2 min). A few hours after separation the chain is in
# transient equilibrium: A_daughter / A_Ac = 1 / (1 - T_daughter / T_Ac) (Bateman), so each
# daughter line per Ac-225 decay is its yield per daughter decay times that ratio.
_AC225_T_S = 9.920 * _DAY_S
_EQ_FR221 = 1.0 / (1.0 - 4.801 * _MINUTE_S / _AC225_T_S)  # 1.0003
_EQ_BI213 = 1.0 / (1.0 - 45.61 * _MINUTE_S / _AC225_T_S)  # 1.0032
_BI213_TO_TL209 = 0.0209  # Bi-213 alpha branch, ICRP-107 (DDEP gives 2.14 %)

_ENSDF = "ENSDF via NNDC NuDat 3"
_DDEP = "DDEP/LNHB recommended data"

NUCLIDES: dict[str, Nuclide] = {
    n.name: n
    for n in (
        _n("Tc-99m", 6.0067 * _HOUR_S,
           [(140.511, 0.885), (18.3, 0.062, XRAY), (20.7, 0.012, XRAY)], 126.0, 155.0,
           f"{_DDEP} (Tc-99m, 2012 edition; T1/2 6.0067 h, 140.5 keV 88.5 %); Tc K X-rays "
           f"{_ENSDF} (A=99, NDS 2017)"),
        _n("I-125", 59.388 * _DAY_S,
           [(27.4, 1.13, XRAY), (31.1, 0.257, XRAY), (35.4925, 0.0668)], 20.0, 45.0,
           f"{_DDEP} (I-125; T1/2 59.388 d, 35.49 keV 6.68 %, Te K X-rays); {_ENSDF} (A=125)"),
        _n("In-111", 2.8047 * _DAY_S,
           [(171.28, 0.9066), (245.35, 0.9409), (23.1, 0.70, XRAY), (26.2, 0.145, XRAY)],
           150.0, 270.0,
           f"{_ENSDF} (A=111, NDS 2009; T1/2 2.8047 d); Cd K X-rays from the same evaluation"),
        _n("I-131", 8.0252 * _DAY_S,
           [(364.49, 0.815), (636.99, 0.0716), (284.31, 0.0612), (80.19, 0.0262),
            (722.91, 0.0177), (503.0, 0.0036), (29.7, 0.040, XRAY), (33.7, 0.0093, XRAY)],
           320.0, 410.0,
           f"{_ENSDF} (A=131, NDS 2006; T1/2 8.0252 d); Xe K X-rays from the same evaluation"),
        _n("I-123", 13.2235 * _HOUR_S,
           [(158.97, 0.833), (528.96, 0.0139), (440.02, 0.0043), (27.4, 0.709, XRAY),
            (31.1, 0.155, XRAY)], 143.0, 175.0,
           f"{_ENSDF} (A=123, NDS 2004; T1/2 13.2235 h); Te K X-rays from the same evaluation"),
        # Lu-177: 208.4 keV is 10.38 % (the old table's 11 % was 6 % high).
        _n("Lu-177", 6.647 * _DAY_S,
           [(208.366, 0.1038), (112.950, 0.0620), (55.4, 0.044, XRAY), (63.5, 0.012, XRAY)],
           100.0, 230.0,
           f"{_DDEP} (Lu-177, 2013 edition; T1/2 6.647 d, 208.37 keV 10.38 %, 112.95 keV "
           f"6.20 %); Hf K X-rays {_ENSDF} (A=177, NDS 2019)"),
        _n("F-18", 109.77 * _MINUTE_S, [(511.0, 1.9346, ANNIHILATION)], 400.0, 600.0,
           f"{_DDEP} (F-18; T1/2 109.77 min, beta+ 96.73 %: 2 x 0.9673 annihilation photons)"),
        _n("Ga-68", 67.71 * _MINUTE_S,
           [(511.0, 1.7784, ANNIHILATION), (1077.34, 0.0322)], 400.0, 600.0,
           f"{_ENSDF} (A=68, NDS 2012; T1/2 67.71 min, beta+ 88.9 %, 1077.3 keV 3.22 %)"),
        # Co-57: Fe K X-rays (6.4/7.1 keV) are under the 12 keV threshold; its 14.4 keV gamma isn't.
        _n("Co-57", 271.80 * _DAY_S,
           [(122.0607, 0.856), (136.4736, 0.1068), (14.4130, 0.0916)], 110.0, 150.0,
           f"{_DDEP} (Co-57; T1/2 271.80 d, 122.06 keV 85.6 %, 136.47 keV 10.68 %, "
           "14.41 keV 9.16 %)"),
        _n("Ba-133", 10.551 * _YEAR_S,
           [(356.013, 0.6205), (80.997, 0.329), (302.851, 0.1834), (383.848, 0.0894),
            (276.399, 0.0716), (79.614, 0.0265), (53.162, 0.0214), (160.612, 0.0064),
            (223.237, 0.0045), (30.9, 0.970, XRAY), (35.1, 0.225, XRAY)], 320.0, 400.0,
           f"{_ENSDF} (A=133, NDS 2011; T1/2 10.551 y); Cs K X-rays from the same evaluation"),
        _n("I-129", 1.57e7 * _YEAR_S,
           [(39.578, 0.0751), (29.7, 0.567, XRAY), (33.7, 0.13, XRAY)], 20.0, 45.0,
           f"{_ENSDF} (A=129, NDS 2014; T1/2 1.57e7 y); Xe K X-rays from the same evaluation"),
        # Calibration sources: Cs-137 via Ba-137m (94.4 % branch), Am-241's 59.5 keV gamma.
        _n("Cs-137", 30.08 * _YEAR_S,
           [(661.657, 0.851, GAMMA, "Ba-137m"), (32.1, 0.0563, XRAY, "Ba-137m"),
            (36.5, 0.0134, XRAY, "Ba-137m")], 595.0, 728.0,
           f"{_ENSDF} (A=137, NDS 2007; T1/2 30.08 y, 661.66 keV 85.1 % per Cs-137 decay); "
           "Ba K X-rays from the same evaluation", daughters=("Ba-137m",)),
        # Am-241: Np L X-rays (13.9/17.6/20.8 keV groups) sit above the threshold; Np K X-rays
        # are < 0.1 %.
        _n("Am-241", 432.6 * _YEAR_S,
           [(59.5409, 0.359), (26.3446, 0.0227), (13.9, 0.132, XRAY), (17.6, 0.192, XRAY),
            (20.8, 0.049, XRAY)], 50.0, 70.0,
           f"{_DDEP} (Am-241; T1/2 432.6 y, 59.54 keV 35.9 %, 26.34 keV 2.27 %, Np L X-rays)"),
        # Ac-225 (targeted alpha therapy) with Fr-221 and Bi-213 (and Tl-209) in equilibrium.
        _n("Ac-225", _AC225_T_S,
           [(218.12, 0.1144 * _EQ_FR221, GAMMA, "Fr-221"),
            (440.45, 0.2594 * _EQ_BI213, GAMMA, "Bi-213"),
            (465.14, 0.969 * _BI213_TO_TL209 * _EQ_BI213, GAMMA, "Tl-209"),
            (117.21, 0.843 * _BI213_TO_TL209 * _EQ_BI213, GAMMA, "Tl-209"),
            (1566.93, 0.998 * _BI213_TO_TL209 * _EQ_BI213, GAMMA, "Tl-209")],
           196.0, 484.0,
           f"{_DDEP} (Ac-225, Fr-221, Bi-213; T1/2 9.920 d, 218.1 keV 11.44 %, 440.5 keV "
           f"25.94 % per daughter decay); Tl-209 lines {_ENSDF} (A=209)",
           daughters=("Fr-221", "At-217", "Bi-213", "Tl-209", "Po-213")),
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
    "Ac-225": "Ba-133",  # 356/384 keV between Ac-225's 218 and 440 keV daughter lines
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


# Soft tissue is ~1.05x water (ICRU 44 soft tissue vs water, Compton-dominated range).
TISSUE_TO_WATER_MU = 1.05


def water_mu_per_mm(energy_kev: float) -> float:
    """Narrow-beam linear attenuation of water in 1/mm (probe_nav.calibration.attenuation)."""
    return water_mu_per_cm(energy_kev) / 10.0


def tissue_mu_per_mm(energy_kev: float) -> float:
    """Narrow-beam linear attenuation of soft tissue in 1/mm (water x 1.05)."""
    return water_mu_per_mm(energy_kev) * TISSUE_TO_WATER_MU
