"""Everything the pages show, read from a results folder (see docs/architecture.md).

The pages never touch raw paths of every run: they read the summaries the engine wrote
(``summary/*.parquet``), compute what is missing with :mod:`abm.summary`, and reduce the per-step
series to percentile bands. So a page for 10,000 runs holds as many numbers as one for 100.

With a sweep, the engine's summaries are per sweep point; the index page speaks for the scenario
as a whole, so it pools the points (pairs stay matched on point and replication).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from abm import summary as engine
from abm.engine import manifest as manifest_io
from abm.errors import ConfigError
from abm.names import METRICS, REGION_CAPACITY_PREFIX, REGION_PRICE_PREFIX, SERIES

# Series shown as fan charts on the index page (each costs ~0.3 s per 10,000 runs to reduce).
# `recycled`, `buyer_stock` and `private_stock` are charted only when some run has them
# (figures.optional_fans).
BAND_COLUMNS = ["price", "floor", "government_stock", "recycled", "buyer_stock",
                "private_stock"]
# Capacity: per region when the series have region columns, else market / non-market.
CAPACITY_COLUMNS = ["capacity_market", "capacity_nonmarket"]
FISCAL_CUM = "fiscal_cost_cumulative"  # derived here: cumulative sum of fiscal_flow per run
RUN_KEYS = ["scenario", "point", "replication"]


@dataclass
class ReportData:
    """The results of one experiment, reduced to what the pages need."""

    out: Path
    manifest: dict[str, Any]
    runs: pl.DataFrame                      # every run, failed ones included
    metrics: list[str]                      # METRICS present in the runs table, in names.py order
    scenarios: list[str]                    # baseline first, then design order
    summary: pl.DataFrame                   # scenario x metric: mean, median, p05, p95, n (pooled)
    paired: pl.DataFrame | None             # scenario x metric paired differences (pooled)
    quartiles: pl.DataFrame                 # scenario x metric: p05, p25, p50, p75, p95, mean
    bands: pl.DataFrame                     # scenario x step x column percentile bands (pooled)
    sobol: pl.DataFrame | None = None
    region_columns: list[str] = field(default_factory=list)
    region_price_columns: list[str] = field(default_factory=list)   # separate markets' prices

    # -- manifest helpers -------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        return self.manifest.get("config") or {}

    @property
    def meta(self) -> dict[str, Any]:
        return self.config.get("experiment") or {}

    @property
    def name(self) -> str:
        return str(self.manifest.get("experiment") or self.meta.get("name") or self.out.name)

    @property
    def title(self) -> str:
        return str(self.manifest.get("title") or self.meta.get("title") or self.name)

    @property
    def question(self) -> str:
        return str(self.manifest.get("question") or self.meta.get("question") or "")

    @property
    def baseline(self) -> str:
        return str(self.manifest.get("baseline") or self.scenarios[0])

    @property
    def price_unit(self) -> str:
        return str((self.config.get("market") or {}).get("price_unit") or "USD/kg")

    @property
    def headline_outcomes(self) -> list[str]:
        """The experiment's `[report] headline` metrics that the runs have (may be empty)."""
        named = (self.config.get("report") or {}).get("headline") or []
        return [m for m in named if m in self.metrics]

    @property
    def steps_per_year(self) -> int:
        return int(self.meta.get("steps_per_year") or 12)

    @property
    def years(self) -> float:
        return int(self.meta.get("steps") or 0) / self.steps_per_year

    @property
    def sweep_parameters(self) -> list[str]:
        """Swept dotted keys that are columns of the runs table (manifest "sweep_parameters",
        or "sweep": {"parameters": [...]} as abm.engine.manifest writes it)."""
        names = (self.manifest.get("sweep_parameters")
                 or (self.manifest.get("sweep") or {}).get("parameters")
                 or list((self.config.get("sweep") or {}).get("parameters") or {}))
        return [p for p in names if p in self.runs.columns]

    @property
    def design_kind(self) -> str:
        return str(self.manifest.get("design_kind") or "none")

    @property
    def ok(self) -> pl.DataFrame:
        return self.runs.filter(pl.col("status") == "ok")

    @property
    def n_points(self) -> int:
        return int(self.runs["point"].n_unique()) if self.runs.height else 0


