"""Check that a change left the model's results unchanged (not a test: a guard for optimisations).

    .venv/bin/python benchmarks/check_results.py                       # baseline seeds 0..4 vs
                                                                       # benchmarks/baseline_metrics.json
    .venv/bin/python benchmarks/check_results.py save /tmp/ref.json    # full reference, before
    .venv/bin/python benchmarks/check_results.py check /tmp/ref.json   # ... and after a change
    .venv/bin/python benchmarks/check_results.py check /tmp/ref.json --exact   # bit for bit

The default compares the baseline's metrics for seeds 0..4
(`abm.MineralMarket(abm.load_experiment("experiments/baseline.toml").scenario(), rng=s).run()
.metrics()`) with the values recorded before the performance work (issue 8). `save`/`check`
compare much more, to 1e-12 relative (`--exact`: bit for bit, NaN equal to NaN): metrics and
every series and accounting column of the baseline (seeds 0..4), of the baseline under each
policy instrument, export controls, supply outages and the predatory strategy, of a
two-stage variant with mines (with product and concentrate CFDs and rules of origin), of the
mineral presets, and of every scenario and every sweep point of every experiment in
experiments/ (seeds 0 and 1).
"""

from __future__ import annotations

import glob
import json
import math
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDED = Path(__file__).resolve().parent / "baseline_metrics.json"
REL = 1e-12

VARIANTS = {
    "cfd": {"policy.floor": {"mechanism": "cfd", "level": 80.0, "upside_share": 0.3,
                             "covers": ["US", "Australia"], "settlement": 3}},
    "purchase": {"policy.floor": {"mechanism": "purchase", "level": 65.0, "budget": 2e9,
                                  "capacity": 30000.0, "release_price": 100.0}},
    "mip": {"policy.floor": {"mechanism": "mip", "level": 75.0, "volume_cap": 20000.0}},
    "pct": {"policy.floor": {"mechanism": "cfd", "rule": "cost_percentile", "percentile": 75}},
    "indexed": {"policy.floor": {"mechanism": "cfd", "rule": "indexed", "level": 70.0}},
    "stock_off": {"policy.stockpile": {"buy_below": 55.0, "release_above": 90.0,
                                       "holding_cost": 300.0},
                  "policy.offtake": {"share": 0.5, "price_formula": "collar", "floor": 60.0,
                                     "ceiling": 90.0, "covers": ["US", "Australia"]}},
    "offtake_gov": {"policy.offtake": {"share": 0.4, "price": 70.0, "offtaker": "government",
                                       "take_or_pay": False}},
    "trade": {"policy.trade": {"tariff": 0.25, "rules_of_origin": 0.3},
              "policy.finance": {"hurdle_rate": 0.08, "lead_time_factor": 0.5}},
    "export": {"shocks": [{"kind": "export_control", "region": "China", "start": 24,
                           "duration": 24, "cut": 0.5, "announce": 12, "front_run": 0.5,
                           "licence_delay": 2},
                          {"kind": "supply_outage", "region": "Malaysia", "start": 60,
                           "duration": 6, "cut": 0.5}]},
    # (target_share is read only under market_share, the baseline's: its default elsewhere)
    "predatory": {"nonmarket.strategy": "predatory", "nonmarket.target_share": 0.0},
    "competitive_cap": {"nonmarket.strategy": "competitive", "nonmarket.target_share": 0.0,
                        "market.price_cap": 90.0},
}

MINES = [
    {"name": "Mine China", "region": "China", "stage": "mine", "capacity": 80000.0,
     "unit_cost": 10.0, "fixed_cost": 5e6},
    {"name": "Mine US", "region": "US", "stage": "mine", "capacity": 20000.0, "unit_cost": 18.0,
     "fixed_cost": 5e6},
    {"name": "Mine Aus", "region": "Australia", "stage": "mine", "capacity": 30000.0,
     "unit_cost": 14.0, "fixed_cost": 5e6},
]
MINE_VARIANTS = {
    "plain": {},
    "cfd": {"policy.floor": {"mechanism": "cfd", "level": 70.0, "covers": ["US", "Australia"]}},
    "cfdc": {"policy.floor": {"mechanism": "cfd", "level": 20.0, "stage": "concentrate",
                              "covers": ["US", "Australia"]}},
    "ro": {"policy.trade": {"tariff": 0.2, "rules_of_origin": 0.5}},
}


