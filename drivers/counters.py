"""The counters of the devices probe-nav knows: dead-time model, dead time, highest reportable
rate, and where each figure comes from. The one table every driver takes its `CounterSpec` from.

GM tubes are taken as paralysable: a Geiger tube driven far past its dead-time limit reads LOW
(survey meters "fold back"), the hazard the over-range rules exist for, so the model that has
that hazard is the safe one. Where a tube's dead time is not published, the longest published
figure for a tube of its class is used: a longer dead time puts the ceiling 1/(e tau) lower, so the
over-range rules act earlier (the safe side); the plausibility gate's `max_rate_cps` instead uses
the SHORTEST plausible dead time (an upper bound on what can be counted).

`max_rate_cps` = 1/tau_min for every model: recorded pulses are at least tau apart whatever the
model, so a frame of T s holds at most T/tau + 1 counts. For a paralysable counter that is
e = 2.72 times its highest mean rate 1/(e tau): the margin covers a dead time up to 63 % shorter
than the nominal one and any count fluctuation; for a non-paralysable counter 1/tau_min is the
limit its rate approaches, with tau_min the shortest dead time the source allows.
"""

from __future__ import annotations

from dataclasses import replace

from probe_nav.drivers.frames import CounterModel, CounterSpec

PARALYSABLE = CounterModel.PARALYSABLE
NONPARALYSABLE = CounterModel.NONPARALYSABLE

# Sources of the figures (cited in each CounterSpec.source).
SBM20_DATASHEET = "SBM-20 datasheet: minimum dead time 190 us at 400 V"
GM_TEXTBOOK = ("no dead time published for this tube; 190 us (the SBM-20 datasheet minimum, the "
               "longest published figure for this class of halogen-quenched tube) for the "
               "over-range ceiling, 50 us (the short end of the 50-100 us usual for GM tubes, "
               "Knoll, Radiation Detection and Measurement, ch. 7) for the highest countable rate")
# An uncollimated GM tube counts 1/tau (~5e3 cps) only in a field of ~2 mSv/h, which around a
# surgical source (<= 500 MBq Tc-99m) exists no closer than ~50 mm; a hand moving at 0.25 m/s
# changes the true rate there by at most 2 v / r = 2 x 0.25 / 0.05 = 10 per second.
GM_MAX_CHANGE_PER_S = 10.0
GM_TAU_S = 190e-6  # SBM-20 datasheet minimum; the assumed figure for M4011 and J305 too
GM_TAU_MIN_S = 50e-6  # shortest plausible GM dead time: the bound of the countable rate

# Open Gamma Detector: the firmware reports its measured average dead time per pulse (`read info`
# "Average Dead Time"); pulses arriving while it processes one are lost, not extending the busy
# time: non-paralysable. Without a report: 10 us, twice the 5 us pulses of the project's own
# dead-time tests (Open-Gamma-Detector issue #45), longer being the safe side; the countable
# rate is bounded by the 1 us the firmware reported there at the least.
OGD_SOURCE = "Open Gamma Detector firmware `read info` average dead time"
OGD_DEFAULT_SOURCE = ("Open Gamma Detector: no dead time reported; 10 us (2 x the 5 us pulses of "
                      "Open-Gamma-Detector issue #45)")
OGD_DEFAULT_TAU_S = 10e-6
OGD_TAU_MIN_S = 1e-6


def gm_counter(tube: str) -> CounterSpec:
    """A Geiger tube's counter (paralysable, see the module docstring)."""
    source = f"{tube}: {SBM20_DATASHEET}" if tube == "SBM-20" else f"{tube}: {GM_TEXTBOOK}"
    tau_min = GM_TAU_S if tube == "SBM-20" else GM_TAU_MIN_S
    return CounterSpec(PARALYSABLE, GM_TAU_S, 1.0 / tau_min, source, live_time_measured=False,
                       max_change_per_s=GM_MAX_CHANGE_PER_S)


