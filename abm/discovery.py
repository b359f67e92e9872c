"""Scenario discovery with PRIM (Friedman & Fisher 1999; Bryant & Lempert 2010).

``prim(x, y, threshold=...)`` finds boxes (a low and a high limit per parameter) in which the
cases of interest (``y == 1``) are dense. It follows the EMA Workbench's ``prim.Prim`` (version
2.x) conventions, so its trajectories can be compared with it:

- the starting box is the data's min and max per parameter;
- peeling: for each parameter, two candidates, keeping the points at or above the
  ``peel_alpha`` quantile or at or below the ``1 - peel_alpha`` quantile of the points in the
  box (EMA's ``get_quantile``: a midpoint between sorted values, moved past ties); the LENIENT1
  objective (gain in the mean per point removed) picks one, ties going to the candidate leaving
  more parameters unrestricted, then to the first in parameter order, upper before lower; peeling
  stops when the best candidate's mass falls below ``mass_min`` or it gains nothing;
- pasting: for each restricted parameter, widen one side by the ``paste_alpha`` quantile of the
  points in the slab outside it, while the mean grows;
- coverage = cases of interest in the box / all cases of interest; density = their share in the
  box; mass = points in the box / all points;
- quasi-p-value of a restricted parameter: one-sided binomial test of the box's cases of interest
  against the density of the box without that parameter's limits (EMA ``_calculate_quasip``);
- further boxes are searched on the points outside the earlier boxes (``Prim.find_box``).

Only numeric parameters (what the sweeps produce). Written here (numpy, polars, scipy) instead
of depending on the EMA Workbench (~260 MB of plotting and statistics packages).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl

TRAJECTORY_COLUMNS = ["step", "coverage", "density", "mass", "n", "k", "res_dim"]


def get_quantile(data: np.ndarray, quantile: float) -> float:
    """EMA Workbench's quantile: the midpoint of the two sorted values around position
    (n - 1) * quantile, moved outwards past equal values so the cut separates distinct values."""
    data = np.sort(np.asarray(data, dtype=float))
    i = (len(data) - 1) * quantile
    lo, hi = int(np.floor(i)), int(np.ceil(i))
    if quantile > 0.5:
        while data[lo] == data[hi] and lo > 0:
            lo -= 1
    else:
        while data[lo] == data[hi] and hi < len(data) - 1:
            hi += 1
    return float((data[lo] + data[hi]) / 2)


def lenient1(y_old: np.ndarray, y_new: np.ndarray) -> float:
    """Gain in the mean per point removed (or added)."""
    mean_old = float(np.mean(y_old))
    mean_new = float(np.mean(y_new)) if y_new.size else 0.0
    if mean_old == mean_new or y_old.size == y_new.size:
        return 0.0
    return (mean_new - mean_old) / abs(y_old.size - y_new.size)


def in_box(x: np.ndarray, lims: np.ndarray) -> np.ndarray:
    """Rows of x inside lims (2 x d: low row, high row), bounds included."""
    return np.all((x >= lims[0]) & (x <= lims[1]), axis=1)


def _restricted(lims: np.ndarray, init: np.ndarray) -> np.ndarray:
    return (lims[0] != init[0]) | (lims[1] != init[1])


@dataclass
class Box:
    """One box: its limits at every step of the peeling and pasting (``lims[step]``)."""

    parameters: list[str]
    init: np.ndarray                       # 2 x d starting box
    lims: list[np.ndarray] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    indices: list[np.ndarray] = field(default_factory=list)  # indices of the points in each step

    @property
    def trajectory(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema={"step": pl.Int64, "coverage": pl.Float64,
                                               "density": pl.Float64, "mass": pl.Float64,
                                               "n": pl.Int64, "k": pl.Int64,
                                               "res_dim": pl.Int64, "phase": pl.String})

    def limits(self, step: int | None = None, *, all_parameters: bool = False) -> dict:
        """parameter -> (low, high) of the restricted parameters at `step` (default: the last);
        every parameter with `all_parameters`."""
        lims = self.lims[len(self.lims) - 1 if step is None else step]
        keep = _restricted(lims, self.init)
        return {p: (float(lims[0, j]), float(lims[1, j])) for j, p in enumerate(self.parameters)
                if all_parameters or keep[j]}


@dataclass
class PrimResult:
    """The boxes found, first box first; ``trajectory`` and ``limits`` speak for the first."""

    x: np.ndarray
    y: np.ndarray
    parameters: list[str]
    threshold: float
    boxes: list[Box]
    settings: dict = field(default_factory=dict)   # peel_alpha, paste_alpha, mass_min

    @property
    def box(self) -> Box:
        return self.boxes[0]

    @property
    def trajectory(self) -> pl.DataFrame:
        return self.box.trajectory

    def limits(self, step: int | None = None) -> dict:
        return self.box.limits(step)

    def chosen_step(self, box: int = 0) -> int | None:
        """The step with the highest coverage among those with density >= threshold and at
        least one restriction (ties: the later, denser step); None when no step qualifies."""
        rows = [r for r in self.boxes[box].rows
                if r["density"] >= self.threshold and r["res_dim"] > 0]
        if not rows:
            return None
        return max(rows, key=lambda r: (r["coverage"], r["step"]))["step"]

    def quasi_p(self, step: int | None = None, box: int = 0) -> dict[str, float]:
        """parameter -> quasi-p-value of its limits at `step` (restricted parameters only)."""
        from scipy.stats import binomtest

        b = self.boxes[box]
        step = len(b.lims) - 1 if step is None else step
        lims, row = b.lims[step], b.rows[step]
        out = {}
        for j in np.flatnonzero(_restricted(lims, b.init)):
            wider = lims.copy()
            wider[:, j] = b.init[:, j]
            yi = self.y[in_box(self.x, wider)]
            p = float(np.sum(yi)) / yi.size
            out[self.parameters[j]] = float(binomtest(int(row["k"]), int(row["n"]), p,
                                                      alternative="greater").pvalue)
        return out

    def stability(self, step: int | None = None, *, iterations: int = 20, fraction: float = 0.5,
                  seed: int = 0, box: int = 0) -> dict[str, float]:
        """parameter -> share of seeded resamples (`fraction` of the points, without
        replacement) whose box, chosen as ``chosen_step`` chooses, restricts that parameter."""
        rng = np.random.default_rng(seed)
        counts = dict.fromkeys(self.parameters, 0)
        n = self.y.size
        for _ in range(iterations):
            pick = rng.choice(n, size=max(2, int(n * fraction)), replace=False)
            sub = _find(self.x[pick], self.y[pick], self.parameters, 1, **self.settings)
            if not sub:
                continue
            res = PrimResult(self.x[pick], self.y[pick], self.parameters, self.threshold, sub)
            s = res.chosen_step()
            for p in (res.box.limits(s) if s is not None else {}):
                counts[p] += 1
        return {p: c / iterations for p, c in counts.items()}


def _peel(x, y, box_idx, lims, init, peel_alpha):
    """Candidate peels: (indices kept, new limits) for each parameter, upper then lower."""
    out = []
    xb = x[box_idx]
    for j in range(x.shape[1]):
        for side, alpha in ((1, 1 - peel_alpha), (0, peel_alpha)):
            cut = get_quantile(xb[:, j], alpha)
            keep = xb[:, j] <= cut if side == 1 else xb[:, j] >= cut
            new = lims.copy()
            new[side, j] = cut
            out.append((box_idx[keep], new))
    return out


def _paste(x, remaining, lims, init, paste_alpha):
    out = []
    xr = x[remaining]
    for j in np.flatnonzero(_restricted(lims, init)):
        for side in (1, 0):
            slab = lims.copy()
            if side == 1:
                slab[:, j] = lims[1, j], init[1, j]
            else:
                slab[:, j] = init[0, j], lims[0, j]
            data = xr[in_box(xr, slab), j]
            new = lims.copy()
            if side == 1:
                new[1, j] = get_quantile(data, paste_alpha) if data.size else init[1, j]
            else:
                new[0, j] = get_quantile(data, 1 - paste_alpha) if data.size else init[0, j]
            out.append((remaining[in_box(xr, new)], new))
    return out


def _best(y, box_idx, candidates, init):
    """The candidate with the best LENIENT1 score, then the most unrestricted parameters, then
    the first (Python's stable sort, as EMA's ``scores.sort(key=itemgetter(0, 1),
    reverse=True)``)."""
    d = init.shape[1]
    scores = [(lenient1(y[box_idx], y[idx]), d - int(_restricted(new, init).sum()), k)
              for k, (idx, new) in enumerate(candidates)]
    scores.sort(key=lambda s: (s[0], s[1]), reverse=True)
    obj, _, k = scores[0]
    return obj, candidates[k]


def _record(box, idx, lims, y, n_all, t_coi, phase):
    k = int(np.sum(y[idx]))
    box.lims.append(lims)
    box.indices.append(idx)
    box.rows.append({"step": len(box.rows), "coverage": k / t_coi if t_coi else 0.0,
                     "density": k / idx.size if idx.size else 0.0, "mass": idx.size / n_all,
                     "n": int(idx.size), "k": k,
                     "res_dim": int(_restricted(lims, box.init).sum()), "phase": phase})


def _find(x, y, parameters, max_boxes, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05,
          threshold=0.0) -> list[Box]:
    n_all = y.size
    t_coi = int(np.sum(y))
    init = np.vstack([x.min(axis=0), x.max(axis=0)])
    remaining = np.arange(n_all)
    boxes = []
    while len(boxes) < max_boxes and remaining.size and np.sum(y[remaining]) > 0:
        box = Box(parameters, init)
        idx, lims = remaining, init.copy()
        _record(box, idx, lims, y, n_all, t_coi, "start")
        while True:                                          # peeling
            obj, (new_idx, new_lims) = _best(y, idx, _peel(x, y, idx, lims, init, peel_alpha),
                                             init)
            if new_idx.size / n_all >= mass_min and new_idx.size < idx.size and obj > 0:
                idx, lims = new_idx, new_lims
                _record(box, idx, lims, y, n_all, t_coi, "peel")
            else:
                break
        while True:                                          # pasting
            cands = _paste(x, remaining, lims, init, paste_alpha)
            if not cands:
                break
            obj, (new_idx, new_lims) = _best(y, idx, cands, init)
            if (new_idx.size / n_all >= mass_min and new_idx.size > idx.size and obj > 0
                    and np.mean(y[new_idx]) > np.mean(y[idx])):
                idx, lims = new_idx, new_lims
                _record(box, idx, lims, y, n_all, t_coi, "paste")
            else:
                break
        boxes.append(box)
        if box.rows[-1]["density"] < threshold:
            break                     # EMA: a box below the threshold ends the search
        remaining = np.setdiff1d(remaining, idx)
    return boxes


def prim(x: pl.DataFrame, y, *, threshold: float, peel_alpha: float = 0.05,
         paste_alpha: float = 0.05, mass_min: float = 0.05, max_boxes: int = 1) -> PrimResult:
    """PRIM on parameters `x` (a polars DataFrame of numeric columns) and cases of interest `y`
    (0/1 or bool, one per row). `threshold`: the least density of a box worth reporting
    (``PrimResult.chosen_step``; a further box is searched only after one that reaches it).
    """
    if not isinstance(x, pl.DataFrame):
        raise TypeError("x must be a polars DataFrame")
    parameters = list(x.columns)
    xa = x.select(pl.all().cast(pl.Float64)).to_numpy()
    ya = np.asarray(y, dtype=float).ravel()
    if ya.size != xa.shape[0]:
        raise ValueError(f"x has {xa.shape[0]} rows but y has {ya.size} values")
    if not np.isin(ya, (0.0, 1.0)).all():
        raise ValueError("y must be 0/1")
    if np.isnan(xa).any():
        raise ValueError("x has missing values")
    if not 0 < peel_alpha < 0.5 or not 0 < paste_alpha < 0.5 or not 0 < mass_min < 1:
        raise ValueError("peel_alpha and paste_alpha must lie in (0, 0.5), mass_min in (0, 1)")
    boxes = _find(xa, ya, parameters, max_boxes, peel_alpha, paste_alpha, mass_min, threshold)
    if not boxes:   # no case of interest: the starting box, with density 0
        box = Box(parameters, np.vstack([xa.min(axis=0), xa.max(axis=0)]))
        _record(box, np.arange(ya.size), box.init.copy(), ya, ya.size, 0, "start")
        boxes = [box]
    return PrimResult(xa, ya, parameters, threshold, boxes,
                      {"peel_alpha": peel_alpha, "paste_alpha": paste_alpha, "mass_min": mass_min})


# -------------------------------------------------------------------------------------------------
# criteria: "fiscal_cost > 2e9", "capacity_added_market < 5000 or import_reliance >= 0.6"
# -------------------------------------------------------------------------------------------------

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|>|<)\s*([-+0-9.eE_]+)\s*$")


def parse_criterion(text: str) -> list[list[tuple[str, str, float]]]:
    """'a > 1 and b < 2 or c >= 3' -> [[(a, >, 1), (b, <, 2)], [(c, >=, 3)]] ('and' binds
    tighter than 'or'). Raises ValueError naming what it could not read."""
    groups = []
    for part in re.split(r"\s+or\s+", text.strip()):
        conds = []
        for piece in re.split(r"\s+and\s+", part):
            m = _CONDITION.match(piece)
            if not m:
                raise ValueError(f"cannot read '{piece.strip()}': write METRIC OP NUMBER with OP "
                                 "one of > >= < <= (conditions joined by 'and' / 'or')")
            try:
                value = float(m.group(3).replace("_", ""))
            except ValueError:
                raise ValueError(f"'{m.group(3)}' in '{piece.strip()}' is not a number") from None
            conds.append((m.group(1), m.group(2), value))
        groups.append(conds)
    return groups


def criterion_metrics(text: str) -> list[str]:
    return list(dict.fromkeys(c[0] for g in parse_criterion(text) for c in g))


def criterion_expr(text: str) -> pl.Expr:
    """A polars boolean expression of the criterion (null metrics count as not meeting it)."""
    expr = None
    for group in parse_criterion(text):
        g = None
        for metric, op, value in group:
            c = OPS[op](pl.col(metric), value).fill_null(False)
            g = c if g is None else g & c
        expr = g if expr is None else expr | g
    return expr
