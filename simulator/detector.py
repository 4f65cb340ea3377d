"""Detector crystals: photon attenuation, intrinsic efficiency, photofraction and energy resolution.

Mass attenuation coefficients are NIST XCOM / Hubbell & Seltzer values (total, with coherent
scattering) for the compounds CdTe and CsI; CZT uses the CdTe table at its own density (10 % Zn
changes mu/rho by a few per cent above 60 keV). Between points log(mu) is interpolated against
log(E); K edges are kept as a pair of points 1 eV apart.

Intrinsic efficiency for normal incidence: eps(E) = 1 - exp(-mu(E) rho t). The photofraction (the
share of interactions that deposit the full energy) is approximated by the first interaction:
(mu - sigma_KN) / mu with sigma_KN the Klein-Nishina cross-section of the crystal's electrons;
coherent scattering (< 5 % of mu at 30-500 keV) is counted as photoelectric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

ELECTRON_REST_KEV = 510.99895
CLASSICAL_ELECTRON_RADIUS_CM = 2.8179403262e-13
AVOGADRO_PER_MOL = 6.02214076e23
REFERENCE_ENERGY_KEV = 140.5  # energy resolutions are quoted at the Tc-99m line

# (keV, mu/rho cm^2/g), NIST XCOM.
_CDTE = (
    (15.0, 46.57), (20.0, 21.44), (26.711, 9.834), (26.712, 29.43), (30.0, 21.82),
    (31.813, 18.73), (31.814, 34.92), (40.0, 19.30), (50.0, 10.67), (60.0, 6.542),
    (80.0, 3.019), (100.0, 1.671), (150.0, 0.6071), (200.0, 0.3246), (300.0, 0.1628),
    (400.0, 0.1147), (500.0, 0.09291), (600.0, 0.08042), (800.0, 0.0660), (1000.0, 0.05742),
)
_CSI = (
    (15.0, 58.15), (20.0, 26.86), (30.0, 9.045), (33.169, 6.923), (33.170, 21.22),
    (35.984, 17.19), (35.985, 30.27), (40.0, 22.97), (50.0, 12.87), (60.0, 7.921),
    (80.0, 3.677), (100.0, 2.035), (150.0, 0.7290), (200.0, 0.3805), (300.0, 0.1818),
    (400.0, 0.1237), (500.0, 0.09809), (600.0, 0.08373), (800.0, 0.06769), (1000.0, 0.05848),
)


@dataclass(frozen=True, slots=True)
class Material:
    """A crystal: attenuation table, density and electrons per unit mass (Z/A)."""

    name: str
    table: tuple[tuple[float, float], ...]
    density_g_cm3: float
    z_over_a: float
    protocol_code: int  # ProbeLink INFO detector code

    def mu_per_mm(self, energy_kev: float) -> float:
        """Linear attenuation coefficient in 1/mm (log-log interpolation, ends extrapolated)."""
        e = np.array([p[0] for p in self.table])
        m = np.array([p[1] for p in self.table])
        x = math.log(max(energy_kev, 1.0))
        le, lm = np.log(e), np.log(m)
        i = int(np.clip(np.searchsorted(le, x), 1, len(le) - 1))
        slope = (lm[i] - lm[i - 1]) / (le[i] - le[i - 1])
        mu_rho = math.exp(lm[i - 1] + slope * (x - le[i - 1]))
        return mu_rho * self.density_g_cm3 / 10.0

    def compton_mu_per_mm(self, energy_kev: float) -> float:
        """Klein-Nishina (free electron) part of the attenuation, 1/mm."""
        electrons_per_g = AVOGADRO_PER_MOL * self.z_over_a
        return klein_nishina_cm2(energy_kev) * electrons_per_g * self.density_g_cm3 / 10.0


MATERIALS: dict[str, Material] = {
    m.name.lower(): m
    for m in (
        Material("CdTe", _CDTE, 5.85, 100.0 / 240.01, 1),
        Material("CZT", _CDTE, 5.78, 0.4176, 2),
        Material("CsI(Tl)", _CSI, 4.51, 108.0 / 259.81, 3),
    )
}


def material(name: str) -> Material:
    """A detector material by name, case-insensitively; ValueError names the known ones."""
    found = MATERIALS.get(name.strip().lower())
    if found is None:
        known = ", ".join(m.name for m in MATERIALS.values())
        raise ValueError(f"unknown detector {name!r}; known: {known}")
    return found


def klein_nishina_cm2(energy_kev: float) -> float:
    """Total Klein-Nishina cross-section per electron in cm^2."""
    a = energy_kev / ELECTRON_REST_KEV
    ln = math.log1p(2 * a)
    term = (1 + a) / a**2 * (2 * (1 + a) / (1 + 2 * a) - ln / a) + ln / (2 * a)
    term -= (1 + 3 * a) / (1 + 2 * a) ** 2
    return 2 * math.pi * CLASSICAL_ELECTRON_RADIUS_CM**2 * term


def compton_edge_kev(energy_kev: float) -> float:
    """Largest energy a Compton electron can take: E 2a / (1 + 2a), a = E / 511 keV."""
    a = energy_kev / ELECTRON_REST_KEV
    return energy_kev * 2 * a / (1 + 2 * a)


def scattered_photon_kev(energy_kev: float, cos_angle: np.ndarray | float) -> np.ndarray | float:
    """Energy of a photon Compton-scattered through an angle with the given cosine."""
    a = energy_kev / ELECTRON_REST_KEV
    return energy_kev / (1 + a * (1 - np.asarray(cos_angle)))


@dataclass(frozen=True, slots=True)
class Crystal:
    """A detector crystal of a given material and thickness, with its energy response."""

    material_name: str = "CdTe"
    thickness_mm: float = 2.0
    resolution_pct: float = 8.0  # FWHM at 140.5 keV; FWHM(E) grows as sqrt(E)
    tail_fraction: float = 0.0  # full-energy events shifted into a low-energy tail (CdTe)
    tail_mean_pct: float = 4.0  # mean energy deficit of tail events, % of E

    @property
    def material(self) -> Material:
        """The crystal's material data."""
        return material(self.material_name)

    def efficiency(self, energy_kev: float) -> float:
        """Share of the photons reaching the crystal face that interact in it."""
        return -math.expm1(-self.material.mu_per_mm(energy_kev) * self.thickness_mm)

    def photofraction(self, energy_kev: float) -> float:
        """Share of interactions that deposit the full energy (first-interaction estimate)."""
        mu = self.material.mu_per_mm(energy_kev)
        return max(0.0, mu - self.material.compton_mu_per_mm(energy_kev)) / mu

    def fwhm_kev(self, energy_kev: float) -> float:
        """Photopeak FWHM: resolution_pct at 140.5 keV, scaled with sqrt(E)."""
        ref = self.resolution_pct / 100.0 * REFERENCE_ENERGY_KEV
        return ref * math.sqrt(max(energy_kev, 0.0) / REFERENCE_ENERGY_KEV)

    def sigma_kev(self, energy_kev: float) -> float:
        """Gaussian sd of the photopeak: FWHM / (2 sqrt(2 ln 2))."""
        return self.fwhm_kev(energy_kev) / (2.0 * math.sqrt(2.0 * math.log(2.0)))


@lru_cache(maxsize=64)
def default_crystal(material_name: str) -> Crystal:
    """Typical probe crystals: 2 mm CdTe/CZT with hole tailing, 10 mm CsI(Tl)."""
    m = material(material_name)
    if m.name == "CsI(Tl)":
        return Crystal(m.name, thickness_mm=10.0, resolution_pct=18.0, tail_fraction=0.0)
    return Crystal(m.name, thickness_mm=2.0, resolution_pct=8.0, tail_fraction=0.15)