M4011 = gm_counter("M4011")
# GMC-500/600 carry an M4011 and a small SI-3BG for high fields; how the firmware merges the two
# into its CPS is not documented, so the stream is taken as the M4011's (the lower ceiling).
M4011_SI3BG = CounterSpec(
    PARALYSABLE, GM_TAU_S, 1.0 / GM_TAU_MIN_S,
    f"M4011 + SI-3BG, counted as the M4011: {GM_TEXTBOOK}", live_time_measured=False,
    max_change_per_s=GM_MAX_CHANGE_PER_S)
# MightyOhm kits were sold with an SBM-20 and later a J305: the J305's unknown (possibly shorter)
# dead time bounds the countable rate.
SBM20_OR_J305 = CounterSpec(
    PARALYSABLE, GM_TAU_S, 1.0 / GM_TAU_MIN_S,
    f"SBM-20 or J305: {SBM20_DATASHEET}; J305: {GM_TEXTBOOK}", live_time_measured=False,
    max_change_per_s=GM_MAX_CHANGE_PER_S)
# live_s of an OGD frame is computed from its counts (real - counts x dead time): not measured.
OGD = CounterSpec(NONPARALYSABLE, OGD_DEFAULT_TAU_S, 1.0 / OGD_TAU_MIN_S, OGD_DEFAULT_SOURCE,
                  live_time_measured=False)
ASCII = CounterSpec(source="plain ASCII counter: unknown unless given (--dead-time-us)",
                    live_time_measured=False)

# Model name (as the device reports it, prefix) -> counter.
COUNTERS: dict[str, CounterSpec] = {
    "GMC-300": M4011,
    "GMC-320": M4011,
    "GMC-500": M4011_SI3BG,
    "GMC-600": M4011_SI3BG,
    "MightyOhm": SBM20_OR_J305,
    "Open Gamma Detector": OGD,
    "ASCII counter": ASCII,
}


def counter_for_model(model: str, default: CounterSpec) -> CounterSpec:
    """The table's counter for a reported model name ('GMC-500+Re 2.22' -> GMC-500), else
    `default`."""
    for name, spec in COUNTERS.items():
        if model.startswith(name):
            return spec
    return default


def ogd_counter(dead_time_s: float | None) -> CounterSpec:
    """The Open Gamma Detector's counter with the dead time its firmware reported (if any)."""
    if dead_time_s is None or not dead_time_s > 0:
        return OGD
    return CounterSpec(NONPARALYSABLE, dead_time_s,
                       1.0 / min(dead_time_s, OGD_TAU_MIN_S), OGD_SOURCE,
                       live_time_measured=False)


def user_counter(model: str, dead_time_us: float, base: CounterSpec | None = None) -> CounterSpec:
    """A counter the user states (--counter MODEL --dead-time-us TAU): it wins over the device's;
    what the user does not state (live time, rate of change) is kept from `base`."""
    kind = CounterModel(model)
    tau_s = dead_time_us * 1e-6
    if kind is CounterModel.UNKNOWN or not tau_s > 0:
        raise ValueError("a stated counter needs a model (paralysable or nonparalysable) "
                         "and a dead time > 0")
    base = base or CounterSpec()
    return CounterSpec(kind, tau_s, 1.0 / tau_s, f"stated by the user: {model} {dead_time_us:g} us",
                       live_time_measured=base.live_time_measured,
                       max_change_per_s=base.max_change_per_s)


def with_device_facts(counter: CounterSpec, device: CounterSpec | None) -> CounterSpec:
    """The user's counter, with what only the device knows (does it measure live time? how
    fast can its rate change?) taken from the device's own description."""
    if device is None:
        return counter
    return replace(counter, live_time_measured=device.live_time_measured
                   if counter.live_time_measured is None else counter.live_time_measured,
                   max_change_per_s=counter.max_change_per_s or device.max_change_per_s)
