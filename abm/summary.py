"""Summaries of a results folder: per-scenario statistics, paired differences, fan-chart bands,
Sobol indices. Polars expressions throughout (no Python loops over rows).

Inputs are the engine's files (docs/architecture.md): ``runs/*.parquet`` (one row per run) and
``series/*.parquet`` (one row per run and step). When the folder has a ``manifest.json``, only the
runs of its design are read: a folder may hold more runs than the current design (an earlier,
longer study whose runs are kept for reuse) and those must not leak into the numbers.

Outputs of ``write_summaries`` (each written atomically):
``summary/summary.parquet``, ``summary/paired.parquet``, ``summary/bands.parquet`` and, for Sobol
designs, ``summary/sobol.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

from abm.engine import manifest as manifest_io
from abm.engine.files import write_parquet_atomic
from abm.names import METRICS, REGION_CAPACITY_PREFIX, REGION_PRICE_PREFIX, SERIES

# Columns of the runs table that are not metrics or sweep parameters (docs/architecture.md).
RUN_KEYS = ("run_id", "scenario", "point", "replication", "seed", "status", "error", "traceback",
            "duration_s")
SERIES_KEYS = ("scenario", "point", "replication", "step")
QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p95": 0.95}

SUMMARY_SCHEMA = {"scenario": pl.String, "point": pl.Int64, "metric": pl.String,
                  "mean": pl.Float64, "median": pl.Float64, "p05": pl.Float64,
                  "p95": pl.Float64, "n": pl.UInt32}
PAIRED_SCHEMA = {"scenario": pl.String, "point": pl.Int64, "metric": pl.String,
                 "baseline_mean": pl.Float64, "scenario_mean": pl.Float64,
                 "diff_mean": pl.Float64, "diff_ci_low": pl.Float64, "diff_ci_high": pl.Float64,
                 "rel_diff": pl.Float64, "rel_ci_low": pl.Float64, "rel_ci_high": pl.Float64,
                 "n_pairs": pl.UInt32}
BANDS_SCHEMA = {"scenario": pl.String, "point": pl.Int64, "step": pl.Int64, "column": pl.String,
                **{q: pl.Float64 for q in QUANTILES}, "mean": pl.Float64}
SOBOL_SCHEMA = {"scenario": pl.String, "parameter": pl.String, "metric": pl.String,
                "S1": pl.Float64, "S1_conf": pl.Float64, "ST": pl.Float64, "ST_conf": pl.Float64}


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def _scan_all(files: list[Path]) -> pl.LazyFrame:
    # One scan per part, concatenated diagonally: parts may differ in columns (a failed run has
    # no extra metrics, a sweep parameter may be all-null in one part), which a single glob scan
    # would reject. Compaction keeps the number of parts small.
    return pl.concat([pl.scan_parquet(f) for f in files], how="diagonal_relaxed")


def load_runs(out: Path) -> pl.DataFrame:
    """The runs table of a results folder: one row per run of the design, ok and failed.

    Sorted by scenario (design order), point, replication. Empty frame when there are no runs.
    """
    out = Path(out)
    files = _parts(out / "runs")
    if not files:
        return pl.DataFrame()
    runs = _scan_all(files)
    # A run can be on disk twice only transiently (a compaction killed between writing a part
    # and deleting the files it merged); prefer its ok row.
    runs = (runs.sort(pl.col("status") != "ok", maintain_order=True)
            .unique("run_id", keep="first", maintain_order=True))
    manifest = manifest_io.read(out)
    if manifest is not None:
        design = manifest_io.design_frame(manifest).lazy()
        order = pl.LazyFrame({"scenario": manifest.get("scenarios") or [],
                              "_order": range(len(manifest.get("scenarios") or []))},
                             schema={"scenario": pl.String, "_order": pl.Int64})
        runs = (runs.join(design.select("run_id"), on="run_id", how="semi")
                .join(order, on="scenario", how="left")
                .sort("_order", "point", "replication").drop("_order"))
    else:
        runs = runs.sort("scenario", "point", "replication")
    return runs.collect()


def load_series(out: Path) -> pl.LazyFrame:
    """The per-step series of a results folder (lazy): scenario, point, replication, step and the
    series columns, restricted to the manifest's design when there is one."""
    out = Path(out)
    files = _parts(out / "series")
    if not files:
        return pl.LazyFrame(schema={k: (pl.String if k == "scenario" else pl.Int64)
                                    for k in SERIES_KEYS})
    series = _scan_all(files)
    manifest = manifest_io.read(out)
    if manifest is not None:
        keys = manifest_io.design_frame(manifest).select("scenario", "point", "replication")
        series = series.join(keys.lazy(), on=["scenario", "point", "replication"], how="semi")
    return series


