"""Numbers and units for people: "$1.2bn", "12 kt/yr", "38%", "110 USD/kg".

Every number a reader sees on the pages goes through this module, so rounding is the same in the
headlines, the tables, the axis labels and the hover text. Units are the codes of
:mod:`abm.names` ("price", "share", "USD", "t/yr", ...); "price" is resolved to the experiment's
``market.price_unit`` by the caller passing ``price_unit``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

MINUS = "\u2212"  # typographic minus: "−12%" reads better than "-12%"
DASH = "\u2013"  # en dash for ranges: "31–45%"

# Money and tonnes are shown in thousands, millions or billions so people never count zeros.
_MONEY_STEPS = ((1e9, "bn"), (1e6, "m"), (1e3, "k"), (1.0, ""))
_TONNE_STEPS = ((1e6, "M"), (1e3, "k"), (1.0, ""))


class Scale(NamedTuple):
    """A display scale: divide values by ``factor`` and write ``unit`` after them."""

    factor: float
    unit: str       # e.g. "USD bn", "kt/yr", "%"
    prefix: str = ""  # "$" for money
    suffix: str = ""  # "bn", "%", " kt/yr": appended to single numbers


def sig(x: float, digits: int = 2, decimals: int | None = None) -> str:
    """`x` with about `digits` significant figures, never in scientific notation.

    Integer digits are never dropped (1234 -> "1,234"), so scaled numbers (12 kt, $1.2bn) read as
    written in a briefing note. `decimals` fixes the decimals (both ends of a range share them).
    """
    if x is None or not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    if decimals is None:
        decimals = _decimals(x, digits)
    text = f"{abs(x):,.{decimals}f}"
    if float(text.replace(",", "")) == 0:
        return "0"
    return (MINUS if x < 0 else "") + text


def _decimals(x: float, digits: int) -> int:
    """Decimals that show `x` with `digits` significant figures."""
    if x == 0 or not math.isfinite(x):
        return 0
    magnitude = math.floor(math.log10(abs(x)))
    decimals = max(digits - 1 - magnitude, 0)
    if round(abs(x), decimals) >= 10 ** (magnitude + 1):  # 9.96 rounds up to a new digit: "10"
        decimals = max(decimals - 1, 0)
    return decimals


def _step_for(value: float, steps: tuple[tuple[float, str], ...]) -> tuple[float, str]:
    a = abs(value) if value is not None and math.isfinite(value) else 0.0
    for factor, name in steps:
        if a >= factor * 0.9995:  # 999.6k shows as 1.0m, not 1,000k
            return factor, name
    return steps[-1]


def scale_for(values: float | list[float], unit: str, price_unit: str = "USD/kg") -> Scale:
    """The display scale for numbers in `unit` whose largest magnitude is max(|values|).

    One scale per chart or per range, so both ends of a CI carry the same unit.
    """
    if isinstance(values, int | float):
        values = [values]
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    big = max(finite) if finite else 0.0
    if unit in ("USD", "USD/step", "USD/yr"):
        factor, name = _step_for(big, _MONEY_STEPS)
        per = unit[3:]  # "", "/step" or "/yr"
        return Scale(factor, f"USD {name}{per}".replace("  ", " ").strip() if name else unit,
                     "$", name + per)
    if unit in ("t", "t/yr", "t/step"):
        factor, name = _step_for(big, _TONNE_STEPS)
        shown = name + unit
        return Scale(factor, shown, "", " " + shown)
    if unit in ("share", "1/yr^0.5"):
        # volatility is an annualised standard deviation of log changes: people read it as a %
        return Scale(0.01, "%" if unit == "share" else "% per year", "", "%")
    if unit == "price":
        return Scale(1.0, price_unit, "", " " + price_unit)
    if unit in ("-", ""):
        return Scale(1.0, "", "", "")
    return Scale(1.0, unit, "", " " + unit)


def fmt(value: float | None, unit: str, price_unit: str = "USD/kg", digits: int = 2,
        scale: Scale | None = None, minus: str = MINUS) -> str:
    """One number with its unit: fmt(1.23e9, "USD") == "$1.2bn", fmt(0.384, "share") == "38%",
    fmt(-4.369e8, "USD") == "−$437m".

    The pages and the terminal summary both use it. `minus` is the sign written before negative
    numbers: the typographic minus on the pages; "-" in the terminal, where text is copied into
    shells, spreadsheets and code that would not read U+2212 as a sign.
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    s = scale or scale_for(value, unit, price_unit)
    if unit == "price":
        digits = max(digits, 3)  # 62.4 USD/kg, not 62 USD/kg: prices are compared closely
    return _with_unit(sig(value / s.factor, digits), s).replace(MINUS, minus)


