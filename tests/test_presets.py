"""Mineral presets: each loads under a minimal experiment, runs, clears at its reference price,
and cites a source (or says ASSUMPTION) beside every number."""

from __future__ import annotations

import math
import re
import tomllib

import pytest

import abm
from abm.experiment import PRESET_DIR
from abm.simulate import simulate

REQUIRED = {"ndpr", "lithium", "cobalt", "gallium", "graphite"}
PRESETS = sorted(p.stem for p in PRESET_DIR.glob("*.toml"))
ALLOWED_TABLES = {"market", "regions", "producers", "buyers", "investment", "nonmarket"}


def minimal(tmp_path, mineral: str, extra: str = ""):
    path = tmp_path / "x.toml"
    path.write_text(f'[experiment]\nname = "x"\nmineral = "{mineral}"\nsteps = 24\n{extra}')
    return path


def test_required_presets_exist():
    assert REQUIRED <= set(PRESETS)


@pytest.mark.parametrize("mineral", PRESETS)
def test_preset_loads_under_a_minimal_experiment(tmp_path, mineral):
    config = abm.load_experiment(minimal(tmp_path, mineral)).scenario("base")
    assert config.experiment.mineral == mineral
    assert any(p.stage == "refinery" for p in config.producers)
    assert math.isclose(sum(b.share for b in config.buyers), 1.0)
    assert {r.market_economy for r in config.regions} == {True, False}
    assert config.investment.enabled and config.investment.projects  # presets carry a pipeline


@pytest.mark.parametrize("mineral", PRESETS)
def test_preset_runs(tmp_path, mineral):
    config = abm.load_experiment(minimal(tmp_path, mineral)).scenario("base")
    result = simulate(config, 1)
    price = result.series["price"].to_numpy()
    assert len(price) == 24
    assert (price > 0).all() and all(math.isfinite(p) for p in price)
    assert result.metrics["consumer_spend"] > 0


@pytest.mark.parametrize("mineral", PRESETS)
def test_preset_market_clears_at_its_reference_price_without_growth(tmp_path, mineral):
    exp = abm.load_experiment(minimal(tmp_path, mineral),
                              overrides={"market.demand.growth": 0.0, "experiment.steps": 3})
    config = exp.scenario("base")
    series = simulate(config, 1).series
    assert series["price"].to_list() == pytest.approx([config.market.demand.reference_price] * 3,
                                                       rel=1e-6)


@pytest.mark.parametrize("mineral", PRESETS)
def test_preset_has_only_model_tables_and_no_experiment_table(mineral):
    raw = tomllib.loads((PRESET_DIR / f"{mineral}.toml").read_text())
    assert "experiment" not in raw
    assert set(raw) <= ALLOWED_TABLES


@pytest.mark.parametrize("mineral", PRESETS)
def test_every_number_in_a_preset_cites_a_source_or_says_assumption(mineral):
    number = re.compile(r"^\s*[A-Za-z_]+\s*=\s*-?[0-9][0-9_.eE+-]*\s*(#.*)?$")
    missing = []
    for lineno, line in enumerate((PRESET_DIR / f"{mineral}.toml").read_text().splitlines(), 1):
        match = number.match(line)
        if not match:
            continue
        comment = match.group(1) or ""
        if "ASSUMPTION" not in comment and not re.search(r"\(.+\)|https?://", comment):
            missing.append(f"line {lineno}: {line.strip()}")
    assert not missing, "numbers without a source or ASSUMPTION label:\n" + "\n".join(missing)


def test_experiment_tables_override_the_preset_key_by_key(tmp_path):
    path = minimal(tmp_path, "ndpr", "[market.demand]\nreference_price = 110.0\n")
    config = abm.load_experiment(path).scenario("base")
    assert config.market.demand.reference_price == 110.0
    assert config.market.demand.reference_quantity == 90000  # the rest of the table survives