def metric_columns(runs: pl.DataFrame) -> list[str]:
    """The metric columns of a runs table: numeric, not a run key, not a (dotted) sweep
    parameter; the metrics of abm.names first, in their order."""
    numeric = [c for c, t in runs.schema.items()
               if c not in RUN_KEYS and "." not in c and (t.is_numeric() or t == pl.Null)]
    return [m for m in METRICS if m in numeric] + [c for c in numeric if c not in METRICS]


# --------------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------------


def _long(runs: pl.DataFrame, metrics: list[str], index: list[str]) -> pl.DataFrame:
    """Ok runs in long format: index columns, metric, value (NaN read as missing)."""
    metrics = [m for m in metrics if m in runs.columns]
    if runs.is_empty() or not metrics:
        return pl.DataFrame(schema={**{k: runs.schema.get(k, pl.Int64) for k in index},
                                    "metric": pl.String, "value": pl.Float64})
    return (runs.lazy().filter(pl.col("status") == "ok")
            .select(*index, *[pl.col(m).cast(pl.Float64) for m in metrics])
            .unpivot(index=index, on=metrics, variable_name="metric", value_name="value")
            .with_columns(pl.col("value").fill_nan(None))
            .collect())


def _ordered(frame: pl.DataFrame, scenarios: list[str], metric_col: str,
             metrics: list[str], by: list[str]) -> pl.DataFrame:
    """Sort scenarios and metrics in their given order rather than alphabetically."""
    return (frame.with_columns(pl.col("scenario").cast(pl.Enum(scenarios)),
                               pl.col(metric_col).cast(pl.Enum(metrics)))
            .sort(by)
            .with_columns(pl.col("scenario").cast(pl.String), pl.col(metric_col).cast(pl.String)))


def _scenarios(runs: pl.DataFrame) -> list[str]:
    return runs["scenario"].unique(maintain_order=True).to_list() if "scenario" in runs else []


def summarize(runs: pl.DataFrame, metrics: list[str]) -> pl.DataFrame:
    """Per scenario x point x metric over ok runs: mean, median, p05, p95 (linear interpolation),
    n (number of non-missing values). Long format."""
    metrics = [m for m in dict.fromkeys(metrics) if m in runs.columns]
    long = _long(runs, metrics, ["scenario", "point"])
    if long.is_empty():
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    value = pl.col("value")
    out = long.group_by("scenario", "point", "metric").agg(
        value.mean().alias("mean"), value.median().alias("median"),
        value.quantile(0.05, "linear").alias("p05"), value.quantile(0.95, "linear").alias("p95"),
        value.count().alias("n"))
    out = _ordered(out, _scenarios(runs), "metric", metrics, ["scenario", "point", "metric"])
    return out.select([pl.col(k).cast(t) for k, t in SUMMARY_SCHEMA.items()])


