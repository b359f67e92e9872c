"""What a worker does for a block of runs: build each config, call the runner, write the files.

A task carries a picklable `Context` (the experiment's raw config and where to write) and a
list of `RunSpec` (a chunk, `run_chunk`). The worker rebuilds the `Experiment` once per process
(cached by a digest of the raw config), so every executor (local processes, Dask workers on
other machines) works the same way and nothing large is shipped per run. The runner is named by
a "module:function" path and resolved in the worker, so tests can swap in fake runners and a
cluster only needs the package installed.

Files (docs/engine.md): a chunk's ok runs as ``series/part-<k>.parquet`` first, then
``runs/part-<k>.parquet``; the runs part is the "done" marker of its runs, so a chunk killed
between the two (or before) is simply recomputed. A chunk of one run writes
``series/<file_id>.parquet`` then ``runs/<file_id>.parquet``. A run that raises becomes a
``failed`` row in its own runs file (error, traceback, null metrics); it never stops the others
and is retried by the next invocation.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from abm.engine.files import write_parquet_atomic
from abm.experiment import Experiment, RunSpec

SERIES_KEYS = ("scenario", "point", "replication", "step")
# Per-run files are compacted later: favour write speed over size.
SMALL_FILE_COMPRESSION = "lz4"

# What is stored of each run's per-step series (``--series``): every column; only the columns
# the fan charts and pages need (BAND_SERIES, the region capacities); nothing (an empty file
# with the keys, so a run's row keeps its paired series file and resume rules stay the same).
SERIES_MODES = ("all", "bands", "none")
BAND_SERIES = ("price", "floor", "government_stock", "recycled", "buyer_stock",
               "capacity_market", "capacity_nonmarket", "fiscal_flow")
REGION_CAPACITY_PREFIX = "capacity_region__"
REGION_PRICE_PREFIX = "price_region__"       # (abm.names; separate markets' prices)
# ... and of at most this many runs per scenario (`in_band_sample`): the bands of a larger
# scenario are those of this sample, exact for it. For independent replications the sample's
# distribution at each step is within DKW's bound of the full one: |F_K - F| <= 0.030 at
# K = 2,000 with probability 0.95 (sqrt(ln(2 / 0.05) / (2 K))), so a p05 band lies between the
# full p02 and p08 (tested: tests/test_batch_chunks.py).
BAND_RUNS = 2000

# The function computing one run: simulate(config, seed) -> object with .metrics and .series.
RUNNER = "abm.simulate:simulate"


@dataclass(frozen=True)
class Context:
    """Everything a worker needs besides the run spec; small and picklable."""

    raw: dict[str, Any]          # the experiment's merged raw config (Experiment.raw)
    file: str | None             # its file, for error messages only
    out: str                     # results folder
    runner: str                  # "module:function"
    metrics: tuple[str, ...]     # metric columns written (as nulls) for failed runs
    params: tuple[str, ...]      # sweep parameter names (dotted keys), in design order
    key: str = ""                # raw_digest(raw), computed once by the parent
    series: str = "all"          # what is stored of each run's series: SERIES_MODES
    band_runs: int = BAND_RUNS   # `series = "bands"`: runs per scenario whose series are kept

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", raw_digest(self.raw))


def raw_digest(raw: dict[str, Any]) -> str:
    blob = json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


_EXPERIMENTS: dict[str, Experiment] = {}
_RUNNERS: dict[str, Callable[..., Any]] = {}


def resolve_runner(path: str) -> Callable[..., Any]:
    """The callable named by "package.module:function" (imported once per process)."""
    if path not in _RUNNERS:
        module, _, name = path.partition(":")
        if not module or not name:
            raise ValueError(f"runner must be 'module:function', got {path!r}")
        _RUNNERS[path] = getattr(importlib.import_module(module), name)
    return _RUNNERS[path]


PARENT_POLL = 1.0     # seconds between a worker's checks that the engine's process is alive


def init_worker(runner: str, parent_pid: int | None = None) -> None:
    """Process-pool initializer: import the model and the runner once per worker, leave
    Ctrl-C to the parent (which stops the pool cleanly) instead of dying mid-write, and exit
    when the engine's process (`parent_pid`) is gone, even SIGKILLed (see `exit_with_parent`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    try:
        importlib.import_module("abm.model")
    except ImportError:      # a fake runner in tests does not need the model
        pass
    resolve_runner(runner)


