"""Small experiment configs built in code for tests."""

from __future__ import annotations

import copy
import os

from abm.experiment import experiment_from_dict

# The property tests' examples: the same on every machine in the default suite (CI included:
# a clean clone must pass or fail alike every time), random when ABM_PROPERTY_EXAMPLES asks
# for a deeper search (each such run then explores configs no earlier run saw)
DERANDOMIZE = "ABM_PROPERTY_EXAMPLES" not in os.environ

BASE = {
    "experiment": {"name": "t", "steps": 24, "seed": 1},
    "market": {"demand": {"reference_price": 60.0, "reference_quantity": 1200.0,
                          "elasticity": -0.5}},
    "regions": [{"name": "US", "club": True}, {"name": "China", "market_economy": False}],
    "producers": [
        {"name": "A", "region": "US", "stage": "refinery", "capacity": 600.0, "unit_cost": 40.0},
        {"name": "B", "region": "China", "stage": "refinery", "capacity": 600.0, "unit_cost": 50.0},
    ],
    "buyers": [{"name": "US buyers", "region": "US", "share": 0.5},
               {"name": "China buyers", "region": "China", "share": 0.5}],
}


def raw(**changes) -> dict:
    """BASE with dotted-key changes applied (e.g. raw(**{"market.price_cap": 90.0}))."""
    from abm.experiment import apply_overrides

    return apply_overrides(copy.deepcopy(BASE), changes, source="test", file=None)


def experiment(raw_config: dict | None = None, **changes):
    return experiment_from_dict(raw_config if raw_config is not None else BASE, changes or None)


def first_price(raw_config: dict, seed: int = 1) -> float:
    from abm.model import MineralMarket

    model = MineralMarket(experiment_from_dict(raw_config).scenario(), rng=seed)
    model.step()
    return float(model.series()["price"][0])


def run(raw_config: dict, steps: int | None = None, seed: int = 1):
    """A MineralMarket of `raw_config`, run for `steps` steps (all when None)."""
    from abm.model import MineralMarket

    model = MineralMarket(experiment_from_dict(raw_config).scenario(), rng=seed)
    if steps is None:
        model.run()
    else:
        for _ in range(steps):
            model.step()
    return model


def engine_raw(name: str, replications: int, seed: int) -> dict:
    """A small two-scenario experiment (baseline and a CFD at 55) for the engine's tests: one
    refinery, one buyer, 12 steps."""
    return {
        "experiment": {"name": name, "steps": 12, "replications": replications, "seed": seed},
        "market": {"demand": {"reference_price": 50.0, "reference_quantity": 1000.0,
                              "elasticity": -0.5}},
        "regions": [{"name": "US", "club": True}],
        "producers": [{"name": "R", "region": "US", "stage": "refinery", "capacity": 1200.0,
                       "unit_cost": 30.0}],
        "buyers": [{"name": "B", "region": "US", "share": 1.0}],
        "scenarios": {"baseline": {}, "floor": {"policy.floor.mechanism": "cfd",
                                                "policy.floor.level": 55.0,
                                                "policy.floor.covers": ["US"]}},
    }
