"""`abm calibrate`: writes the JSON and the page; bad data exits 2 with one message, writes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from abm.calibration.command import main

HEADER = "name,region,stage,capacity,unit_cost,market_economy"


def write_table(path, n: int = 30, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    lines = [HEADER]
    for i in range(n):
        market = i % 3 != 0
        cost = rng.lognormal(np.log(60 if market else 40), 0.3)
        lines.append(f"P{i},{'US' if market else 'China'},refinery,{rng.uniform(500, 5000):.0f},"
                     f"{cost:.3f},{str(market).lower()}")
    lines += [f"M{i},Australia,mine,1000,{10 + i}.0,true" for i in range(4)]
    path.write_text("\n".join(lines) + "\n")


def test_calibrate_writes_cost_curve_json_and_offline_page(tmp_path, capsys):
    table = tmp_path / "producers.csv"
    write_table(table)
    out = tmp_path / "out"
    assert main([str(table), "--out", str(out)]) == 0
    data = json.loads((out / "cost_curve.json").read_text())
    assert data["family"] in {"lognormal", "gamma", "weibull"}
    assert data["selection"]["stage"] == "refinery"  # mixed stages: the product is fitted
    assert data["selection"]["producers"] == 30
    assert set(data["parameters"]) and 0 < data["goodness_of_fit"]["r2_weighted"] <= 1
    assert data["goodness_of_fit"]["max_error"] > 0
    assert list(data["cost_at_share"]) == [f"{k / 100:.2f}" for k in range(5, 100, 5)]
    assert set(data["families"]) == {"lognormal", "gamma", "weibull"}
    segments = {(s["stage"], s["group"]) for s in data["segments"]}
    assert {("refinery", "market"), ("refinery", "nonmarket"), ("mine", "all")} <= segments
    page = (out / "cost_curve.html").read_text()
    assert len(page) > 1_000_000  # plotly.js is inside the page
    assert '<script src="http' not in page
    # axis titles with units (plotly's JSON writes "/" as \u002f)
    assert "Cumulative capacity (t\\u002fyr)" in page and "Unit cash cost (USD\\u002fkg)" in page
    assert "cost_curve.json" in capsys.readouterr().out


def test_calibrate_group_market_fits_only_market_economies(tmp_path):
    table = tmp_path / "producers.csv"
    write_table(table)
    assert main([str(table), "--out", str(tmp_path / "m"), "--group", "market"]) == 0
    assert main([str(table), "--out", str(tmp_path / "n"), "--group", "nonmarket"]) == 0
    market = json.loads((tmp_path / "m" / "cost_curve.json").read_text())
    nonmarket = json.loads((tmp_path / "n" / "cost_curve.json").read_text())
    assert market["selection"]["producers"] == 20 and nonmarket["selection"]["producers"] == 10
    assert market["cost_at_share"]["0.50"] > nonmarket["cost_at_share"]["0.50"]


def test_calibrate_default_out_is_under_results_calibration(tmp_path, monkeypatch):
    table = tmp_path / "lithium_mines.csv"
    write_table(table)
    monkeypatch.chdir(tmp_path)
    assert main([str(table)]) == 0
    assert (tmp_path / "results" / "calibration" / "lithium_mines" / "cost_curve.json").exists()


GOOD = ["A,China,refinery,1000,40", "B,US,refinery,500,60", "C,Japan,refinery,700,55"]
BAD = {
    "negative_capacity": ("name,region,stage,capacity,unit_cost",
                          [GOOD[0], "B,US,refinery,-500,60", GOOD[2]], ["line 3", "capacity"]),
    "zero_capacity": ("name,region,stage,capacity,unit_cost",
                      [GOOD[0], GOOD[1], "C,Japan,refinery,0,55"], ["line 4", "capacity"]),
    "nan_cost": ("name,region,stage,capacity,unit_cost",
                 [GOOD[0], "B,US,refinery,500,NaN", GOOD[2]], ["line 3", "unit_cost"]),
    "text_cost": ("name,region,stage,capacity,unit_cost",
                  [GOOD[0], "B,US,refinery,500,cheap", GOOD[2]], ["line 3", "unit_cost"]),
    "one_producer": ("name,region,stage,capacity,unit_cost", [GOOD[0]], ["at least 3"]),
    "unknown_column": ("name,region,stage,capacity,unit_cost,colour",
                       [g + ",red" for g in GOOD], ["unknown column 'colour'", "allowed"]),
    "missing_column": ("name,region,stage,capacity", [g.rsplit(",", 1)[0] for g in GOOD],
                       ["unit_cost", "required"]),
    "unknown_stage": ("name,region,stage,capacity,unit_cost",
                      [GOOD[0], "B,US,smelter,500,60", GOOD[2]], ["stage", "mine, refinery"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data_exits_2_with_one_message_and_writes_nothing(tmp_path, capsys, case):
    header, rows, expected = BAD[case]
    table = tmp_path / f"{case}.csv"
    table.write_text("\n".join([header, *rows]) + "\n")
    out = tmp_path / "out"
    assert main([str(table), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert str(table) in lines[0] and "Traceback" not in captured.err
    for text in expected:
        assert text in lines[0]
    assert captured.out == ""
    assert not out.exists()


def test_missing_file_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(tmp_path / "nope.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.csv" in err and "file not found" in err
    assert not out.exists()


def test_group_without_market_economy_column_exits_2(tmp_path, capsys):
    table = tmp_path / "p.csv"
    table.write_text("name,region,stage,capacity,unit_cost\n" + "\n".join(GOOD) + "\n")
    assert main([str(table), "--out", str(tmp_path / "o"), "--group", "market"]) == 2
    assert "market_economy" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_status_pipeline_fits_only_planned_and_construction_rows(tmp_path):
    table = tmp_path / "p.csv"
    rows = [f"E{i},US,refinery,1000,{30 + i},operating" for i in range(4)]
    rows += [f"N{i},US,refinery,1000,{80 + i},planned" for i in range(3)]
    table.write_text("name,region,stage,capacity,unit_cost,status\n" + "\n".join(rows) + "\n")
    assert main([str(table), "--out", str(tmp_path / "o"), "--status", "pipeline"]) == 0
    data = json.loads((tmp_path / "o" / "cost_curve.json").read_text())
    assert data["selection"]["producers"] == 3 and data["data"]["min_cost"] == 80


def test_producer_names_are_escaped_in_the_page(tmp_path):
    """A producer named like a script tag reaches the hover text escaped, never as markup."""
    table = tmp_path / "producers.csv"
    table.write_text("name,region,stage,capacity,unit_cost\n"
                     "<script>alert(1)</script>,China,refinery,1000,40\n"
                     "B & <b>bold</b>,US,refinery,500,60\nC,Japan,refinery,700,55\n")
    assert main([str(table), "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "cost_curve.html").read_text()
    assert "<script>alert(1)" not in page and "<b>bold" not in page
    # plotly's JSON writes "/" as \u002f; the escaped names are in the figure's hover text
    assert "&lt;script&gt;alert(1)&lt;\\u002fscript&gt;" in page
    assert "B &amp; &lt;b&gt;bold&lt;\\u002fb&gt;" in page
    assert "<title>Cost curve: producers.csv</title>" in page
