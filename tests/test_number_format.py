"""One number formatter for the terminal summary and the pages (abm.report.format.fmt)."""

from __future__ import annotations

import polars as pl

from abm.engine.console import headline_table
from abm.report.format import MINUS, fmt


def test_pages_and_terminal_round_alike_and_differ_only_in_the_minus_sign():
    assert fmt(-4.369e8, "USD") == MINUS + "$437m"
    assert fmt(-4.369e8, "USD", minus="-") == "-$437m"
    for value, unit in ((1.23e9, "USD"), (-0.052, "share"), (12_345.0, "t/yr"), (-62.44, "price")):
        assert fmt(value, unit, minus="-") == fmt(value, unit).replace(MINUS, "-")


def test_terminal_summary_uses_the_pages_formatter():
    runs = pl.DataFrame({"scenario": ["baseline", "cfd"], "status": ["ok", "ok"],
                         "price_mean": [62.44, 70.1], "fiscal_cost": [0.0, -4.369e8],
                         "capacity_added_market": [12_345.0, None]})
    lines = headline_table(runs, "USD/kg")
    assert "Mean price (USD/kg)" in lines[0] and "Fiscal cost (USD)" in lines[0]
    baseline, cfd = lines[1].split(), lines[2].split()
    assert "-$437m" in cfd and "$-436.9m" not in lines[2] and MINUS not in lines[2]
    assert "12 kt/yr" in lines[1] and "62.4" in baseline and "n/a" in cfd


def test_volatility_has_one_unit_in_the_terminal_and_on_the_axes():
    """0.34 annualised is '34%' under a '% per year' header in the terminal, as the pages' axes
    title it (scale_for), not the code '1/yr^0.5'."""
    from abm.report.format import axis_title, scale_for

    runs = pl.DataFrame({"scenario": ["baseline"], "status": ["ok"],
                         "price_volatility": [0.34]})
    lines = headline_table(runs, "USD/kg")
    assert "Price volatility (% per year)" in lines[0] and "1/yr" not in lines[0]
    assert lines[1].split()[-1] == "34%"
    assert axis_title("Price volatility", scale_for([0.34], "1/yr^0.5")) == \
        "Price volatility (% per year)"
