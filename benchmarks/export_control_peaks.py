"""Issue 15's numbers for an export control: the no_stockpile scenario of
experiments/stockpile_export_control.toml over N of the experiment's run seeds (env N, default
50): the ratio of the peak monthly outside (world) price during the control to its mean over the
12 months before the announcement (median, p95, max), and the restricting region's own price
during the control against that mean (before the announcement one market: the world price).

    .venv/bin/python benchmarks/export_control_peaks.py [dotted.key=TOML_VALUE ...]

With env CUTS="0.1,0.3,0.5,0.7" it runs each seed at every cut instead (paired seeds) and
prints the median peak ratio per cut and how many seeds' peaks rise with the cut.
"""

import os
import sys
import tomllib

import numpy as np

from abm.config import ExperimentConfig
from abm.experiment import load_experiment, run_seed
from abm.model import MineralMarket


def with_overrides(raw: dict, args: list[str]) -> dict:
    """`raw` with each dotted.key=TOML_VALUE set (array items by index)."""
    for arg in args:
        key, text = arg.split("=", 1)
        value = tomllib.loads(f"x = {text}")["x"]
        node, parts = raw, key.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    return raw


def measure(cfg, rep: int) -> tuple[float, float]:
    """(peak outside price during the control / mean before, home price during / mean - 1)."""
    shock = next(s for s in cfg.shocks if s.kind == "export_control")
    before = slice(shock.announce - 12, shock.announce)
    during = slice(shock.start, shock.start + shock.duration)
    s = MineralMarket(cfg, rng=run_seed(cfg.experiment.seed, rep)).run().series()
    price, own = s["price"].to_numpy(), s["export_region_price"].to_numpy()
    return price[during].max() / price[before].mean(), own[during].mean() / price[before].mean() - 1


def main(args: list[str]) -> None:
    exp = load_experiment("experiments/stockpile_export_control.toml")
    raw = with_overrides(exp.scenario("no_stockpile").model_dump(exclude_none=True), args)
    n = int(os.environ.get("N", "50"))
    if os.environ.get("CUTS"):
        cuts = [float(c) for c in os.environ["CUTS"].split(",")]
        peaks = np.array([[measure(ExperimentConfig.model_validate(
            with_overrides(raw, [f"shocks.0.cut={c}"])), rep)[0] for c in cuts] for rep in range(n)])
        print("cut:          " + "  ".join(f"{c:6.2f}" for c in cuts))
        print("median peak:  " + "  ".join(f"{m:6.2f}" for m in np.median(peaks, axis=0)))
        steps = np.diff(peaks, axis=1)
        print(f"seeds whose peak never falls as the cut grows: {int((steps >= 0).all(axis=1).sum())}"
              f" of {n}; rises at every step: {int((steps > 0).all(axis=1).sum())} of {n}")
        return
    cfg = ExperimentConfig.model_validate(raw)
    ratios, home = zip(*(measure(cfg, rep) for rep in range(n)), strict=True)
    r, h = np.array(ratios), np.array(home) * 100
    print(f"peak outside / pre mean: median {np.median(r):.2f}  p95 {np.percentile(r, 95):.2f}  "
          f"max {r.max():.1f}")
    print(f"home price during / pre: median {np.median(h):+.1f}%  p05 {np.percentile(h, 5):+.1f}%"
          f"  p95 {np.percentile(h, 95):+.1f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