def paired_differences(runs: pl.DataFrame, metrics: list[str], baseline: str,
                       level: float = 0.95) -> pl.DataFrame:
    """Each scenario's difference from `baseline`, paired on (point, replication).

    Both runs of a pair share their random shocks (common random numbers), so the differences
    have far less noise than the two scenarios' spreads. Per scenario x point x metric: the means
    over the pairs, diff_mean with a `level` confidence interval from the t distribution of the
    per-replication differences (null with fewer than 2 pairs), and the same relative to
    |baseline_mean| (null when baseline_mean is 0; the baseline mean is treated as known).
    The baseline scenario itself is omitted. Long format.
    """
    metrics = [m for m in dict.fromkeys(metrics) if m in runs.columns]
    if runs.is_empty():
        return pl.DataFrame(schema=PAIRED_SCHEMA)
    if baseline not in _scenarios(runs):
        raise ValueError(f"baseline scenario '{baseline}' has no runs; scenarios: "
                         f"{', '.join(_scenarios(runs))}")
    long = _long(runs, metrics, ["scenario", "point", "replication"])
    keys = ["point", "replication", "metric"]
    base = long.filter(pl.col("scenario") == baseline).select(*keys,
                                                              pl.col("value").alias("base"))
    pairs = (long.filter(pl.col("scenario") != baseline)
             .join(base, on=keys, how="inner")
             .drop_nulls(["value", "base"])
             .with_columns((pl.col("value") - pl.col("base")).alias("diff")))
    if pairs.is_empty():
        return pl.DataFrame(schema=PAIRED_SCHEMA)
    agg = pairs.group_by("scenario", "point", "metric").agg(
        pl.col("base").mean().alias("baseline_mean"),
        pl.col("value").mean().alias("scenario_mean"),
        pl.col("diff").mean().alias("diff_mean"),
        pl.col("diff").std(ddof=1).alias("_sd"),
        pl.len().cast(pl.UInt32).alias("n_pairs"))
    # t quantile per group, vectorised over the column (scipy, not a row loop)
    n = agg["n_pairs"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        tq = np.where(n >= 2, stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)), np.nan)
    half = (pl.lit(pl.Series(tq)) * pl.col("_sd") / pl.col("n_pairs").cast(pl.Float64).sqrt())
    half = half.fill_nan(None)
    scale = pl.when(pl.col("baseline_mean") != 0).then(pl.col("baseline_mean").abs())
    agg = agg.with_columns((pl.col("diff_mean") - half).alias("diff_ci_low"),
                           (pl.col("diff_mean") + half).alias("diff_ci_high"))
    agg = agg.with_columns((pl.col("diff_mean") / scale).alias("rel_diff"),
                           (pl.col("diff_ci_low") / scale).alias("rel_ci_low"),
                           (pl.col("diff_ci_high") / scale).alias("rel_ci_high"))
    scenarios = [s for s in _scenarios(runs) if s != baseline]
    agg = _ordered(agg, scenarios, "metric", metrics, ["scenario", "point", "metric"])
    return agg.select([pl.col(k).cast(t) for k, t in PAIRED_SCHEMA.items()])


def bands(series: pl.LazyFrame, columns: list[str], by: tuple[str, ...] = ("scenario", "point"),
          *, columns_per_pass: int = 1) -> pl.DataFrame:
    """Percentile bands of series columns across runs, per `by` x step: p05, p25, p50, p75, p95
    (linear interpolation, NaN read as missing) and mean, for fan charts. Long format (`by`,
    step, column, statistics), sorted by `by`, column (in the given order) and step; columns
    missing from the series are skipped.

    The engine's summary/bands.parquet is per scenario x point; the pages pool the sweep points
    (``by=("scenario",)``). `columns_per_pass` trades memory for speed: exact quantiles need every
    value of a group at once, so a pass over all columns holds the whole series table (849 MB for
    10,000 runs of 12 steps, measured) where one column at a time holds a 25th of it; the pages
    reduce a handful of columns and take them in one pass (~2x faster).
    """
    present = series.collect_schema().names()
    columns = [c for c in dict.fromkeys(columns) if c in present]
    index = [*by, "step"]
    schema = {k: t for k, t in BANDS_SCHEMA.items() if k in index or k not in SERIES_KEYS}
    if not columns:
        return pl.DataFrame(schema=schema)
    stats_ = [*QUANTILES, "mean"]
    parts = []
    # A loop over groups of columns, not over rows.
    for start in range(0, len(columns), max(columns_per_pass, 1)):
        chunk = columns[start:start + max(columns_per_pass, 1)]
        aggs = []
        for c in chunk:
            v = pl.col(c).cast(pl.Float64).fill_nan(None)
            aggs += [v.quantile(q, "linear").alias(f"{c}|{k}") for k, q in QUANTILES.items()]
            aggs.append(v.mean().alias(f"{c}|mean"))
        wide = series.group_by(index).agg(*aggs).collect(engine="streaming")
        parts += [wide.select(*index, pl.lit(c).alias("column"),
                              *[pl.col(f"{c}|{k}").alias(k) for k in stats_]) for c in chunk]
    out = pl.concat(parts)
    if out.is_empty():
        return pl.DataFrame(schema=schema)
    scenarios = out["scenario"].unique(maintain_order=True).sort().to_list()
    out = _ordered(out, scenarios, "column", columns, [*by, "column", "step"])
    return out.select([pl.col(k).cast(t) for k, t in schema.items()])


def point_means(runs: pl.DataFrame, metrics: list[str], n_points: int) -> pl.DataFrame:
    """Mean of each metric over ok replications at every point 0..n_points-1, per scenario
    (null where a point has no ok run). Long: scenario, point, metric, value."""
    long = _long(runs, metrics, ["scenario", "point"])
    means = long.group_by("scenario", "point", "metric").agg(pl.col("value").mean())
    grid = (pl.DataFrame({"scenario": _scenarios(runs)})
            .join(pl.DataFrame({"metric": metrics}), how="cross")
            .join(pl.DataFrame({"point": range(n_points)}, schema={"point": pl.Int64}),
                  how="cross"))
    return grid.join(means, on=["scenario", "point", "metric"], how="left")