def exit_with_parent(parent_pid: int) -> None:
    """End this worker when the process `parent_pid` dies. On Linux the kernel sends SIGTERM
    when our parent (the fork server, which itself exits when the engine's process is gone)
    dies (prctl PR_SET_PDEATHSIG); everywhere a daemon thread polls `parent_pid` every
    PARENT_POLL seconds and ends the process (os._exit: no cleanup is owed to a dead parent;
    a file being written is left as a temporary, removed by the next run)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass                      # alive, owned by someone else (pid reuse): keep going
            if os.getppid() == 1:         # re-parented to init: our parent is gone
                os._exit(1)

    threading.Thread(target=watch, name="abm-parent-watch", daemon=True).start()


PR_SET_PDEATHSIG = 1


def experiment(ctx: Context) -> Experiment:
    key = ctx.key
    exp = _EXPERIMENTS.get(key)
    if exp is None:
        _EXPERIMENTS.clear()          # one experiment at a time per worker is the normal case
        exp = _EXPERIMENTS[key] = Experiment(ctx.raw, file=ctx.file)
    return exp


def run_path(out: Path, spec: RunSpec) -> Path:
    return Path(out) / "runs" / f"{spec.file_id}.parquet"


def series_path(out: Path, spec: RunSpec) -> Path:
    return Path(out) / "series" / f"{spec.file_id}.parquet"


def run_row(spec: RunSpec, ctx: Context, *, status: str, duration: float,
            metrics: dict[str, Any] | None, error: str | None = None,
            trace: str | None = None) -> pl.DataFrame:
    """The one-row runs table of a run (column order of docs/architecture.md)."""
    values: dict[str, Any] = {
        "run_id": spec.run_id, "scenario": spec.scenario, "point": spec.point,
        "replication": spec.replication, "seed": spec.seed, "status": status, "error": error,
        "traceback": trace, "duration_s": duration,
    }
    schema: dict[str, Any] = {
        "run_id": pl.String, "scenario": pl.String, "point": pl.Int64, "replication": pl.Int64,
        "seed": pl.Int64, "status": pl.String, "error": pl.String, "traceback": pl.String,
        "duration_s": pl.Float64,
    }
    for name in ctx.params:
        values[name] = spec.params.get(name)
        schema[name] = pl.Float64
    names = list(metrics) if metrics is not None else list(ctx.metrics)
    for name in names:
        value = None if metrics is None else metrics[name]
        values[name] = None if value is None else float(value)
        schema[name] = pl.Float64
    return pl.from_dicts([values], schema=schema)


def series_frame(spec: RunSpec, series: Any) -> pl.DataFrame:
    """The runner's per-step series with the run keys in front (step added if missing)."""
    if not isinstance(series, pl.DataFrame):
        raise TypeError(f"runner returned series of type {type(series).__name__}, expected a "
                        "polars.DataFrame")
    n = series.height
    step = (series["step"].cast(pl.Int64) if "step" in series.columns
            else pl.Series("step", np.arange(n, dtype=np.int64)))
    keys = pl.DataFrame([pl.Series("scenario", [spec.scenario] * n, pl.String),
                         pl.Series("point", np.full(n, spec.point, dtype=np.int64)),
                         pl.Series("replication", np.full(n, spec.replication, dtype=np.int64)),
                         step])
    rest = series.drop([c for c in SERIES_KEYS if c in series.columns])
    return keys.hstack(rest)   # hstack: a few times cheaper than select with literals


