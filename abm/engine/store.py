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

Damage (a full disk, a SIGKILL mid-write, a user's editor): `quarantine` checks every parquet
file's footer and columns and moves a damaged one into ``quarantine/`` (outside ``runs/`` and
``series/``), with the part of the same k in the other folder, so that the runs they held are
run again. A run counts as done (`finished`) only when its ok row and its series are present:
a single runs file needs its single series file, a runs part its series part.
"""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from abm.engine.files import write_parquet_atomic

PART = re.compile(r"^part-(\d+)\.parquet$")
QUARANTINE = "quarantine"
RESULT_DIRS = ("runs", "series", "summary", "report", QUARANTINE)
DELETE_THREADS = 8
# columns every file of each folder has (docs/architecture.md)
REQUIRED = {"runs": ("run_id", "status"), "series": ("scenario", "point", "replication", "step")}


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


def damage(path: Path, kind: str) -> str | None:
    """Why a parquet file of folder `kind` ("runs" or "series") cannot be read, or None when
    its footer reads and it has the folder's columns."""
    try:
        if path.stat().st_size == 0:
            return "empty file"
        names = pl.read_parquet_schema(path)
    except Exception as exc:  # noqa: BLE001 - polars raises several kinds for a bad footer
        return f"unreadable parquet ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    missing = [c for c in REQUIRED[kind] if c not in names]
    return f"columns missing: {', '.join(missing)}" if missing else None


def quarantine(out: Path) -> list[str]:
    """Move every damaged file of ``runs/`` and ``series/`` (and the part of the same k in the
    other folder, or a runs part whose series part is gone) into ``quarantine/<folder>/``;
    returns one warning per file moved. Call while holding the folder lock."""
    out = Path(out)
    moves: dict[Path, str] = {}
    for kind in ("runs", "series"):
        folder = out / kind
        if folder.is_dir():
            for path in sorted(folder.glob("*.parquet")):
                reason = damage(path, kind)
                if reason is not None:
                    moves[path] = reason
    runs_parts = {p.name for p in parts(out / "runs")} if (out / "runs").is_dir() else set()
    for name in sorted(runs_parts):
        runs_part, series_part = out / "runs" / name, out / "series" / name
        if runs_part in moves and series_part.exists() and series_part not in moves:
            moves[series_part] = f"its runs part {runs_part} is damaged"
        elif series_part in moves and runs_part not in moves:
            moves[runs_part] = f"its series part {series_part} is damaged"
        elif not series_part.exists() and runs_part not in moves:
            moves[runs_part] = f"its series part {series_part} is missing"
    for runs_part, run_id in duplicate_parts(out, set(moves)):
        if runs_part not in moves:
            moves[runs_part] = f"duplicates run {run_id} of an earlier part"
            series_part = out / "series" / runs_part.name
            if series_part.exists():
                moves.setdefault(series_part, f"its runs part {runs_part} is a duplicate")
    warnings = []
    for path, reason in moves.items():
        target = _quarantine_path(out, path)
        os.replace(path, target)
        warnings.append(f"{path}: {reason}; moved to {target}; its runs are run again")
    return warnings


def _quarantine_path(out: Path, path: Path) -> Path:
    folder = out / QUARANTINE / path.parent.name
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / path.name, 1
    while target.exists() or target.is_symlink():
        target, n = folder / f"{path.stem}.{n}{path.suffix}", n + 1
    return target


PART_BLOCK = 1_000_000   # each engine call numbers its parts from a new block (see next_part)


def next_part(out: Path) -> int:
    """The first part number of a new engine call: the start of the block after the highest
    part number in ``runs/`` or ``series/``. Workers of an earlier call that are still
    finishing (Dask tasks on a cluster after Ctrl-C) write only numbers of their own block, so
    they never overwrite a part of this call."""
    top = -1
    for kind in ("runs", "series"):
        folder = Path(out) / kind
        if folder.is_dir():
            top = max([top, *(int(PART.match(p.name).group(1)) for p in parts(folder))])
    return (top // PART_BLOCK + 1) * PART_BLOCK


def remove_orphan_series(out: Path) -> list[Path]:
    """Delete series parts without their runs part (a worker killed between the two writes of
    a chunk: its runs are not done and are run again). Call while holding the folder lock,
    with no worker of this folder running."""
    runs_dir, series_dir = Path(out) / "runs", Path(out) / "series"
    if not series_dir.is_dir():
        return []
    have = {p.name for p in parts(runs_dir)} if runs_dir.is_dir() else set()
    orphans = [p for p in parts(series_dir) if p.name not in have]
    for path in orphans:
        path.unlink(missing_ok=True)
    return orphans


def duplicate_parts(out: Path, skip: set[Path] | frozenset = frozenset()
                    ) -> list[tuple[Path, str]]:
    """Runs parts holding an ok run that an earlier part (lower number) already holds: written
    by a task that was given up on but finished later (a Dask worker after the engine left).
    The later part is the duplicate; `quarantine` moves it aside with its series part."""
    folder = Path(out) / "runs"
    files = [p for p in parts(folder) if p not in skip] if folder.is_dir() else []
    if len(files) < 2:
        return []
    rows = _ids(files, path=True).filter(pl.col("status") == "ok")
    rows = rows.with_columns(pl.col("path").str.extract(r"part-(\d+)\.parquet$")
                             .cast(pl.Int64).alias("k"))
    first = rows.group_by("run_id").agg(pl.col("k").min().alias("first"))
    later = (rows.join(first, on="run_id").filter(pl.col("k") > pl.col("first"))
             .group_by("path").agg(pl.col("run_id").first()).sort("path"))
    return [(Path(p), r) for p, r in later.iter_rows()]


def finished(out: Path) -> set[str]:
    """Run ids that are done: an ok row in ``runs/`` and its series present (a runs part's
    series part exists, see `quarantine`; a single runs file needs its single series file)."""
    folder = Path(out) / "runs"
    if not folder.is_dir():
        return set()
    done = _ids(parts(folder))
    single = _ids(singles(folder))
    series_dir = Path(out) / "series"
    ok = set(done.filter(pl.col("status") == "ok")["run_id"].to_list())
    for run_id in single.filter(pl.col("status") == "ok")["run_id"].to_list():
        if run_id in ok or (series_dir / f"{file_id(run_id)}.parquet").exists():
            ok.add(run_id)
    return ok


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
    # a run without its series is not done (it is run again): parts stay paired
    has_series = [(series_dir / f"{file_id(r)}.parquet").exists() for r in ok["run_id"]]
    ok = ok.filter(pl.Series(has_series, dtype=pl.Boolean))
    if ok.height < max(1, min_runs):
        return 0
    k = max((int(PART.match(p.name).group(1)) for p in existing), default=-1) + 1
    name = f"part-{k:05d}.parquet"
    run_ids, paths = ok["run_id"].to_list(), ok["path"].to_list()
    series = [series_dir / f"{file_id(r)}.parquet" for r in run_ids]
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


def discard(out: Path, wrote: list[str] | None = None) -> None:
    """Remove stored runs, series, summaries, pages and quarantined files (a forced rerun with
    a new config): only the folders of RESULT_DIRS that the manifest says we wrote (`wrote`,
    default all of them), never through a symbolic link (see files.check_no_links)."""
    names = [n for n in (wrote if wrote is not None else RESULT_DIRS) if n in RESULT_DIRS]
    for name in names:
        path = Path(out) / name
        if path.is_symlink():
            raise OSError(f"{path} is a symbolic link; not deleting through it")
        if path.is_dir():
            shutil.rmtree(path)