def sobol_table(runs: pl.DataFrame, metrics: list[str], parameters: list[str],
                samples: int, *, n_boot: int = 1000, level: float = 0.95,
                seed: int = 0) -> pl.DataFrame:
    """Sobol indices of each metric per scenario, replications averaged at each point of the
    Saltelli design (N = `samples`, see abm.sweep). Columns: scenario, parameter, metric, S1,
    S1_conf, ST, ST_conf."""
    from abm.sweep import sobol_indices, sobol_size

    metrics = [m for m in metrics if m in runs.columns]
    if runs.is_empty() or not metrics or not parameters:
        return pl.DataFrame(schema=SOBOL_SCHEMA)
    n_points = sobol_size(len(parameters), samples)
    means = point_means(runs, metrics, n_points).sort("scenario", "metric", "point")
    tables = []
    # one estimate per (scenario, metric) group: a loop over groups, each vectorised
    for (scenario, metric), group in means.group_by("scenario", "metric", maintain_order=True):
        y = group["value"].fill_null(np.nan).to_numpy()
        tables.append(sobol_indices(parameters, y, n_boot=n_boot, level=level, seed=seed)
                      .with_columns(pl.lit(scenario).alias("scenario"),
                                    pl.lit(metric).alias("metric")))
    out = pl.concat(tables).with_columns(pl.col("parameter").cast(pl.Enum(parameters)))
    out = _ordered(out, _scenarios(runs), "metric", metrics, ["scenario", "metric", "parameter"])
    return out.select([pl.col(k).cast(t) for k, t in SOBOL_SCHEMA.items()])


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------


def band_columns(series: pl.LazyFrame) -> list[str]:
    """Series columns that get fan-chart bands: those of abm.names.SERIES present, then the
    per-region capacity columns, then separate markets' prices."""
    names = series.collect_schema().names()
    return ([c for c in SERIES if c in names]
            + [c for c in names if c.startswith(REGION_CAPACITY_PREFIX)]
            + [c for c in names if c.startswith(REGION_PRICE_PREFIX)])


# Above this many sweep points per scenario, summary/bands.parquet is pooled over the points
# (point null): per-point bands of a Sobol or LHS design (a few replications per point) are
# nearly the paths themselves, and cost minutes and gigabytes (4,608 points x 240 steps).
BAND_POINTS_MAX = 100


def _stored_bands(series: pl.LazyFrame, manifest: dict) -> pl.DataFrame:
    columns = band_columns(series)
    design = manifest.get("design") or []
    points = len({(d.get("scenario"), d.get("point")) for d in design})
    scenarios = len({d.get("scenario") for d in design}) or 1
    if points / scenarios <= BAND_POINTS_MAX:
        return bands(series, columns)
    pooled = bands(series, columns, by=("scenario",))
    return pooled.with_columns(pl.lit(None, dtype=pl.Int64).alias("point")).select(
        list(BANDS_SCHEMA))


def write_summaries(out: Path, baseline: str, metrics: list[str] | None = None) -> None:
    """Write summary/summary.parquet, summary/paired.parquet, summary/bands.parquet and (for a
    Sobol design, per the manifest) summary/sobol.parquet. Metrics default to every metric
    column of the runs table."""
    out = Path(out)
    runs = load_runs(out)
    if metrics is None:
        metrics = metric_columns(runs)
    folder = out / "summary"
    write_parquet_atomic(summarize(runs, metrics), folder / "summary.parquet")
    has_baseline = not runs.is_empty() and baseline in _scenarios(runs)
    paired = (paired_differences(runs, metrics, baseline) if has_baseline
              else pl.DataFrame(schema=PAIRED_SCHEMA))
    write_parquet_atomic(paired, folder / "paired.parquet")
    series = load_series(out)
    manifest = manifest_io.read(out) or {}
    write_parquet_atomic(_stored_bands(series, manifest), folder / "bands.parquet")
    if manifest.get("design_kind") == "sobol":
        sweep = manifest.get("sweep") or {}
        write_parquet_atomic(sobol_table(runs, metrics, list(sweep.get("parameters") or []),
                                         int(sweep.get("samples") or 0),
                                         seed=int(manifest.get("root_seed") or 0)),
                             folder / "sobol.parquet")