# --------------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------------


def read_manifest(out: Path) -> dict[str, Any]:
    path = out / "manifest.json"
    if not path.is_file():
        raise ConfigError(str(out), None, "no manifest.json here: not a results folder "
                          "(run `abm run EXPERIMENT.toml` first)")
    try:
        stored = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), None, f"manifest.json is not valid JSON: {exc}") from None
    problem = manifest_io.shape_error(stored)
    if problem is not None:
        raise ConfigError(str(path), problem[0], f"{problem[1]}; the pages cannot be built "
                          "from this folder (rerun the experiment into it to rewrite it)")
    return stored


def _has_runs(out: Path) -> bool:
    return (out / "runs.parquet").is_file() or any((out / "runs").glob("*.parquet"))


def load(out: Path | str) -> ReportData:
    """Read a results folder; raise ConfigError when it has no manifest or no runs."""
    out = Path(out)
    manifest = read_manifest(out)
    if not _has_runs(out):
        raise ConfigError(str(out), None, "no runs in this results folder (runs/*.parquet is "
                          "empty): nothing to report")
    runs = engine.load_runs(out)
    if runs.height == 0:
        raise ConfigError(str(out), None, "no runs in this results folder: nothing to report")
    metrics = [m for m in METRICS if m in runs.columns]
    scenarios = _scenario_order(manifest, runs)
    baseline = manifest.get("baseline") if manifest.get("baseline") in scenarios else scenarios[0]
    scenarios = [baseline] + [s for s in scenarios if s != baseline]
    ok = runs.filter(pl.col("status") == "ok")
    single_point = ok["point"].n_unique() <= 1

    summary = _read_summary(out, "summary") if single_point else None
    if summary is None:
        summary = engine.summarize(_pool_points(ok), metrics)
    paired = None
    if len(scenarios) > 1:
        paired = _read_summary(out, "paired") if single_point else None
        if paired is None:
            paired = engine.paired_differences(_pool_points(ok), metrics, baseline)
        paired = paired.filter(pl.col("scenario") != baseline)

    series = _series(out)
    names = series.collect_schema().names() if series is not None else []
    regions = [c for c in names if c.startswith(REGION_CAPACITY_PREFIX)]
    prices = [c for c in names if c.startswith(REGION_PRICE_PREFIX)]
    bands = _bands(out, series, names, regions + prices, single_point)
    sobol = _read_summary(out, "sobol")
    return ReportData(out=out, manifest=manifest, runs=runs, metrics=metrics, scenarios=scenarios,
                      summary=summary.drop("point", strict=False), paired=paired,
                      quartiles=quartiles(ok, metrics), bands=bands, sobol=sobol,
                      region_columns=regions, region_price_columns=prices)


def _scenario_order(manifest: dict[str, Any], runs: pl.DataFrame) -> list[str]:
    """Scenarios in design order (as the experiment lists them), then any others in the runs."""
    order = list(dict.fromkeys(d.get("scenario") for d in manifest.get("design") or []
                               if d.get("scenario") is not None))
    seen = runs["scenario"].unique(maintain_order=True).to_list()
    return [s for s in order if s in seen] + [s for s in seen if s not in order]


def _read_summary(out: Path, name: str) -> pl.DataFrame | None:
    path = out / "summary" / f"{name}.parquet"
    if not path.is_file():
        return None
    return pl.read_parquet(path)


def _pool_points(runs: pl.DataFrame) -> pl.DataFrame:
    """All sweep points as one: replication ids made unique per point, so pairs stay matched."""
    if runs["point"].n_unique() <= 1:
        return runs
    width = int(runs["replication"].max()) + 1
    return runs.with_columns(replication=pl.col("point") * width + pl.col("replication"),
                             point=pl.lit(0, dtype=runs.schema["point"]))


def quartiles(ok: pl.DataFrame, metrics: list[str]) -> pl.DataFrame:
    """Box-plot statistics per scenario and metric (the engine summary has no quartiles)."""
    long = ok.select("scenario", *metrics).unpivot(index="scenario", variable_name="metric")
    v = pl.col("value").drop_nans()

    def q(p: float) -> pl.Expr:
        return v.quantile(p, interpolation="linear")

    return long.group_by("scenario", "metric").agg(
        p05=q(0.05), p25=q(0.25), p50=q(0.5), p75=q(0.75), p95=q(0.95), mean=v.mean(),
        n=v.count())


