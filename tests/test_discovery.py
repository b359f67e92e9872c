"""PRIM (abm.discovery) on a synthetic Latin hypercube with a known box, and `abm discover`."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.stats import qmc

from abm.cli import main
from abm.discovery import get_quantile, lenient1, parse_criterion, prim


def synthetic(n: int = 1000, noise: float = 0.05, seed: int = 1):
    """Cases of interest where x1 > 0.7 and x3 < 0.4, `noise` of the labels flipped."""
    s = qmc.LatinHypercube(d=5, seed=seed).random(n)
    x = pl.DataFrame(s, schema=[f"x{i}" for i in range(1, 6)])
    true = (s[:, 0] > 0.7) & (s[:, 2] < 0.4)
    flip = np.random.default_rng(seed + 1).random(n) < noise
    return x, (true ^ flip).astype(int), true


def test_known_box_is_found():
    x, y, true = synthetic()
    res = prim(x, y, threshold=0.95)
    step = res.chosen_step()
    assert step is not None
    lims = res.limits(step)
    assert set(lims) == {"x1", "x3"}
    assert lims["x1"][0] == pytest.approx(0.7, abs=0.03)
    assert lims["x3"][1] == pytest.approx(0.4, abs=0.03)
    row = res.trajectory.row(step, named=True)
    true_cov, true_dens = y[true].sum() / y.sum(), y[true].mean()
    assert abs(row["coverage"] - true_cov) < 0.05
    assert abs(row["density"] - true_dens) < 0.05
    p = res.quasi_p(step)
    assert set(p) == {"x1", "x3"} and max(p.values()) < 1e-6
    stab = res.stability(step, iterations=10, seed=3)
    assert stab["x1"] >= 0.8 and stab["x3"] >= 0.8


def test_trajectory_conventions():
    x, y, _ = synthetic(n=400)
    res = prim(x, y, threshold=0.8)
    t = res.trajectory
    assert t.columns[:7] == ["step", "coverage", "density", "mass", "n", "k", "res_dim"]
    first = t.row(0, named=True)          # the starting box: all data, min to max
    assert first["mass"] == 1 and first["coverage"] == 1 and first["res_dim"] == 0
    assert res.limits(0) == {}
    assert res.box.limits(0, all_parameters=True)["x2"] == (x["x2"].min(), x["x2"].max())
    peel = t.filter(pl.col("phase") == "peel")
    assert (peel["mass"].diff().drop_nulls() < 0).all()      # peeling removes points
    assert (peel["density"].diff().drop_nulls() > 0).all()   # LENIENT1 > 0 at every peel
    assert peel["mass"].min() >= 0.05                         # mass_min
    # mass is n / all points and density k / n, every step
    assert (t["mass"] * 400 - t["n"]).abs().max() < 1e-9
    assert ((t["k"] / t["n"]) - t["density"]).abs().max() < 1e-12


def test_peel_alpha_and_mass_min_matter():
    x, y, _ = synthetic(n=400)
    a = prim(x, y, threshold=0.8, peel_alpha=0.05).trajectory
    b = prim(x, y, threshold=0.8, peel_alpha=0.2, mass_min=0.2).trajectory
    assert b.height < a.height
    assert b.filter(pl.col("phase") != "paste")["mass"].min() >= 0.2


def test_helpers():
    assert get_quantile(np.array([1.0, 2, 3, 4, 5]), 0.05) == 1.5
    assert get_quantile(np.array([1.0, 1, 1, 2, 3]), 0.05) == 1.5   # moved past ties
    assert get_quantile(np.array([1.0, 2, 3, 3, 3]), 0.95) == 2.5
    assert lenient1(np.array([0, 1, 0, 1]), np.array([1, 0, 1])) == pytest.approx(2 / 3 - 0.5)
    assert parse_criterion("a > 1 and b <= 2e3 or c < -1") == [
        [("a", ">", 1.0), ("b", "<=", 2000.0)], [("c", "<", -1.0)]]
    with pytest.raises(ValueError, match="METRIC OP NUMBER"):
        parse_criterion("a => 1")


@pytest.mark.parametrize("n, seed", [(500, 1), (1000, 4)])
def test_matches_ema_workbench(n, seed):
    """Checked with ema_workbench 2.5.3 (in a separate venv: it is not a dependency). EMA
    returns a one-row "dump box" when the last box misses the threshold; these cases do not."""
    prim_mod = pytest.importorskip("ema_workbench.analysis.prim")
    import pandas as pd

    x, y, _ = synthetic(n=n, seed=seed)
    ours = prim(x, y, threshold=0.8).trajectory
    theirs = prim_mod.Prim(pd.DataFrame(x.to_numpy(), columns=x.columns), y.astype(bool),
                           threshold=0.8).find_box().peeling_trajectory
    assert ours.height == len(theirs)
    np.testing.assert_allclose(ours["mass"], theirs["mass"])
    np.testing.assert_allclose(ours["coverage"], theirs["coverage"])
    np.testing.assert_allclose(ours["density"], theirs["density"])
    np.testing.assert_array_equal(ours["res_dim"], theirs["res_dim"])


def fake_results(tmp_path, n=300):
    """A results folder with a LHS sweep over two parameters; fiscal_cost high where
    policy.floor.percentile > 75 and market.demand.growth < 0.03."""
    out = tmp_path / "res"
    (out / "runs").mkdir(parents=True)
    s = qmc.LatinHypercube(d=2, seed=5).random(n)
    pct, growth = 50 + 40 * s[:, 0], 0.08 * s[:, 1]
    bad = (pct > 75) & (growth < 0.03)
    runs = pl.DataFrame({
        "run_id": [f"cfd/p{i:04d}/r0000" for i in range(n)], "scenario": "cfd",
        "point": list(range(n)), "replication": 0, "seed": 1, "status": "ok",
        "policy.floor.percentile": pct, "market.demand.growth": growth,
        "fiscal_cost": np.where(bad, 3e9, 1e8), "capacity_added_market": 9000.0})
    runs.write_parquet(out / "runs" / "part-0.parquet")
    config = {"experiment": {"name": "res"}, "sweep": {"design": "lhs", "parameters": {
        "policy.floor.percentile": {"low": 50, "high": 90},
        "market.demand.growth": {"low": 0.0, "high": 0.08}}},
        "discovery": {"criterion": ["fiscal_cost > 2e9", "capacity_added_market < 5000"]}}
    (out / "manifest.json").write_text(json.dumps({"kind": "abm results", "config": config,
                                                   "experiment": "res"}))
    return out


def test_discover_command(tmp_path, capsys):
    out = fake_results(tmp_path)
    assert main(["discover", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fiscal cost is above $2.0bn in 100% of runs where" in text
    assert "policy.floor.percentile is above 7" in text
    assert "market.demand.growth is below 0.0" in text
    assert "no run meets it" in text                        # the capacity criterion


def test_discover_no_box_exits_0(tmp_path, capsys):
    out = fake_results(tmp_path)
    assert main(["discover", str(out), "--criterion", "fiscal_cost > 1e12"]) == 0
    assert "no box of the swept parameters meets any criterion" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--criterion", "fiscal > 1"], "did you mean 'fiscal_cost'"),
    (["--criterion", "fiscal_cost >> 1"], "METRIC OP NUMBER"),
    (["--criterion", "unmet_demand > 1"], "the runs have no metric unmet_demand"),
])
def test_discover_bad_input_exits_2(tmp_path, capsys, args, message):
    out = fake_results(tmp_path)
    assert main(["discover", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_discover_not_a_results_folder(tmp_path, capsys):
    assert main(["discover", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def test_discover_without_sweep_exits_2(tmp_path, capsys):
    out = fake_results(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["config"]["sweep"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(["discover", str(out)]) == 2
    err = capsys.readouterr().err
    assert "has no [sweep]" in err and err.count("\n") == 1


def test_unknown_metric_in_the_config_names_the_key():
    from pydantic import ValidationError

    from abm.config import Discovery

    with pytest.raises(ValidationError, match="did you mean 'capacity_added_market'"):
        Discovery(criterion="capacity_added < 5000")


def test_criteria_are_not_in_the_config_hash():
    """Asking another question of stored runs must not make `abm run` recompute them."""
    from abm.experiment import load_experiment

    with_criteria = load_experiment("experiments/floor_levels.toml")
    other = load_experiment("experiments/floor_levels.toml",
                            {"discovery.criterion": "price_mean > 100", "discovery.threshold": 0.5})
    assert with_criteria.config.discovery is not None
    assert other.config.discovery.threshold == 0.5
    assert with_criteria.config_hash() == other.config_hash()
