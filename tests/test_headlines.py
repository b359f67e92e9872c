"""The headline sentences say only what the intervals support, in the unit each outcome is read
in, and lead with the outcomes the experiment names (`[report] headline`)."""

from __future__ import annotations

import re
from html import unescape

import polars as pl

from abm.report import headlines


def paired(rows: dict[str, tuple[float, float, float, float]], scenario: str = "cfd") -> pl.DataFrame:
    """A paired-differences table: metric -> (baseline mean, diff mean, CI low, CI high); the
    relative columns are the differences over |baseline mean| (null when it is zero)."""
    out = []
    for metric, (base, d, lo, hi) in rows.items():
        scale = abs(base) if base else None
        out.append({"scenario": scenario, "metric": metric, "baseline_mean": base,
                    "scenario_mean": base + d, "diff_mean": d, "diff_ci_low": lo,
                    "diff_ci_high": hi, "n_pairs": 20,
                    "rel_diff": d / scale if scale else None,
                    "rel_ci_low": lo / scale if scale else None,
                    "rel_ci_high": hi / scale if scale else None})
    return pl.DataFrame(out)


def text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


# The issue's case: a fiscal "gain" of $183m whose 95% CI runs from -$393m to +$28m (zero inside),
# volatility clearly down 0.30 -> 0.22 (8 points, CI 6 to 10 points), capacity unclear.
ISSUE = {"price_volatility": (0.30, -0.08, -0.10, -0.06),
         "capacity_added_market": (3000.0, 500.0, -200.0, 1200.0),
         "fiscal_cost": (0.0, -183e6, -393e6, 28e6)}


def test_fiscal_interval_including_zero_reads_no_clear_change():
    effects = headlines.effects_for(paired(ISSUE), "cfd", "USD/kg")
    sentence = text(headlines.headline("cfd", effects, 20.0))
    assert "with no clear change in fiscal cost (\u2212$183m, 95% CI \u2212$393m to $28m)" \
        in sentence, sentence
    assert "gain" not in sentence and "at a fiscal cost" not in sentence
    # volatility is a percentage: its change is in percentage points (0.30 - 0.22 = 8 points)
    assert sentence.startswith("cfd cut price volatility by 8.0 percentage points (95% CI "
                               "6\u201310 pts)"), sentence
    assert "did not clearly change new market-economy capacity" in sentence


def test_no_clause_contradicts_the_list_under_it():
    """Each effect is 'clear' in the sentence exactly when it is in the list below it."""
    effects = headlines.effects_for(paired(ISSUE), "cfd", "USD/kg")
    sentence = text(headlines.headline("cfd", effects, 20.0))
    items = {m: text(i) for m, i in zip(effects, headlines.effect_items(effects), strict=True)}
    assert "no clear change" in items["fiscal_cost"] and "no clear change" in sentence
    assert "no clear change" in items["capacity_added_market"]
    assert "fell by 8.0 percentage points" in items["price_volatility"]


def test_clear_fiscal_gain_and_cost_are_stated_with_their_interval():
    gain = {"fiscal_cost": (0.0, -183e6, -393e6, -28e6)}
    cost = {"fiscal_cost": (1e8, 2e9, 1.5e9, 2.5e9)}
    g = text(headlines.headline("cfd", headlines.effects_for(paired(gain), "cfd", "USD/kg"), 10))
    c = text(headlines.headline("cfd", headlines.effects_for(paired(cost), "cfd", "USD/kg"), 10))
    assert g.endswith("with a fiscal gain of $183m (95% CI $28\u2013393m) over 10 years."), g
    # the baseline already costs $100m: the scenario's is an extra cost
    assert c.endswith("at an extra fiscal cost of $2.0bn (95% CI $1.5\u20132.5bn) over 10 "
                      "years."), c


def test_net_fiscal_cost_is_used_when_the_runs_have_it_and_the_headline_says_so():
    rows = {**ISSUE, "fiscal_cost": (0.0, 9e8, 8e8, 1e9),
            "fiscal_cost_net": (0.0, 4e8, 3e8, 5e8)}
    table = paired(rows)
    if "fiscal_cost_net" not in headlines.METRICS:   # the metric comes with issue 14 item 3
        table = table.filter(pl.col("metric") != "fiscal_cost_net")
        effects = headlines.effects_for(table, "cfd", "USD/kg")
        assert "fiscal_cost" in effects
        return
    effects = headlines.effects_for(table, "cfd", "USD/kg")
    assert "fiscal_cost_net" in effects and "fiscal_cost" not in effects
    sentence = text(headlines.headline("cfd", effects, 20.0))
    assert "net fiscal cost (outlay less the stocks held at the end) of $400m" in sentence


def test_an_experiment_names_its_own_headline_outcomes():
    """[report] headline = ["recycled_share", "price_p95"]: the sentence leads with them (the
    recycled share in percentage points: 1% -> 3.5% is +2.5 points), then the fiscal cost."""
    rows = {**ISSUE, "recycled_share": (0.01, 0.025, 0.02, 0.03),
            "price_p95": (100.0, -20.0, -25.0, -15.0)}
    outcomes = ["recycled_share", "price_p95"]
    effects = headlines.effects_for(paired(rows), "cfd", "USD/kg", outcomes)
    assert list(effects)[:2] == outcomes
    sentence = text(headlines.headline("cfd", effects, 20.0, outcomes))
    assert sentence.startswith("cfd raised recycled share of supply by 2.5 percentage points "
                               "(95% CI 2.0\u20133.0 pts) and lowered price, 95th percentile by "
                               "20% (95% CI 15\u201325%) with no clear change in fiscal cost"), \
        sentence
    assert "volatility" not in sentence


def test_a_difference_of_rounding_size_reads_no_change():
    # two scenarios whose runs differ only in the order of a sum: a mean price 63.9 in both,
    # differences of ~1e-15 relative, is no change, not "+0.0000000000000028%"
    effects = headlines.effects_for(paired({"price_mean": (63.9, 1.8e-13, -4e-13, 8e-13)}),
                                    "cfd", "USD/kg", ["price_mean"])
    assert "left mean price unchanged" in text(headlines.headline("cfd", effects, 20.0, ["price_mean"]))
    assert "no change" in text(headlines.effect_items(effects)[0])
    # a real difference of a billionth is still reported (1e-9 of 63.9 is well above rounding)
    effects = headlines.effects_for(paired({"price_mean": (63.9, 6.4e-8, 6e-8, 7e-8)}),
                                    "cfd", "USD/kg", ["price_mean"])
    assert "raised mean price by" in text(headlines.headline("cfd", effects, 20.0, ["price_mean"]))
