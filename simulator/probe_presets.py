"""Typical probe heads as presets for a scenario's [probe] table (`preset = "cdte-14"`).

Each preset is a geometry, not a set of figures: sensitivity, lateral and angular resolution and
shielding follow from it (probe_nav.simulator.probe_figures). The dimensions are those of the
probe classes in clinical use: a 14 mm straight hand-held probe (10 mm CdTe behind a 15 mm tungsten
bore), an 11 mm scintillator probe (8 mm CsI(Tl) 10 mm long) and a 12 mm drop-in laparoscopic
probe (8 mm CdTe, short collimator, wide field). `targets` are the figures a probe of the class
is expected to meet (DOMAIN.md: > 5,000 cps/MBq at 1 cm, 6.9-20 cps/kBq measured for good
probes; lateral FWHM < 17 mm at 1 cm for a 40-degree probe, < 15-25 mm at 10-30 mm; angular FWHM
< 40 degrees; side shielding > 99.9 %); docs/scenarios.md tabulates simulated against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Preset:
    """A probe head: ProbeModel field values and the class's target figures."""

    name: str
    description: str
    fields: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    targets: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))


def _preset(name: str, description: str, targets: dict[str, Any], **fields: Any) -> Preset:
    return Preset(name, description, MappingProxyType(fields), MappingProxyType(targets))


PRESETS: dict[str, Preset] = {p.name: p for p in (
    _preset("cdte-14", "14 mm straight hand-held probe: 10 mm x 5 mm CdTe 15 mm behind the tip, "
            "2 mm tungsten wall, 5 mm back shield",
            {"sensitivity_cps_per_mbq": (5000.0, 20000.0), "fwhm_10mm_mm": (14.0, 20.0),
             "angular_fwhm_deg": (0.0, 40.0), "side_shielding_pct": (99.9, 100.0)},
            crystal_diameter_mm=10.0, crystal_thickness_mm=5.0, crystal_setback_mm=15.0,
            detector="CdTe", shield_material="W", wall_mm=2.0, back_shield_mm=5.0,
            dead_time_s=2e-6, dead_time_kind="nonparalysable"),
    _preset("csi-11", "11 mm scintillator probe: 8 mm x 10 mm CsI(Tl) 10 mm behind the tip, "
            "1.5 mm tungsten wall, 5 mm back shield",
            {"sensitivity_cps_per_mbq": (5000.0, 20000.0), "fwhm_10mm_mm": (10.0, 20.0),
             "angular_fwhm_deg": (0.0, 45.0), "side_shielding_pct": (99.5, 100.0)},
            crystal_diameter_mm=8.0, crystal_thickness_mm=10.0, crystal_setback_mm=10.0,
            detector="CsI(Tl)", shield_material="W", wall_mm=1.5, back_shield_mm=5.0,
            dead_time_s=5e-6, dead_time_kind="paralysable"),
    _preset("dropin-12", "12 mm drop-in laparoscopic probe: 8 mm x 2 mm CdTe 5 mm behind the tip, "
            "2 mm tungsten wall, 4 mm back shield (short collimator: a wide field)",
            {"sensitivity_cps_per_mbq": (3000.0, 30000.0), "fwhm_10mm_mm": (12.0, 30.0),
             "angular_fwhm_deg": (40.0, 80.0), "side_shielding_pct": (99.0, 100.0)},
            crystal_diameter_mm=8.0, crystal_thickness_mm=2.0, crystal_setback_mm=5.0,
            detector="CdTe", shield_material="W", wall_mm=2.0, back_shield_mm=4.0,
            dead_time_s=2e-6, dead_time_kind="nonparalysable"),
)}


def preset(name: str) -> Preset:
    """A preset by name; ValueError names the known ones."""
    found = PRESETS.get(str(name).strip().lower())
    if found is None:
        raise ValueError(f"unknown probe preset {name!r}; known: {', '.join(PRESETS)}")
    return found
