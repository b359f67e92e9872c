"""The short table printed after a run: one line per scenario with the headline metrics.

Numbers are written by abm.report.format.fmt, as on the result pages ("-$437m", "12 kt/yr")."""

from __future__ import annotations

import sys
from typing import TextIO

import polars as pl

from abm.names import METRICS
from abm.report.format import fmt, scale_for
from abm.report.headlines import fiscal_metric

# then the fiscal cost the pages lead with: net of stocks held when the runs have it
HEADLINE = ("price_mean", "price_volatility", "capacity_added_market")


def headline_table(runs: pl.DataFrame, price_unit: str = "price") -> list[str]:
    """Lines of the per-scenario table: mean over ok runs (and sweep points) of HEADLINE."""
    fiscal = fiscal_metric([m for m in runs.columns if m in METRICS])
    metrics = [m for m in HEADLINE if m in runs.columns] + ([fiscal] if fiscal else [])
    if runs.is_empty() or not metrics:
        return []
    means = (runs.filter(pl.col("status") == "ok").group_by("scenario", maintain_order=True)
             .agg(pl.len().alias("n"), *[pl.col(m).cast(pl.Float64).mean() for m in metrics]))
    # the unit the numbers are shown in (volatility in "% per year", as on the pages' axes)
    units = {m: scale_for(1.0, METRICS[m].unit, price_unit).unit for m in metrics}
    header = ["scenario", "runs"] + [f"{METRICS[m].label} ({units[m]})" for m in metrics]
    # the pages' rounding and units, with an ASCII minus for copying from a terminal
    rows = [[str(r["scenario"]), str(r["n"])]
            + [fmt(r[m], METRICS[m].unit, price_unit, minus="-") for m in metrics]
            for r in means.iter_rows(named=True)]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(line, widths, strict=True)))
            for line in [header, *rows]]


def failure_lines(runs: pl.DataFrame, shown: int = 3) -> list[str]:
    """The most common errors of failed runs, with where to find the tracebacks."""
    if runs.is_empty() or "error" not in runs.columns:
        return []
    errors = (runs.filter(pl.col("status") == "failed").group_by("error")
              .agg(pl.len().alias("n"), pl.col("run_id").first()).sort("n", descending=True))
    if errors.is_empty():
        return []
    lines = [f"failed runs ({errors['n'].sum()}), most common errors:"]
    for row in errors.head(shown).iter_rows(named=True):
        lines.append(f"  {row['n']} x {row['error']} (e.g. {row['run_id']})")
    lines.append("  tracebacks: the 'traceback' column of runs/*.parquet")
    return lines


def print_summary(result, file: TextIO | None = None) -> None:
    """Print what a `run_experiment` call did, the headline table and the report path (to
    stdout by default: the stream of the time of the call, not of the import)."""
    file = sys.stdout if file is None else file
    from abm.engine import manifest as manifest_io
    from abm.summary import load_runs

    out = result.out
    print(f"{out}: {result.planned} runs planned, {result.computed} computed, {result.reused} "
          f"reused, {result.failed} failed, in {result.seconds:.1f} s", file=file)
    manifest = manifest_io.read(out) or {}
    price_unit = ((manifest.get("config") or {}).get("market") or {}).get("price_unit", "price")
    runs = load_runs(out)
    lines = headline_table(runs, price_unit)
    if len(lines) > 1:
        print("mean over ok runs:", file=file)
        for line in lines:
            print("  " + line, file=file)
    elif not runs.is_empty():
        print("no run finished ok", file=file)
    for line in failure_lines(runs):
        print(line, file=file)
    for note in result.notes:
        print(f"note: {note}", file=file)
    if result.report is not None:
        print(f"report: {result.report}", file=file)
