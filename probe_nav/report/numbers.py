"""Numbers, units, dates and plurals as reports print them: one place, one style.

* A value with its standard deviation is rounded to the sd's precision, and the sd to two
  significant figures, or to one when its three leading digits are 355-949 (the Particle Data
  Group's rule): 100123.4 +- 110.9 cps -> "100 120 ± 110 cps". Values of 10^6 and above (or
  below 10^-3) are written "(1.001 ± 0.011) × 10^6 cps"; seconds get an SI prefix
  ("1.20 ± 0.05 µs").
* A value without an sd keeps three significant figures but never rounds integer digits away
  ("1 379 cps", "56.7 cps", "8.49 cps").
* Integers of five digits or more are grouped in threes by a narrow no-break space (ISO 80000-1);
  a number and its unit are joined by a no-break space, so table cells and paragraphs never split
  a quantity across lines. The minus sign is "-", a missing value "–".
* Dates are ISO 8601: "2026-11-24", "2026-11-24 10:05 UTC".

`parse_quantity` reads these texts back (tests prove the round trip; anyone checking a report's
text can use it too). Pure Python: no Qt here.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

GROUP = "\u202f"  # narrow no-break space between digit groups
NBSP = "\u00a0"  # between a number and its unit, and around ±
PLUS_MINUS = "±"
MISSING = "–"
SCI_ABOVE = 1e6
SCI_BELOW = 1e-3
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_SI_PREFIXES = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))
SI_SCALED_UNITS = frozenset({"s"})  # units printed with a prefix when small (dead times)


def group_digits(digits: str) -> str:
    """'1234567' -> '1 234 567' (narrow no-break spaces); numbers below 10 000 stay whole."""
    if len(digits) < 5:
        return digits
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)]
    return GROUP.join(parts)


def fixed(value: float, decimals: int) -> str:
    """`value` with this many decimals (negative: rounded to tens, hundreds...), grouped; a
    value that rounds to zero has no sign; MISSING when not finite."""
    if not math.isfinite(value):
        return MISSING
    if decimals < 0:
        rounded = round(value, decimals)
        text = f"{rounded:.0f}"
    else:
        text = f"{value:.{decimals}f}"
    sign = ""
    if text.startswith("-"):
        text = text[1:]
        sign = "-" if any(c not in "0." for c in text) else ""
    whole, _, frac = text.partition(".")
    return sign + group_digits(whole) + ("." + frac if frac else "")


def with_unit(number: str, unit: str) -> str:
    """A number and its unit joined by a no-break space ('%' too: ISO style '16 %')."""
    return f"{number}{NBSP}{unit}" if unit and number != MISSING else number


def sd_decimals(sd: float) -> int:
    """Decimals to which an sd (> 0) is rounded: 2 significant figures, 1 when the three leading
    digits are 355-949 (PDG); 950-999 round up to the next power of ten with 2 figures."""
    exponent = math.floor(math.log10(sd))
    leading = round(sd / 10 ** (exponent - 2))  # the three leading digits, 100-1000
    if leading >= 1000:  # 999.6 -> 1000: one more digit before the point
        exponent, leading = exponent + 1, 100
    if leading >= 950:
        return -exponent
    figures = 2 if leading < 355 else 1
    return figures - 1 - exponent


def decimals_for(value: float, significant: int = 3) -> int:
    """Decimals that give `significant` figures, never fewer than zero (integers stay whole)."""
    if value == 0 or not math.isfinite(value):
        return max(significant - 1, 0)
    return max(significant - 1 - math.floor(math.log10(abs(value))), 0)


def _si_scale(value: float, unit: str) -> tuple[float, str]:
    if unit not in SI_SCALED_UNITS or value == 0 or not math.isfinite(value):
        return 1.0, unit
    for factor, prefix in _SI_PREFIXES:
        if abs(value) >= factor:
            return factor, prefix + unit
    return _SI_PREFIXES[-1][0], _SI_PREFIXES[-1][1] + unit


def _needs_sci(value: float) -> bool:
    return value != 0 and (abs(value) >= SCI_ABOVE or abs(value) < SCI_BELOW)


def quantity(value: float | None, unit: str = "", significant: int = 3) -> str:
    """A value without an sd: `significant` figures, integer digits kept, unit attached."""
    if value is None or not math.isfinite(value):
        return MISSING
    factor, unit = _si_scale(value, unit)
    value /= factor
    if _needs_sci(value):
        exponent = math.floor(math.log10(abs(value)))
        if abs(round(value / 10 ** exponent, significant - 1)) >= 10:  # 9.9996e6 -> 1.00e7
            exponent += 1
        mantissa = fixed(value / 10 ** exponent, significant - 1)
        return with_unit(f"{mantissa}{NBSP}×{NBSP}10{str(exponent).translate(_SUPERSCRIPT)}",
                         unit)
    return with_unit(fixed(value, decimals_for(value, significant)), unit)


MAX_FIGURES = 6  # no measurement here means more (1 ppm of a 10 s count would be 10^13 counts)


def value_sd(value: float | None, sd: float | None, unit: str = "") -> str:
    """'812.0 ± 9.0 cps': the value rounded to its sd's precision (see sd_decimals); without a
    usable sd (None, 0, not finite) the value alone as `quantity` prints it."""
    if value is None or not math.isfinite(value):
        return MISSING
    if sd is None or not math.isfinite(sd) or sd <= 0:
        return quantity(value, unit)
    factor, unit = _si_scale(value, unit)
    value, sd = value / factor, sd / factor
    exponent = math.floor(math.log10(abs(value))) if _needs_sci(value) else 0
    if exponent:
        value, sd = value / 10 ** exponent, sd / 10 ** exponent
    decimals = sd_decimals(sd)
    cap = decimals_for(value, MAX_FIGURES)
    if decimals > cap:  # an sd below the value's last meaningful figure: more digits are noise
        core = f"{fixed(value, cap)}{NBSP}(sd{NBSP}<{NBSP}{fixed(10.0 ** -cap, cap)})"
    else:
        core = f"{fixed(value, decimals)}{NBSP}{PLUS_MINUS}{NBSP}{fixed(sd, decimals)}"
    if exponent:
        core = f"({core}){NBSP}×{NBSP}10{str(exponent).translate(_SUPERSCRIPT)}"
    return with_unit(core, unit)


def count(n: int | None) -> str:
    """An integer count, grouped: '10 234'."""
    if n is None:
        return MISSING
    return fixed(float(int(n)), 0) if abs(int(n)) < 2**53 else str(int(n))


def percent(value: float | None, decimals: int = 0) -> str:
    """'16 %' (value in percent)."""
    if value is None or not math.isfinite(value):
        return MISSING
    return with_unit(fixed(value, decimals), "%")


def tolerance(fraction: float) -> str:
    """A symmetric tolerance given as a fraction: 0.1 -> '±10 %'."""
    return f"{PLUS_MINUS}{with_unit(f'{100 * fraction:g}', '%')}"


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """'1 daily check', '3 daily checks' (plural_form for irregular nouns)."""
    word = singular if n == 1 else (plural_form or singular + "s")
    return f"{count(n)} {word}"


def _as_utc(when: datetime | float) -> datetime:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("report times must carry a time zone")
        return when.astimezone(UTC)
    return datetime.fromtimestamp(float(when), UTC)


def iso_date(when: datetime | float | None) -> str:
    """'2026-11-24' (UTC) of a datetime with zone or Unix seconds."""
    return MISSING if when is None else _as_utc(when).strftime("%Y-%m-%d")


def iso_datetime(when: datetime | float | None, *, seconds: bool = False,
                 zone: bool = True) -> str:
    """'2026-11-24 10:05 UTC' (seconds: '10:05:03'; zone=False drops ' UTC' for tables whose
    header says UTC)."""
    if when is None:
        return MISSING
    text = _as_utc(when).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return text + (" UTC" if zone else "")


def iso_time(when: datetime | float | None, *, seconds: bool = True) -> str:
    """'10:05:03' (UTC), for tables of one day whose header gives the date."""
    if when is None:
        return MISSING
    return _as_utc(when).strftime("%H:%M:%S" if seconds else "%H:%M")


_NUMBER = r"-?\d{1,3}(?:\u202f\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?"
_QUANTITY = re.compile(
    rf"^\s*(?:\((?P<sv>{_NUMBER})\s*±\s*(?P<ss>{_NUMBER})\)\s*×\s*10(?P<se>[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)"
    rf"|(?P<mv>{_NUMBER})\s*×\s*10(?P<me>[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)"
    rf"|(?P<v>{_NUMBER})(?:\s*±\s*(?P<s>{_NUMBER}))?)\s*(?P<unit>\S.*)?$")
_FROM_SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
_PREFIX_FACTORS = {"m": 1e-3, "µ": 1e-6, "n": 1e-9}


def parse_quantity(text: str) -> tuple[float, float | None, str]:
    """(value, sd or None, unit) from what quantity/value_sd/count/percent print; SI-prefixed
    seconds come back in s. ValueError for other text."""
    clean = text.replace(NBSP, " ")
    match = _QUANTITY.match(clean)
    if match is None:
        raise ValueError(f"not a quantity: {text!r}")

    def number(group: str | None) -> float | None:
        return None if group is None else float(group.replace(GROUP, "").replace(" ", ""))

    g = match.groupdict()
    if g["sv"] is not None:
        scale = 10.0 ** int(g["se"].translate(_FROM_SUPERSCRIPT))
        value, sd = number(g["sv"]), number(g["ss"])
    elif g["mv"] is not None:
        scale = 10.0 ** int(g["me"].translate(_FROM_SUPERSCRIPT))
        value, sd = number(g["mv"]), None
    else:
        scale, value, sd = 1.0, number(g["v"]), number(g["s"])
    unit = (g["unit"] or "").strip()
    if len(unit) == 2 and unit[1] == "s" and unit[0] in _PREFIX_FACTORS:
        scale *= _PREFIX_FACTORS[unit[0]]
        unit = "s"
    assert value is not None
    return value * scale, None if sd is None else sd * scale, unit
