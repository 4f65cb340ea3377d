"""Decision rules surgeons use, as pure functions on decay-corrected rates, each with a verdict.

- ratio to background and % of the hottest node;
- 10 % rule (SLNB): remove every node whose ex vivo count is >= 10 % of the hottest node's;
- ex vivo / background: a node is confirmed when its ex vivo count is >= 4x background
  (ratio used in large series; configurable);
- parathyroid (Norman) 20 % rule: an ex vivo specimen >= 20 % of background is consistent with a
  hyperfunctioning parathyroid gland;
- bed check: the wound bed is clear when its rate is not significantly above background
  (one-sided test at z = 1.645 on the two Poisson sds).
Sources: /work/shared/DOMAIN.md ("Decision rules surgeons use").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from probe_nav.cases.model import Case, Measurement

Z_ONE_SIDED_95 = 1.645


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """Thresholds of the rules (defaults from the literature in DOMAIN.md)."""

    ten_percent_fraction: float = 0.10
    ex_vivo_background_min_ratio: float = 4.0
    parathyroid_fraction: float = 0.20
    bed_z: float = Z_ONE_SIDED_95


# Which rules a procedure uses ('ratios' are always shown).
RULES_BY_PROCEDURE: Mapping[str, tuple[str, ...]] = {
    "sln-breast": ("ten_percent", "ex_vivo_background", "bed_check"),
    "sln-melanoma": ("ten_percent", "ex_vivo_background", "bed_check"),
    "sln-head-neck": ("ten_percent", "ex_vivo_background", "bed_check"),
    "roll": ("ex_vivo_background", "bed_check"),
    "rsl": ("ex_vivo_background", "bed_check"),
    "parathyroid": ("parathyroid_20", "bed_check"),
    "psma": ("ex_vivo_background", "bed_check"),
    "therapy": (),  # retention counts of a patient, no nodes (docs/theranostics.md)
    "other": ("ten_percent", "ex_vivo_background", "bed_check"),
}

RULE_TITLES: Mapping[str, str] = {
    "ten_percent": "10 % rule: remove nodes with ex vivo count >= 10 % of the hottest node",
    "ex_vivo_background": "ex vivo / background >= 4:1 confirms a node",
    "parathyroid_20": "Norman 20 % rule: ex vivo >= 20 % of background suggests parathyroid",
    "bed_check": "bed check: wound bed not significantly above background",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of one rule for one node: the value compared, the threshold, and what it means."""

    rule: str
    node: str
    value: float
    threshold: float
    positive: bool  # the rule's condition holds (remove / confirmed / parathyroid / residual)
    text: str


def ratio_to_background(rate_cps: float, background_cps: float) -> float:
    """rate / background; NaN when the background is unknown or not above zero."""
    if not (background_cps > 0 and math.isfinite(background_cps)):
        return math.nan
    return rate_cps / background_cps


def percent_of_hottest(rate_cps: float, hottest_cps: float) -> float:
    """rate as % of the hottest rate; NaN when the hottest rate is not above zero."""
    if not (hottest_cps > 0 and math.isfinite(hottest_cps)):
        return math.nan
    return 100.0 * rate_cps / hottest_cps


def ten_percent_rule(
    ex_vivo_cps: Mapping[str, float], fraction: float = 0.10
) -> dict[str, Verdict]:
    """10 % rule over the ex vivo rates of all nodes: which to remove (value in % of hottest)."""
    if not ex_vivo_cps:
        return {}
    hottest_node = max(ex_vivo_cps, key=lambda n: ex_vivo_cps[n])
    hottest = ex_vivo_cps[hottest_node]
    out = {}
    for node, rate in ex_vivo_cps.items():
        pct = percent_of_hottest(rate, hottest)
        remove = math.isfinite(pct) and pct >= 100.0 * fraction - 1e-9
        text = ("hottest node: remove" if node == hottest_node and remove else
                f"remove (>= {100 * fraction:g} % of hottest)" if remove else
                f"below {100 * fraction:g} % of hottest" if math.isfinite(pct) else
                "no counts above zero")
        out[node] = Verdict("ten_percent", node, pct, 100.0 * fraction, bool(remove), text)
    return out


def ex_vivo_background_rule(
    node: str, ex_vivo_cps: float, background_cps: float, min_ratio: float = 4.0
) -> Verdict:
    """Ex vivo / background ratio against min_ratio: 'confirmed' when at or above it."""
    ratio = ratio_to_background(ex_vivo_cps, background_cps)
    if not math.isfinite(ratio):
        return Verdict("ex_vivo_background", node, ratio, min_ratio, False, "no background")
    ok = ratio >= min_ratio
    text = (f"confirmed ({ratio:.1f}:1)" if ok else f"below {min_ratio:g}:1 ({ratio:.1f}:1)")
    return Verdict("ex_vivo_background", node, ratio, min_ratio, bool(ok), text)


def parathyroid_rule(
    node: str, ex_vivo_cps: float, background_cps: float, fraction: float = 0.20
) -> Verdict:
    """Norman rule: ex vivo >= 20 % of background suggests a hyperfunctioning parathyroid."""
    ratio = ratio_to_background(ex_vivo_cps, background_cps)
    if not math.isfinite(ratio):
        return Verdict("parathyroid_20", node, ratio, 100 * fraction, False, "no background")
    pct = 100.0 * ratio
    ok = pct >= 100.0 * fraction - 1e-9
    text = (f"{pct:.0f} % of background: consistent with parathyroid" if ok else
            f"{pct:.0f} % of background: below {100 * fraction:g} %")
    return Verdict("parathyroid_20", node, pct, 100 * fraction, bool(ok), text)


