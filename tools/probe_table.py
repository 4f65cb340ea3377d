"""Print the simulated figures of the probe presets against their class targets, as the
Markdown table in docs/scenarios.md (a test keeps the two the same).

Usage: python -m tools.probe_table
"""

from __future__ import annotations

import math

from probe_nav.simulator import probe_figures as figures
from probe_nav.simulator.physics import ProbeModel
from probe_nav.simulator.probe_presets import PRESETS
from probe_nav.simulator.rates import probe_sensitivity_cps_per_mbq

TC_KEV = 140.511
ENERGIES_KEV = (140.5, 245.0, 364.0, 511.0)


def _range(lo: float, hi: float) -> str:
    if lo <= 0:
        return f"< {hi:g}"
    if hi == 100.0 or math.isinf(hi):  # a percentage's floor
        return f"> {lo:g}"
    return f"{lo:,g}-{hi:,g}"


def _angle(value: float) -> str:
    return "none" if math.isnan(value) else f"{value:.0f}"


def rows() -> list[str]:
    """The table's lines: one per preset and figure."""
    out = ["| preset | figure | simulated | target |", "|---|---|---|---|"]
    for name, preset in PRESETS.items():
        probe = ProbeModel(**preset.fields)
        g = probe.geometry
        t = preset.targets
        cells = [
            ("sensitivity, Tc-99m, 10 mm in air (cps/MBq)",
             f"{probe_sensitivity_cps_per_mbq(probe):,.0f}",
             _range(*t["sensitivity_cps_per_mbq"])),
            ("lateral FWHM at 10 / 30 / 50 mm (mm)",
             " / ".join(f"{figures.profile_width_mm(g, TC_KEV, d):.1f}" for d in (10, 30, 50)),
             _range(*t["fwhm_10mm_mm"]) + " at 10 mm"),
            ("S(30 mm) / S(10 mm); S(contact) / S(10 mm)",
             f"{figures.on_axis(g, TC_KEV, 30) / figures.on_axis(g, TC_KEV, 10):.3f}; "
             f"{figures.on_axis(g, TC_KEV, 0) / figures.on_axis(g, TC_KEV, 10):.2f}",
             "0.22-0.35; 2-4 (issue 16)" if name == "cdte-14" else "-"),
            ("angular FWHM far field at " + " / ".join(f"{e:g}" for e in ENERGIES_KEV)
             + " keV (deg)",
             " / ".join(_angle(figures.angular_fwhm_deg(g, e)) for e in ENERGIES_KEV),
             _range(*t["angular_fwhm_deg"]) + " at 140 keV"),
            ("angular FWHM at 30 mm, turned about the tip (deg)",
             f"{figures.angular_fwhm_deg(g, TC_KEV, 30.0):.0f}", "-"),
            ("side shielding at " + " / ".join(f"{e:g}" for e in ENERGIES_KEV) + " keV (%)",
             " / ".join(f"{100 - figures.shielding_pct(g, e)[0]:.2f}" for e in ENERGIES_KEV),
             _range(*t["side_shielding_pct"]) + " at 140 keV"),
        ]
        for label, value, target in cells:
            out.append(f"| {name} | {label} | {value} | {target} |")
    return out


def main() -> None:
    """Print the table."""
    print("\n".join(rows()))


if __name__ == "__main__":
    main()