def fmt_range(low: float, high: float, unit: str, price_unit: str = "USD/kg",
              digits: int = 2) -> str:
    """A range in one unit: "31–45%", "$1.0–1.4bn"; "−2.0% to 1.0%" when a bound is negative."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "n/a"
    s = scale_for([low, high], unit, price_unit)
    if unit == "price":
        digits = max(digits, 3)
    lo, hi = low / s.factor, high / s.factor
    # narrow intervals need more figures: "$4.47–4.53bn", never "$4.5–4.5bn"
    for extra in range(0, 3):
        d = _decimals(max(abs(lo), abs(hi)), digits + extra)
        if sig(lo, digits, d) != sig(hi, digits, d) or lo == hi:
            break
    if sig(lo, digits, d) == sig(hi, digits, d):  # all runs alike: one number, not "5–5"
        return _with_unit(sig(lo, digits, d), s)
    if low < 0 or high < 0:
        return f"{_with_unit(sig(lo, digits, d), s)} to {_with_unit(sig(hi, digits, d), s)}"
    return s.prefix + sig(lo, digits, d) + DASH + sig(hi, digits, d) + s.suffix


POINTS_UNITS = ("share", "1/yr^0.5")  # shown in %, so their differences are percentage points


def fmt_diff(value: float, unit: str, price_unit: str = "USD/kg", signed: bool = True) -> str:
    """A difference: "+6.6 kt/yr", "−$9.0bn"; in percentage points ("−24 pts") for shares."""
    if value is None or not math.isfinite(value):
        return "n/a"
    plus = "+" if signed and value > 0 else ""
    if unit in POINTS_UNITS:
        return plus + sig(100 * value, 2) + " pts"
    return plus + fmt(value, unit, price_unit)


def fmt_diff_range(low: float, high: float, unit: str, price_unit: str = "USD/kg") -> str:
    """An interval of a difference, in percentage points for shares ("−28 to −20 pts")."""
    if unit in POINTS_UNITS:
        return fmt_range(low, high, "share").replace("%", "") + " pts"
    return fmt_range(low, high, unit, price_unit)


def _with_unit(number: str, s: Scale) -> str:
    if number.startswith(MINUS):
        return MINUS + s.prefix + number[1:] + s.suffix
    return s.prefix + number + s.suffix


def fmt_pct(x: float, digits: int = 2, signed: bool = False) -> str:
    """A fraction as a percentage: 0.384 -> "38%" (signed: "+38%")."""
    if x is None or not math.isfinite(x):
        return "n/a"
    text = sig(100 * x, digits) + "%"
    return ("+" + text) if signed and x > 0 else text


def axis_title(label: str, scale: Scale) -> str:
    """"Fiscal cost (USD bn)": the label from abm.names with the chart's display unit."""
    return f"{label} ({scale.unit})" if scale.unit else label


def round_sig(values, digits: int = 4):
    """Round an array to `digits` significant figures: charts need no more, and pages stay small."""
    import numpy as np

    a = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where((a == 0) | ~np.isfinite(a), 0, np.floor(np.log10(np.abs(a))))
        factor = 10.0 ** (digits - 1 - mag)
        return np.where(np.isfinite(a), np.round(a * factor) / factor, np.nan)
