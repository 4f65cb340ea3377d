"""Design figures -> head geometry: the bore that gives a far-field angular FWHM, the wall that
gives a side shielding at an energy. Lets a scenario (or a real probe's calibration file) state
`angular_fwhm_deg` and `shielding_pct`, the figures NEMA NU 3 and vendors quote, instead of
dimensions nobody publishes.

Angular FWHM: far from the probe, a source at theta off axis looks down the bore (radius b, length
L = the crystal's set-back; b <= the crystal's radius a, so the bore, not the crystal, limits the
view). Along the line of sight the bore's far end is its near end shifted by L tan(theta), so the
open area is the lens where two discs of radius b overlap and the response is

    g(theta) = cos(theta) lens(b, b, L tan(theta)) / (pi b^2)

(opaque wall, thin crystal: the finite model, with its crystal's thickness and the wall's
penetration, then comes out within ~10 %: 38.4 degrees for 40, 27.5 for 25). Only L/b matters:
it is solved so that g(FWHM/2) = 1/2; with the set-back given that fixes b, otherwise L (b = a).
"""

from __future__ import annotations

import math

from scipy.optimize import brentq

from probe_nav.calibration.shield_attenuation import shield_mu_per_mm


def lens_area(r1: float, r2: float, d: float) -> float:
    """Area common to two discs of radii r1, r2 whose centres are d apart."""
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return math.pi * min(r1, r2) ** 2
    a1 = r1 * r1 * math.acos((d * d + r1 * r1 - r2 * r2) / (2 * d * r1))
    a2 = r2 * r2 * math.acos((d * d + r2 * r2 - r1 * r1) / (2 * d * r2))
    a3 = 0.5 * math.sqrt((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2))
    return a1 + a2 - a3


def far_field_response(theta_rad: float, bore_radius_mm: float, length_mm: float) -> float:
    """g(theta) of a bore (opaque wall) in front of a crystal at least as wide, relative to the
    axis."""
    shift = length_mm * math.tan(theta_rad)
    open_area = lens_area(bore_radius_mm, bore_radius_mm, shift)
    return math.cos(theta_rad) * open_area / (math.pi * bore_radius_mm**2)


def _aspect_for_fwhm(fwhm_deg: float) -> float:
    """L / b of a bore whose far-field response halves at FWHM / 2."""
    if not 0 < fwhm_deg < 120:
        raise ValueError(f"probe.angular_fwhm_deg must be between 0 and 120, got {fwhm_deg}")
    half = math.radians(fwhm_deg / 2.0)
    # g falls monotonically with L / b, from cos(half) > 1/2 at 0 to 0 where L tan(half) = 2b.
    return brentq(lambda k: far_field_response(half, 1.0, k) - 0.5, 0.0, 2.0 / math.tan(half),
                  xtol=1e-12)


def bore_diameter_for_angular_fwhm(crystal_diameter_mm: float, setback_mm: float,
                                   fwhm_deg: float) -> float:
    """The bore diameter (at most the crystal's) that gives this far-field angular FWHM with the
    crystal setback_mm behind the tip; ValueError when even the crystal's width is too narrow."""
    bore_mm = 2.0 * setback_mm / _aspect_for_fwhm(fwhm_deg)
    if bore_mm > crystal_diameter_mm:
        raise ValueError(
            f"probe.angular_fwhm_deg {fwhm_deg:g} is too wide for a {crystal_diameter_mm:g} mm "
            f"crystal {setback_mm:g} mm behind the tip (it would need a {bore_mm:.1f} mm bore): "
            "give a smaller crystal_setback_mm")
    return bore_mm


def setback_for_angular_fwhm(crystal_diameter_mm: float, fwhm_deg: float) -> float:
    """The crystal's set-back (the length of a bore as wide as the crystal) that gives this
    far-field angular FWHM."""
    return crystal_diameter_mm / 2.0 * _aspect_for_fwhm(fwhm_deg)


def wall_for_shielding(shielding_pct: float, material: str, energy_kev: float) -> float:
    """Wall thickness (mm) of `material` that stops shielding_pct % of photons of energy_kev
    crossing it straight (Beer-Lambert)."""
    if not 50.0 < shielding_pct < 100.0:
        raise ValueError(f"probe.shielding_pct must be in (50, 100), got {shielding_pct}")
    return -math.log1p(-shielding_pct / 100.0) / shield_mu_per_mm(material, energy_kev)