# --------------------------------------------------------------------------------------------------
# per-step series -> bands
# --------------------------------------------------------------------------------------------------


def _series(out: Path) -> pl.LazyFrame | None:
    if not any((out / "series").glob("*.parquet")):
        return None
    return engine.load_series(out)


def _bands(out: Path, series: pl.LazyFrame | None, names: list[str], regions: list[str],
           single_point: bool) -> pl.DataFrame:
    """Percentile bands per scenario and step, pooled over sweep points.

    The engine's bands.parquet is used when it covers what the pages need (one sweep point);
    the cumulative fiscal cost is always derived here, because bands of a cumulative sum are not
    cumulative sums of bands.
    """
    empty = pl.DataFrame(schema=BANDS_SCHEMA)
    if series is None:
        return empty
    capacities = [c for c in regions if c.startswith(REGION_CAPACITY_PREFIX)]
    wanted = [c for c in BAND_COLUMNS + (capacities or CAPACITY_COLUMNS)
              + [c for c in regions if c.startswith(REGION_PRICE_PREFIX)] if c in names]
    stored = _read_summary(out, "bands") if single_point else None
    parts = []
    if stored is not None and set(wanted) <= set(stored["column"].unique().to_list()):
        parts.append(stored.filter(pl.col("column").is_in(wanted)).drop("point"))
        wanted = []
    lazy = series
    if "fiscal_flow" in names:
        lazy = lazy.with_columns(
            pl.col("fiscal_flow").fill_null(0.0).cum_sum().over(RUN_KEYS, order_by="step")
            .alias(FISCAL_CUM))
        wanted.append(FISCAL_CUM)
    if wanted:
        parts.append(pooled_bands(lazy, wanted))
    frames = [p.select([pl.col(c).cast(t) for c, t in BANDS_SCHEMA.items()]) for p in parts]
    return pl.concat(frames) if frames else empty


# the pages' bands: the engine's without the sweep point (pooled over points)
BANDS_SCHEMA = {k: t for k, t in engine.BANDS_SCHEMA.items() if k != "point"}


def pooled_bands(series: pl.LazyFrame, columns: list[str]) -> pl.DataFrame:
    """Bands of `columns` per scenario and step over every run of every sweep point
    (abm.summary.bands pooled over points, all columns in one pass: a page reduces only a
    handful, and one pass keeps `abm report` within its time budget for 10,000 runs)."""
    return engine.bands(series, columns, by=("scenario",), columns_per_pass=len(columns))


def run_paths(out: Path, picks: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Per-step series of a few chosen runs (`picks` has run_id, scenario, point, replication).

    Reads only those runs: each run's own file while the series are not yet compacted, else a
    filtered scan (parquet statistics let polars skip most of the compacted parts).
    """
    folder = out / "series"
    if picks.height == 0 or not any(folder.glob("*.parquet")):
        return pl.DataFrame()
    own = [folder / (str(r).replace("/", "__") + ".parquet") for r in picks["run_id"]]
    if all(p.is_file() for p in own):
        lazy = pl.scan_parquet([str(p) for p in own])
    else:
        match = pl.lit(False)
        for s, p, r in picks.select(RUN_KEYS).iter_rows():  # a handful of runs, not all of them
            match = match | ((pl.col("scenario") == s) & (pl.col("point") == p)
                             & (pl.col("replication") == r))
        lazy = engine.load_series(out).filter(match)
    names = lazy.collect_schema().names()
    keep = [c for c in columns if c in names]
    return lazy.select(*RUN_KEYS, "step", *keep).sort(*RUN_KEYS, "step").collect()


def label(name: str) -> str:
    """Plain-language label of a metric or series column (abm.names), or a region's capacity."""
    if name in METRICS:
        return METRICS[name].label
    if name in SERIES:
        return SERIES[name].label
    if name.startswith(REGION_CAPACITY_PREFIX):
        return name[len(REGION_CAPACITY_PREFIX):]
    if name.startswith(REGION_PRICE_PREFIX):
        return f"Price in {name[len(REGION_PRICE_PREFIX):]}"
    return name