def baseline_metrics() -> dict:
    import abm

    config = abm.load_experiment(ROOT / "experiments" / "baseline.toml").scenario()
    return {str(s): abm.MineralMarket(config, rng=s).run().metrics() for s in range(5)}


def _record(out: dict, key: str, model) -> None:
    out[key] = model.metrics()
    frame = model.series(accounts=True)
    out[key + "/series"] = {c: [None if v is None else float(v) for v in frame[c].to_list()]
                            for c in frame.columns}


def collect() -> dict:
    import abm
    from abm.experiment import experiment_from_dict

    out: dict = {}
    base = ROOT / "experiments" / "baseline.toml"
    config = abm.load_experiment(base).scenario()
    for s in range(5):
        _record(out, f"baseline/{s}", abm.MineralMarket(config, rng=s).run())
    for name, overrides in VARIANTS.items():
        config = abm.load_experiment(base, overrides).scenario()
        for s in range(2):
            _record(out, f"variant:{name}/{s}", abm.MineralMarket(config, rng=s).run())
    raw = tomllib.loads(base.read_text())
    raw["market"]["intensity"] = 1.2
    raw["producers"] += MINES
    raw["investment"]["projects"].append({"name": "Mine project", "region": "Australia",
                                          "stage": "mine", "capacity": 15000, "unit_cost": 12.0,
                                          "capex": 20000, "lead_time": 48})
    for name, overrides in MINE_VARIANTS.items():
        config = experiment_from_dict(raw, overrides).scenario()
        for s in range(2):
            _record(out, f"mines:{name}/{s}", abm.MineralMarket(config, rng=s).run())
    for mineral in ("lithium", "cobalt", "graphite", "gallium", "ndpr"):
        config = abm.load_experiment(base, {"experiment.mineral": mineral}).scenario()
        for s in range(2):
            _record(out, f"mineral:{mineral}/{s}", abm.MineralMarket(config, rng=s).run())
    for path in sorted(glob.glob(str(ROOT / "experiments" / "*.toml"))):
        if path.endswith("baseline.toml"):
            continue
        exp = abm.load_experiment(path)
        for name in exp.scenario_names:
            for s in range(2):
                key = f"{Path(path).name}:{name}/{s}"
                _record(out, key, abm.MineralMarket(exp.scenario(name), rng=s).run())
        # ... and every sweep point of a swept scenario, with the config `abm run` gives it
        seen = set()
        for spec in exp.design():
            if not spec.params or (spec.scenario, spec.point) in seen:
                continue
            seen.add((spec.scenario, spec.point))
            config = exp.run_config(spec)
            for s in range(2):
                key = f"{Path(path).name}:{spec.scenario}/p{spec.point:04d}/{s}"
                _record(out, key, abm.MineralMarket(config, rng=s).run())
    return out


def same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= REL * max(abs(a), abs(b))


def compare(ref: dict, got: dict) -> int:
    bad = 0
    for key, value in ref.items():
        if key not in got:
            print(f"missing: {key}")
            bad += 1
            continue
        if key.endswith("/series"):
            for col, xs in value.items():
                ys = got[key].get(col)
                if ys is None or len(ys) != len(xs):
                    print(f"{key} {col}: column missing or of another length")
                    bad += 1
                    continue
                for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
                    if not same(x, y):
                        bad += 1
                        if bad <= 20:
                            print(f"{key} {col}[{i}]: {x!r} != {y!r}")
        else:
            for metric, x in value.items():
                if not same(x, got[key].get(metric)):
                    bad += 1
                    print(f"{key} {metric}: {x!r} != {got[key].get(metric)!r}")
    return bad


def main(argv: list[str]) -> int:
    global REL
    if not argv:
        ref = json.loads(RECORDED.read_text())["metrics"]
        bad = compare(ref, baseline_metrics())
        print(f"baseline seeds 0..4: {len(ref)} runs, {bad} metrics differ (rel > {REL:g})")
        return 1 if bad else 0
    if "--exact" in argv:
        argv = [a for a in argv if a != "--exact"]
        REL = 0.0
    mode, path = argv[0], Path(argv[1])
    got = collect()
    if mode == "save":
        path.write_text(json.dumps(got))
        print(f"saved {len(got)} entries to {path}")
        return 0
    ref = json.loads(path.read_text())
    bad = compare(ref, got)
    print(f"{len(ref)} entries compared, {bad} values differ (rel > {REL:g})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
