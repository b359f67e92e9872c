"""What a validation claim returns, and the small helpers the claims share.

A claim runs the model on a purpose-built scenario and judges the outcome with `Check`s. Its
`ClaimResult` carries what the page shows (source, expectation, produced numbers, a small plot)
and what the tests assert (each check by key).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Check:
    """One comparison of the model's output with the claim, with its tolerance stated."""

    key: str          # stable id the tests refer to
    text: str         # what is checked, in plain language, including the tolerance
    passed: bool
    detail: str       # the numbers behind the verdict


@dataclass
class Plot:
    """A small line or bar chart. `lines`: name -> (x, y); `lines2`: same on a right-hand axis."""

    title: str
    x_label: str
    y_label: str
    lines: dict[str, tuple[list, list]]
    kind: str = "lines"                      # "lines" | "bars"
    y2_label: str = ""
    lines2: dict[str, tuple[list, list]] = field(default_factory=dict)
    hlines: dict[str, float] = field(default_factory=dict)   # name -> level (reference lines)
    vlines: dict[str, float] = field(default_factory=dict)   # name -> x (events)


@dataclass
class ClaimResult:
    """The verdict on one claim."""

    key: str
    title: str
    source: str                  # where the expectation comes from (literature, history)
    expected: str                # the claim, as the source states it
    produced: dict[str, float]   # label (with unit) -> number the model produced
    checks: list[Check]
    plot: Plot | None = None
    known_failure: str = ""      # why the model as built does not reproduce the claim
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def check(self, key: str) -> Check:
        for c in self.checks:
            if c.key == key:
                return c
        raise KeyError(f"claim {self.key!r} has no check {key!r}")


def run_model(raw: dict, seed: int, record_output: bool = False):
    """Build and run a model from a raw config dict. With `record_output`, also return the
    producers' output per step (t/step, steps x producers)."""
    from abm.experiment import experiment_from_dict
    from abm.model import MineralMarket

    model = MineralMarket(experiment_from_dict(copy.deepcopy(raw)).scenario(), rng=seed)
    if not record_output:
        return model.run()
    rows = []
    while model.steps < model.n_steps:
        model.step()
        rows.append(model.book.output.copy())
    width = max(len(r) for r in rows)
    return model, np.array([np.pad(r, (0, width - len(r))) for r in rows])


def lag1_autocorrelation(x: np.ndarray) -> float:
    """Pearson correlation of log x_t with log x_{t-1}."""
    y = np.log(np.asarray(x, dtype=float))
    if np.std(y[:-1]) == 0 or np.std(y[1:]) == 0:
        return 0.0
    return float(np.corrcoef(y[:-1], y[1:])[0, 1])


def skewness(x: np.ndarray) -> float:
    """Sample skewness (third standardised moment, no bias correction) of x."""
    x = np.asarray(x, dtype=float)
    sd = x.std()
    return float(np.mean((x - x.mean()) ** 3) / sd**3) if sd > 0 else 0.0


def paired_gain(treated: np.ndarray, control: np.ndarray) -> tuple[float, float]:
    """Mean paired difference (treated - control) over replications and its standard error."""
    d = np.asarray(treated, dtype=float) - np.asarray(control, dtype=float)
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    return float(d.mean()), se


def rel_close(a, b, rel: float = 1e-9, abs_tol: float = 1e-9) -> bool:
    """Every a equals b up to floating-point accumulation (`rel` relative, `abs_tol` absolute)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(np.abs(a - b) <= abs_tol + rel * np.maximum(np.abs(a), np.abs(b))))


def pct(x: float) -> str:
    return f"{x:+.1%}"
