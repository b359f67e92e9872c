"""Sweep designs and Sobol indices (abm.sweep)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from abm.config import Sweep
from abm.errors import ConfigError
from abm.experiment import HASH_EXCLUDED, experiment_from_dict
from abm.sweep import design_matrix, design_points, sobol_indices, sobol_size

PI = np.pi


def ranges(**bounds: tuple[float, float]) -> dict:
    return {k: {"low": lo, "high": hi} for k, (lo, hi) in bounds.items()}


def test_grid_is_full_cross_product_in_parameter_order():
    sweep = Sweep(design="grid", parameters={"a.x": [1.0, 2.0], "b.y": [10.0, 20.0, 30.0]})
    points = design_points(sweep, seed=1)
    assert points == [{"a.x": a, "b.y": b} for a in (1.0, 2.0) for b in (10.0, 20.0, 30.0)]
    assert list(points[0]) == ["a.x", "b.y"]


def test_lhs_points_lie_in_their_ranges_and_stratify_each_dimension():
    sweep = Sweep(design="lhs", samples=50,
                  parameters=ranges(**{"p.a": (-0.8, -0.2), "p.b": (60.0, 140.0)}))
    x = design_matrix(sweep, seed=3)
    assert x.shape == (50, 2)
    assert ((x[:, 0] >= -0.8) & (x[:, 0] <= -0.2)).all()
    assert ((x[:, 1] >= 60.0) & (x[:, 1] <= 140.0)).all()
    # Latin hypercube: each of the 50 equal strata of each range holds exactly one point
    for col, (lo, hi) in enumerate([(-0.8, -0.2), (60.0, 140.0)]):
        strata = np.floor((x[:, col] - lo) / (hi - lo) * 50).astype(int)
        assert sorted(strata) == list(range(50))


def test_designs_are_reproducible_from_the_seed_and_differ_between_seeds():
    sweep = Sweep(design="lhs", samples=8, parameters=ranges(a=(0.0, 1.0), b=(0.0, 1.0)))
    assert design_points(sweep, 5) == design_points(sweep, 5)
    assert design_points(sweep, 5) != design_points(sweep, 6)


def test_sobol_design_has_saltelli_structure_and_size():
    d, n = 3, 16
    sweep = Sweep(design="sobol", samples=n, parameters=ranges(a=(0.0, 1.0), b=(5.0, 6.0),
                                                               c=(-2.0, 2.0)))
    x = design_matrix(sweep, seed=11)
    assert x.shape == (sobol_size(d, n), d) == (n * (2 * d + 2), d)
    assert ((x >= [0, 5, -2]) & (x <= [1, 6, 2])).all()
    blocks = x.reshape(n, 2 * d + 2, d)
    a, b = blocks[:, 0], blocks[:, -1]
    for i in range(d):
        ab, ba = blocks[:, 1 + i], blocks[:, 1 + d + i]
        others = [j for j in range(d) if j != i]
        np.testing.assert_array_equal(ab[:, others], a[:, others])
        np.testing.assert_array_equal(ab[:, i], b[:, i])
        np.testing.assert_array_equal(ba[:, others], b[:, others])
        np.testing.assert_array_equal(ba[:, i], a[:, i])


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_truth(a: float = 7.0, b: float = 0.1) -> tuple[list[float], list[float]]:
    v = a**2 / 8 + b * PI**4 / 5 + b**2 * PI**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * PI**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * PI**8 * (1 / 18 - 1 / 50)
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def test_sobol_indices_recover_ishigami_within_confidence_intervals():
    sweep = Sweep(design="sobol", samples=1024, parameters=ranges(x1=(-PI, PI), x2=(-PI, PI),
                                                                  x3=(-PI, PI)))
    x = design_matrix(sweep, seed=2026)
    got = sobol_indices(sweep, ishigami(x), n_boot=500, seed=1)
    s1_true, st_true = ishigami_truth()
    assert got["parameter"].to_list() == ["x1", "x2", "x3"]
    np.testing.assert_allclose(s1_true, [0.314, 0.442, 0.0], atol=1e-3)
    np.testing.assert_allclose(st_true, [0.558, 0.442, 0.244], atol=1e-3)
    for row, s1, st in zip(got.iter_rows(named=True), s1_true, st_true, strict=True):
        assert abs(row["S1"] - s1) <= row["S1_conf"], row
        assert abs(row["ST"] - st) <= row["ST_conf"], row
        # the intervals are informative, not trivially wide
        assert 0 < row["S1_conf"] < 0.1 and 0 < row["ST_conf"] < 0.1


def test_sobol_indices_of_an_additive_linear_model_are_its_variance_shares():
    sweep = Sweep(design="sobol", samples=256, parameters=ranges(a=(0.0, 1.0), b=(0.0, 1.0)))
    x = design_matrix(sweep, seed=4)
    got = sobol_indices(["a", "b"], 3.0 * x[:, 0] + 1.0 * x[:, 1], n_boot=200)
    np.testing.assert_allclose(got["S1"].to_numpy(), [0.9, 0.1], atol=0.03)
    np.testing.assert_allclose(got["ST"].to_numpy(), [0.9, 0.1], atol=0.03)


def test_sobol_indices_drop_blocks_with_missing_outputs():
    sweep = Sweep(design="sobol", samples=256, parameters=ranges(a=(0.0, 1.0), b=(0.0, 1.0)))
    x = design_matrix(sweep, seed=4)
    y = 3.0 * x[:, 0] + 1.0 * x[:, 1]
    y[7] = np.nan                 # one failed point removes its block of 2D+2 = 6 points
    got = sobol_indices(["a", "b"], y, n_boot=50)
    assert got["S1"].is_not_null().all()
    np.testing.assert_allclose(got["S1"].to_numpy(), [0.9, 0.1], atol=0.03)


def test_sobol_indices_refuse_outputs_that_do_not_fit_the_design():
    with pytest.raises(ValueError, match="multiple of 6"):
        sobol_indices(["a", "b"], np.zeros(13))


def test_sobol_indices_are_null_for_a_constant_output():
    got = sobol_indices(["a"], np.ones(4 * 8), n_boot=20)
    assert got["S1"].is_null().all() and got["ST"].is_null().all()


# --------------------------------------------------------------------------------------------------
# which scenarios a sweep applies to (abm.experiment)
# --------------------------------------------------------------------------------------------------

BASE_TOML = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"


def floor_sweep(**sweep) -> dict:
    raw = tomllib.loads(BASE_TOML.read_text())
    raw["experiment"].update(replications=2, steps=12)
    raw["scenarios"] = {"baseline": {}, "cfd": {"policy.floor.mechanism": "cfd",
                                                "policy.floor.rule": "cost_percentile"}}
    raw["sweep"] = {"design": "grid", **sweep,
                    "parameters": {"policy.floor.percentile": [50.0, 70.0, 90.0]}}
    return raw


def test_a_sweep_parameter_applies_where_its_table_exists():
    exp = experiment_from_dict(floor_sweep())
    assert exp.swept("cfd") == ["policy.floor.percentile"] and exp.swept("baseline") == []
    specs = exp.design()
    assert len(specs) == 2 * 3 * 2            # every scenario runs at every point (paired)
    assert {s.point for s in specs if s.scenario == "baseline"} == {0, 1, 2}
    assert all(s.params == {} for s in specs if s.scenario == "baseline")
    levels = [exp.run_config(s).policy.floor.percentile for s in specs
              if s.scenario == "cfd" and s.replication == 0]
    assert levels == [50.0, 70.0, 90.0]
    assert exp.run_config(specs[0]).policy.floor is None
    assert exp.check_design() == 6


def test_sweep_scenarios_names_the_scenarios_it_applies_to():
    exp = experiment_from_dict(floor_sweep(scenarios=["cfd"]))
    assert exp.swept("cfd") == ["policy.floor.percentile"] and exp.swept("baseline") == []
    with pytest.raises(ConfigError, match=r"\[sweep\] point 0 .* in scenario baseline"):
        experiment_from_dict(floor_sweep(scenarios=["baseline", "cfd"])).check_design()


def test_a_parameter_whose_table_exists_everywhere_applies_to_every_scenario():
    raw = floor_sweep()
    raw["sweep"]["parameters"]["market.demand.elasticity"] = [-0.5]
    exp = experiment_from_dict(raw)
    assert exp.swept("baseline") == ["market.demand.elasticity"]
    assert exp.swept("cfd") == ["policy.floor.percentile", "market.demand.elasticity"]
    spec = next(s for s in exp.design() if s.scenario == "baseline")
    assert exp.run_config(spec).market.demand.elasticity == -0.5


def test_the_hash_of_a_sweep_without_scenarios_is_the_hash_from_before_the_key():
    """Results folders of sweeps stored before `sweep.scenarios` existed keep their hash."""
    plain, named = (experiment_from_dict(floor_sweep(**kw)) for kw in ({}, {"scenarios": ["cfd"]}))
    data = plain.resolved()
    assert data["sweep"].pop("scenarios") is None
    assert data.pop("discovery") is None     # [discovery] changes no run: never in the hash
    # [report], added later, at its defaults leaves the hash as it was before it (and what the
    # pages lead with changes no run)
    assert data.pop("report") == {"headline": None, "discount_rate": 0.035, "risk_period": 3}
    for table, key in HASH_EXCLUDED:
        data[table].pop(key)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert plain.config_hash() == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert plain.config_hash() != named.config_hash()
