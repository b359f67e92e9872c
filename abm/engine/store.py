"""The ``runs/`` and ``series/`` folders: which runs are finished, compaction, discarding.

Workers write one small file per run (``<file_id>.parquet``). Thousands of small files make
analysis slow, so the parent merges finished ok runs into ``part-<k>.parquet`` files, in both
folders, with the same k. Resume needs only the ``run_id`` and ``status`` columns of the runs
folder, whatever mix of parts and single files it holds.

Crash safety of a compaction (the process may die at any point):
1. write ``series/part-<k>`` (k = one more than the highest runs part), atomically;
2. write ``runs/part-<k>``, atomically: from here the merged runs count as finished in the part;
3. delete the merged single files, runs first, then series.
Dying after 1 leaves an orphan series part that the next compaction overwrites (same k); dying
after 2 leaves single files duplicating part rows, which the next compaction deletes (and
``abm.summary.load_runs`` ignores meanwhile). Failed runs are not merged: their single file is
overwritten when the run is retried.
"""

from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from abm.engine.files import write_parquet_atomic

PART = re.compile(r"^part-(\d+)\.parquet$")
RESULT_DIRS = ("runs", "series", "summary", "report")
DELETE_THREADS = 8


def file_id(run_id: str) -> str:
    return run_id.replace("/", "__")


def parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("part-*.parquet") if PART.match(p.name))


def singles(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.parquet") if not PART.match(p.name))


def _ids(files: list[Path], columns: tuple[str, ...] = ("run_id", "status"),
         path: bool = False) -> pl.DataFrame:
    """Some always-present string columns of many runs files (and each row's file if `path`).

    One multi-file scan: several times faster than a scan per file. Other columns may differ
    between files, hence extra_columns="ignore"."""
    schema = {c: pl.String for c in (*columns, *(("path",) if path else ()))}
    if not files:
        return pl.DataFrame(schema=schema)
    return (pl.scan_parquet(files, extra_columns="ignore", missing_columns="insert",
                            include_file_paths="path" if path else None)
            .select(*schema).collect())


def finished(out: Path) -> set[str]:
    """Run ids with an ok row in ``runs/`` (parts and single files)."""
    folder = Path(out) / "runs"
    if not folder.is_dir():
        return set()
    ids = _ids(parts(folder) + singles(folder))
    return set(ids.filter(pl.col("status") == "ok")["run_id"].to_list())


def compact(out: Path, min_runs: int = 2) -> int:
    """Merge the single-file ok runs (and their series) into a new part when there are at least
    `min_runs` of them; returns how many runs were merged."""
    runs_dir, series_dir = Path(out) / "runs", Path(out) / "series"
    if not runs_dir.is_dir():
        return 0
    single = singles(runs_dir)
    if not single:
        return 0
    existing = parts(runs_dir)
    in_parts = set(_ids(existing, ("run_id",))["run_id"].to_list())
    rows = _ids(single, path=True)
    # leftovers of a compaction that died before deleting what it merged
    dup = rows.filter(pl.col("run_id").is_in(list(in_parts)))
    _delete(dup["run_id"].to_list(), dup["path"].to_list(), series_dir)
    ok = rows.filter((pl.col("status") == "ok") & ~pl.col("run_id").is_in(list(in_parts)))
    if ok.height < max(1, min_runs):
        return 0
    k = max((int(PART.match(p.name).group(1)) for p in existing), default=-1) + 1
    name = f"part-{k:05d}.parquet"
    run_ids, paths = ok["run_id"].to_list(), ok["path"].to_list()
    series = [series_dir / f"{file_id(r)}.parquet" for r in run_ids]
    series = [p for p in series if p.exists()]
    if series:
        write_parquet_atomic(_concat(series), series_dir / name)
    write_parquet_atomic(_concat([Path(p) for p in paths]), runs_dir / name)
    _delete(run_ids, paths, series_dir)
    return len(run_ids)


def _concat(files: list[Path]) -> pl.LazyFrame | pl.DataFrame:
    """All rows of `files`. Files of one experiment almost always share a schema: then one
    multi-file scan (about 3x faster than a scan per file). Otherwise (a runner adding a metric,
    an all-null column typed differently) a diagonal concat that unifies the columns."""
    try:
        return pl.scan_parquet(files, missing_columns="insert", extra_columns="raise").collect()
    except (pl.exceptions.PolarsError, OSError):
        return pl.concat([pl.scan_parquet(f) for f in files], how="diagonal_relaxed")


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _delete(run_ids: list[str], paths: list[str], series_dir: Path) -> None:
    """Delete merged single files, runs first (a run's series without its runs row is
    harmless; the reverse would lose the series of a finished run)."""
    # Several threads: an unlink can take milliseconds (e.g. ext4 mounted with `discard`),
    # and the calls overlap well (measured 1.5 ms serial vs 0.3 ms per file with 8 threads).
    with ThreadPoolExecutor(DELETE_THREADS) as pool:
        list(pool.map(_unlink, [Path(p) for p in paths]))
        list(pool.map(_unlink, [series_dir / f"{file_id(r)}.parquet" for r in run_ids]))


def discard(out: Path) -> None:
    """Remove stored runs, series, summaries and pages (a forced rerun with a new config)."""
    for name in RESULT_DIRS:
        shutil.rmtree(Path(out) / name, ignore_errors=True)