def bed_check(
    node: str, bed_cps: float, bed_sd_cps: float, background_cps: float,
    background_sd_cps: float, z_limit: float = Z_ONE_SIDED_95,
) -> Verdict:
    """Residual activity when (bed - background) / combined sd exceeds z_limit."""
    if not (background_cps >= 0 and math.isfinite(background_cps)):
        return Verdict("bed_check", node, math.nan, z_limit, False, "no background")
    sd = math.hypot(bed_sd_cps, max(background_sd_cps, 0.0))
    z = (bed_cps - background_cps) / sd if sd > 0 else math.inf * (bed_cps - background_cps)
    residual = z > z_limit
    text = f"residual activity (z = {z:.1f})" if residual else f"at background (z = {z:.1f})"
    return Verdict("bed_check", node, z, z_limit, bool(residual), text)


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One line of the node table: latest decay-corrected rate of each kind, ratios, verdicts."""

    node: str
    kinds: tuple[str, ...]
    in_vivo_cps: float = math.nan
    ex_vivo_cps: float = math.nan
    bed_cps: float = math.nan
    ratio_to_background: float = math.nan  # ex vivo if counted, else in vivo
    percent_of_hottest: float = math.nan  # ex vivo among ex vivo, else in vivo among in vivo
    verdicts: tuple[Verdict, ...] = ()

    @property
    def flagged(self) -> bool:
        """True when a rule says act: remove, confirmed node, parathyroid, residual in bed."""
        return any(v.positive for v in self.verdicts)


@dataclass(frozen=True, slots=True)
class NodeTable:
    """The node table of a case and the rules that were applied."""

    rows: tuple[NodeRow, ...]
    background_cps: float
    background_sd_cps: float
    rules: tuple[str, ...]
    config: RulesConfig = field(default_factory=RulesConfig)


def _latest(measurements: Sequence[Measurement]) -> dict[tuple[str, str], Measurement]:
    latest: dict[tuple[str, str], Measurement] = {}
    for m in sorted(measurements, key=lambda m: (m.measured_unix_s, m.measurement_id or 0)):
        latest[(m.node, m.kind)] = m
    return latest


def node_table(
    case: Case, measurements: Sequence[Measurement], config: RulesConfig | None = None
) -> NodeTable:
    """Build the node table: the latest measurement of each node and kind, rules by procedure.

    Background is the latest 'background' measurement; rates are decay corrected.
    """
    cfg = config or RulesConfig()
    rules = RULES_BY_PROCEDURE.get(case.procedure, RULES_BY_PROCEDURE["other"])
    latest = _latest(measurements)
    backgrounds = [m for (_n, k), m in latest.items() if k == "background"]
    bg = max(backgrounds, key=lambda m: m.measured_unix_s) if backgrounds else None
    b_cps = bg.corrected_rate_cps if bg else math.nan
    b_sd = bg.corrected_sd_cps if bg else math.nan
    nodes = list(dict.fromkeys(m.node for m in sorted(
        measurements, key=lambda m: (m.measured_unix_s, m.measurement_id or 0))
        if m.kind != "background"))
    rate = {key: m.corrected_rate_cps for key, m in latest.items()}
    ex_vivo = {n: rate[(n, "ex_vivo")] for n in nodes if (n, "ex_vivo") in rate}
    in_vivo = {n: rate[(n, "in_vivo")] for n in nodes if (n, "in_vivo") in rate}
    hot_ex = max(ex_vivo.values(), default=math.nan)
    hot_in = max(in_vivo.values(), default=math.nan)
    ten = ten_percent_rule(ex_vivo, cfg.ten_percent_fraction) if "ten_percent" in rules else {}
    rows = []
    for n in nodes:
        verdicts: list[Verdict] = []
        if n in ten:
            verdicts.append(ten[n])
        if n in ex_vivo and "ex_vivo_background" in rules:
            verdicts.append(ex_vivo_background_rule(n, ex_vivo[n], b_cps,
                                                    cfg.ex_vivo_background_min_ratio))
        if n in ex_vivo and "parathyroid_20" in rules:
            verdicts.append(parathyroid_rule(n, ex_vivo[n], b_cps, cfg.parathyroid_fraction))
        if (n, "bed") in latest and "bed_check" in rules:
            bed = latest[(n, "bed")]
            verdicts.append(bed_check(n, bed.corrected_rate_cps, bed.corrected_sd_cps, b_cps,
                                      b_sd, cfg.bed_z))
        main = ex_vivo.get(n, in_vivo.get(n, math.nan))
        pct = (percent_of_hottest(ex_vivo[n], hot_ex) if n in ex_vivo else
               percent_of_hottest(in_vivo[n], hot_in) if n in in_vivo else math.nan)
        rows.append(NodeRow(
            node=n, kinds=tuple(k for k in ("in_vivo", "ex_vivo", "bed") if (n, k) in latest),
            in_vivo_cps=in_vivo.get(n, math.nan), ex_vivo_cps=ex_vivo.get(n, math.nan),
            bed_cps=rate.get((n, "bed"), math.nan),
            ratio_to_background=ratio_to_background(main, b_cps), percent_of_hottest=pct,
            verdicts=tuple(verdicts),
        ))
    return NodeTable(tuple(rows), b_cps, b_sd, tuple(rules), cfg)