def in_band_sample(spec: RunSpec, points: int, replications: int, runs: int) -> bool:
    """Whether `--series bands` keeps this run's series: every run of a scenario of at most
    `runs` runs (points x replications); else `runs` of them spread evenly over the scenario's
    runs in design order: index i = point x replications + replication is kept when
    i = floor(j n / runs) for some j = 0..runs-1 (n the scenario's runs; so the first run, and
    the same replications in every scenario, which keeps the scenarios' bands paired). A rule
    on the spec alone: the same runs whatever the workers, chunks, executor or resume."""
    n = points * replications
    if n <= runs:
        return True
    i = spec.point * replications + spec.replication
    j = -(-i * runs // n)                       # ceil(i runs / n): the only candidate j
    return j < runs and j * n // runs == i


def stored_series(series: pl.DataFrame, mode: str, sampled: bool = True) -> pl.DataFrame:
    """What `--series mode` keeps of a run's series frame (keys always); `sampled`: the run is
    in the band sample (`in_band_sample`; a run outside it keeps no series under bands)."""
    if mode == "all":
        return series
    if mode == "none" or not sampled:
        return series.select(SERIES_KEYS).clear()
    keep = [c for c in series.columns if c in SERIES_KEYS or c in BAND_SERIES
            or c.startswith((REGION_CAPACITY_PREFIX, REGION_PRICE_PREFIX))]
    return series.select(keep)


def _compute(ctx: Context, spec: RunSpec) -> tuple[dict[str, Any], pl.DataFrame | None,
                                                  pl.DataFrame | None]:
    """Run one spec: (status, series frame, row) for an ok run; a failed run is written at once
    as its own runs file (status, None, None). Never raises for a model error."""
    start = time.perf_counter()
    try:
        config = experiment(ctx).run_config(spec)
        result = resolve_runner(ctx.runner)(config, spec.seed)
        duration = time.perf_counter() - start
        metrics = {k: (None if v is None else float(v)) for k, v in result.metrics.items()}
        sampled = True
        if ctx.series == "bands":
            _, points, replications = experiment(ctx).design_size()
            sampled = in_band_sample(spec, points, replications, ctx.band_runs)
        series = stored_series(series_frame(spec, result.series), ctx.series, sampled)
        row = run_row(spec, ctx, status="ok", duration=duration, metrics=metrics)
    except Exception as exc:  # noqa: BLE001 - any model error becomes a failed run
        duration = time.perf_counter() - start
        error = f"{type(exc).__name__}: {exc}"
        write_failed(ctx, spec, error, traceback.format_exc(), duration)
        return ({"run_id": spec.run_id, "status": "failed", "error": error,
                 "duration_s": duration, "seconds": time.perf_counter() - start}, None, None)
    return ({"run_id": spec.run_id, "status": "ok", "error": None, "duration_s": duration,
             "seconds": time.perf_counter() - start}, series, row)


def run_one(ctx: Context, spec: RunSpec) -> dict[str, Any]:
    """Compute one run and write its two single files; returns a small status dict (never
    raises for a model error: that is recorded as a failed run)."""
    start = time.perf_counter()
    status, series, row = _compute(ctx, spec)
    if series is not None:
        out = Path(ctx.out)
        write_parquet_atomic(series, series_path(out, spec), SMALL_FILE_COMPRESSION)
        write_parquet_atomic(row, run_path(out, spec), SMALL_FILE_COMPRESSION)
        status["seconds"] = time.perf_counter() - start
    return status


def part_name(k: int) -> str:
    return f"part-{k:05d}.parquet"


def run_chunk(ctx: Context, specs: list[RunSpec], k: int) -> list[dict[str, Any]]:
    """Compute a block of runs; write their ok rows and series as one pair of parts
    (``series/part-<k>`` first, then ``runs/part-<k>``: the runs part is the "done" marker of
    all its runs, see abm.engine.store); failed runs are written as single runs files at once.
    A chunk of one run writes single files (`run_one`). Returns one status per run.

    Interrupted in this process (Ctrl-C in the in-process executor), the runs finished so far
    are written as the part before the interrupt propagates, so only unfinished runs rerun.
    A worker killed mid-chunk writes nothing for its ok runs: they are all rerun (exactly)."""
    if len(specs) == 1:
        return [run_one(ctx, specs[0])]
    statuses: list[dict[str, Any]] = []
    series: list[pl.DataFrame] = []
    rows: list[pl.DataFrame] = []
    try:
        for spec in specs:
            status, frame, row = _compute(ctx, spec)
            statuses.append(status)
            if frame is not None:
                series.append(frame)
                rows.append(row)
    finally:
        if rows:
            write_part(ctx, k, series, rows)
    return statuses


def write_part(ctx: Context, k: int, series: list[pl.DataFrame],
               rows: list[pl.DataFrame]) -> None:
    out = Path(ctx.out)
    name = part_name(k)
    write_parquet_atomic(_stack(series), out / "series" / name)
    write_parquet_atomic(_stack(rows), out / "runs" / name)


def _stack(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """One frame of `frames`: a plain vertical concat when they share a schema (the usual case),
    else a diagonal one that unifies columns (a runner adding a metric, an all-null column)."""
    try:
        return pl.concat(frames, how="vertical", rechunk=True)
    except (pl.exceptions.PolarsError, ValueError):
        return pl.concat(frames, how="diagonal_relaxed", rechunk=True)


def ping() -> int:
    """A no-op task: submitted once per worker so the processes start before the first runs."""
    return os.getpid()


def write_failed(ctx: Context, spec: RunSpec, error: str, trace: str | None,
                 duration: float = 0.0) -> None:
    """Record a failed run (also used by the parent for runs whose worker kept dying)."""
    out = Path(ctx.out)
    series_path(out, spec).unlink(missing_ok=True)   # no stale series from an earlier attempt
    write_parquet_atomic(run_row(spec, ctx, status="failed", duration=duration, metrics=None,
                                 error=error, trace=trace), run_path(out, spec),
                         SMALL_FILE_COMPRESSION)
