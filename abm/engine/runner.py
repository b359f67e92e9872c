"""``run_experiment``: every scenario x sweep point x replication, streamed to a results folder.

Order of work:
1. validate everything (executor options, every run's config, the results folder against its
   manifest) before writing anything: bad input leaves the disk untouched;
2. lock the folder, write ``manifest.json`` (status ``running``), find the finished runs;
3. submit the unfinished runs in chunks (blocks of about CHUNK_SECONDS of work) with a bounded
   number in flight; each worker writes its chunk's parts and returns a small status per run;
   a lost worker's runs are requeued one per task (bounded);
4. update the manifest, write the summaries, build the report.
Ctrl-C stops the workers, keeps every finished run and re-raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abm.engine import manifest as manifest_io
from abm.engine import store, worker
from abm.engine.executors import (
    Pool,
    Starting,
    check_scheduler_address,
    is_broken,
    require_dask,
)
from abm.engine.files import (
    OWN_ENTRIES,
    TMP_SUFFIX,
    CannotWrite,
    FolderLock,
    check_no_links,
    is_disk_error,
    remove_stale_temps,
    write_json_atomic,
)
from abm.engine.forkserver import warm_up
from abm.engine.guard import check_guarded
from abm.errors import ConfigError
from abm.experiment import MAX_RUNS, Experiment, RunSpec
from abm.names import METRICS
from abm.progress import Progress

CHUNK_SECONDS = 1.0    # target work per task: runs travel in blocks of about this many seconds
MAX_CHUNK = 2000       # runs per task at most
CHUNK_RUNS: int | None = None   # a fixed number of runs per task (tests); None: sized by timing
MAX_ATTEMPTS = 3       # times a run may be lost with its worker before it is recorded as failed
MAX_RESTARTS = 10      # local pool restarts per invocation before giving up
EXECUTORS = ("local", "dask")


class WorkersLost(RuntimeError):
    """The local worker pool broke more often than MAX_RESTARTS: not a model error."""


@dataclass
class BatchResult:
    """What one `run_experiment` call did. Times in seconds."""

    out: Path                      # results folder
    planned: int                   # runs in the design
    computed: int                  # runs computed now (ok or failed)
    reused: int                    # finished ok runs found from an earlier invocation
    failed: int                    # runs computed now that failed
    report: Path | None            # report/index.html, or None when not built
    seconds: float                 # wall time of the call
    notes: list[str] = field(default_factory=list)   # e.g. why the report was skipped


@dataclass
class _Plan:
    specs: list[RunSpec]
    stored: dict[str, Any] | None
    discard: bool


def default_out(exp: Experiment) -> Path:
    return Path("results") / exp.name


# --------------------------------------------------------------------------------------------------
# validation (nothing is written)
# --------------------------------------------------------------------------------------------------


def _check_options(workers: int | None, executor: str, scheduler: str | None,
                   has_instance: bool) -> None:
    if executor not in EXECUTORS:
        raise ConfigError(None, "executor", f"unknown executor '{executor}'; allowed: "
                          f"{', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError(None, "workers", f"must be a whole number of at least 1 (got "
                          f"{workers!r})")
    if scheduler and executor != "dask":
        raise ConfigError(None, "scheduler", "a scheduler address needs executor 'dask'")
    if executor == "dask" and not has_instance:
        require_dask()
        if scheduler:
            check_scheduler_address(scheduler)


def _check_configs(exp: Experiment, specs: list[RunSpec]) -> None:
    """Validate the config of every (scenario, sweep point) once: a bad sweep value must stop
    the experiment before it starts, not fail thousands of runs."""
    exp.check_design(specs)


def _check_folder(exp: Experiment, out: Path, force: bool) -> tuple[dict | None, bool]:
    """The stored manifest (or None) and whether stored runs must be discarded (force only).
    Called before anything is written and again under the folder lock (another run may have
    written the folder in between)."""
    _check_out_path(out)
    if not out.is_dir():
        return None, False
    check_no_links(out)
    path = out / manifest_io.MANIFEST
    if not path.exists():
        if any(p.name != ".lock" for p in out.iterdir()):
            raise ConfigError(str(out), None, f"exists and is not an abm results folder (no "
                              f"{manifest_io.MANIFEST}); choose another folder")
        return None, False
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        if force and all(p.name in OWN_ENTRIES or p.name.endswith(TMP_SUFFIX)
                         for p in out.iterdir()):
            return None, True     # only what abm writes is there: ours, with a damaged manifest
        raise ConfigError(str(path), None, f"unreadable manifest ({exc}); "
                          + ("the folder holds files abm did not write, so --force deletes "
                             "nothing here: choose another --out" if force else
                             "use --force to discard the folder's runs")) from None
    if not manifest_io.is_ours(stored):
        raise ConfigError(str(path), None, "is not the manifest of an abm results folder (no "
                          "format marker and experiment name); abm neither writes nor deletes "
                          "anything here: choose another --out")
    old, new = stored.get("config_hash"), exp.config_hash()
    if old not in (new, exp.config_hash(legacy=True)):
        if force:
            return stored, True
        raise ConfigError(str(out), None, f"holds runs of a different experiment config "
                          f"(stored hash {old}, this config {new}); use --force to discard "
                          "them, or choose another --out")
    return stored, False


def _check_out_path(out: Path) -> None:
    """`out` is a folder or can be made one: neither it nor a path above it is a file."""
    if out.exists() and not out.is_dir():
        raise ConfigError(str(out), None, "is a file; expected a results folder")
    above = next((p for p in out.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ConfigError(str(out), None, f"cannot be a results folder: '{above}' above it is "
                          "a file, not a folder; choose an --out inside a folder")


def plan(exp: Experiment, out: Path, *, force: bool) -> _Plan:
    specs = exp.design()
    _check_configs(exp, specs)
    stored, discard = _check_folder(exp, out, force)
    return _Plan(specs, stored, discard)


# --------------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------------


def run_experiment(exp: Experiment, out: str | Path | None = None, *, workers: int | None = None,
                   executor: str = "local", scheduler: str | None = None, quiet: bool = False,
                   force: bool = False, report: bool = True,
                   executor_instance: Executor | None = None,
                   series: str = "all", max_runs: int = MAX_RUNS) -> BatchResult:
    """Run every scenario x sweep point x replication of `exp` into `out` (default
    ``results/<experiment name>``), resuming from the runs already there.

    workers: parallel workers (default: all cores; 1 runs in this process). executor: "local"
    (process pool) or "dask" (a LocalCluster, or the scheduler at `scheduler`).
    `executor_instance`: any concurrent.futures.Executor to use instead (not shut down here).
    force: discard stored runs made with a different config instead of refusing.
    report: build ``report/index.html`` after the summaries.
    series: what is stored of each run's per-step series: "all", "bands" (only the columns the
    fan charts and pages need, of at most worker.BAND_RUNS runs per scenario) or "none".
    max_runs: a design with more runs is refused before it is built.
    Raises ConfigError for bad input (before writing anything) and KeyboardInterrupt after a
    clean stop on Ctrl-C.
    """
    start = time.perf_counter()
    out = Path(out) if out is not None else default_out(exp)
    _check_options(workers, executor, scheduler, executor_instance is not None)
    _check_out_path(out)    # before any worker starts: the cheap checks first
    exp.check_size(max_runs)      # counted before the design is built
    check_guarded(executor_instance is None and (
        (executor == "local" and (workers or os.cpu_count() or 1) > 1)
        or (executor == "dask" and scheduler is None)))
    if series not in worker.SERIES_MODES:
        raise ConfigError(None, "series", f"unknown series mode '{series}'; allowed: "
                          f"{', '.join(worker.SERIES_MODES)}")
    runner = worker.RUNNER
    worker.resolve_runner(runner)       # an unimportable runner fails here, not in every run
    pool: Pool | None = None
    starting: Starting | None = None
    if executor_instance is None and executor == "local":
        # the local pool starts now: its processes fork and import while the design is built
        # and checked (a pool writes nothing, so bad input still leaves the disk untouched)
        warm_up(executor, workers)
        pool = Pool(executor, workers, runner)
        pool.start_workers()
    elif executor_instance is None and executor == "dask" and scheduler is None:
        # a LocalCluster, likewise; input refused later waits for its start (seconds) and stops
        # it, so the folder's checks, which need no design, come first
        _check_series_mode(*_check_folder(exp, out, force), series, out, force)
        warm_up(executor, workers)      # the fork server of its worker processes, now
        starting = Starting(executor, workers, runner)
    try:
        the_plan = plan(exp, out, force=force)
        the_plan.discard = _check_series_mode(the_plan.stored, the_plan.discard, series, out,
                                              force)
        if pool is None:
            try:
                pool = starting.pool() if starting is not None else Pool(
                    executor, workers, runner, scheduler=scheduler, instance=executor_instance)
            except OSError as exc:              # e.g. no scheduler at that address
                raise ConfigError(None, "scheduler", f"cannot start or reach the dask cluster "
                                  f"({exc})") from None
    except BaseException:
        if pool is not None:
            pool.shutdown(abandon=True)
        elif starting is not None:
            starting.abandon()
        raise
    finished = False
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if is_disk_error(exc):
                raise CannotWrite(out, exc) from None
            raise
        lock = FolderLock(out)
        if not lock.acquire():
            raise ConfigError(str(out), None, "is being written by another abm run")
        try:
            # the stored config again, under the lock: a run that started meanwhile with
            # another config must not have its results adopted
            stored, discard = _check_folder(exp, out, force)
            discard = _check_series_mode(stored, discard, series, out, force)
            the_plan = _Plan(the_plan.specs, stored, discard)
            try:
                result = _run(exp, out, the_plan, pool, runner, quiet=quiet, series=series)
                if report:    # under the lock too: no run or other build writes meanwhile
                    result.report = _build_report(out, result.notes)
            except OSError as exc:
                if is_disk_error(exc):
                    raise CannotWrite(out, exc) from None
                raise
        finally:
            lock.release()
        finished = True
    finally:
        pool.shutdown(abandon=not finished)
    result.seconds = time.perf_counter() - start
    return result


def _build_report(out: Path, notes: list[str]) -> Path | None:
    """Build the pages; the caller holds the folder lock."""
    try:
        pages = importlib.import_module("abm.report")
    except ImportError as exc:
        notes.append(f"report not built: abm.report cannot be imported ({exc})")
        return None
    build = getattr(pages, "build_locked", None) or pages.build_report
    index = build(out)
    return Path(index) if index is not None else out / "report" / "index.html"


def _check_series_mode(stored: dict | None, discard: bool, series: str, out: Path,
                       force: bool) -> bool:
    """A folder keeps one series mode: runs stored without (all) series cannot be reused by a
    call that wants them, and mixing modes would make the bands cover some runs only. True when
    the stored runs must be discarded (another mode, with force)."""
    if stored is None or discard:
        return discard
    old = stored.get("series", "all")
    if old != series and (stored.get("counts") or {}).get("planned"):
        if force:
            return True
        raise ConfigError(str(out), None, f"holds runs stored with --series {old}; rerun with "
                          f"--series {old}, or use --force to discard them (or another --out)")
    return False


def _run(exp: Experiment, out: Path, the_plan: _Plan, pool: Pool, runner: str, *,
         quiet: bool, series: str = "all") -> BatchResult:
    notes: list[str] = []
    if the_plan.discard:
        stored = the_plan.stored
        store.discard(out, manifest_io.wrote(stored) if stored else None)
        notes.append("discarded the stored runs of a different config or series mode (force)")
    for folder in (out, out / "runs", out / "series", out / "summary", out / "report"):
        remove_stale_temps(folder)
    for warning in store.quarantine(out):   # damaged files: moved aside, their runs rerun
        print(f"abm run: warning: {warning}", file=sys.stderr)
        notes.append(warning)
    store.remove_orphan_series(out)     # a series part whose runs part was never written
    store.compact(out, 1)               # leftovers of an interrupted invocation
    finished = store.finished(out)
    specs = the_plan.specs
    todo = [s for s in specs if s.run_id not in finished]
    reused = len(specs) - len(todo)

    manifest = manifest_io.build(exp, specs, executor=pool.describe())
    manifest["series"] = series
    if series == "bands":
        manifest["band_runs"] = worker.BAND_RUNS    # series kept of at most this many per scenario
    if the_plan.stored and not the_plan.discard:
        manifest["created"] = the_plan.stored.get("created", manifest["created"])
        manifest["history"] = list(the_plan.stored.get("history") or [])
    call = {"started": manifest["updated"], "version": manifest["version"],
            "git_commit": manifest["git_commit"], "planned": len(specs), "reused": reused,
            "computed": 0, "failed": 0, "status": "running"}
    manifest["history"].append(call)
    manifest["counts"]["reused"] = reused
    if reused:
        notes.extend(_code_changed(manifest["history"], reused))
    write_json_atomic(manifest, out / manifest_io.MANIFEST)

    sweep = exp.config.sweep
    ctx = worker.Context(raw=exp.raw, file=exp.file, out=str(out.resolve()), runner=runner,
                         metrics=tuple(METRICS),
                         params=tuple(sweep.parameters) if sweep is not None else (),
                         series=series, band_runs=worker.BAND_RUNS)
    progress = Progress(len(todo), quiet=quiet, workers=pool.workers)
    if reused:
        progress.message(f"{out}: {reused} of {len(specs)} runs already done (reused), "
                         f"{len(todo)} to run")
    counts = Counter()
    status = "failed"
    first_part = store.next_part(out)
    try:
        _loop(todo, ctx, pool, progress, counts, notes, first_part)
        status = "complete"
    except (KeyboardInterrupt, OSError) as exc:
        if isinstance(exc, OSError) and not is_disk_error(exc):
            raise
        status = "interrupted"        # Ctrl-C, or a disk that takes no more: a rerun resumes
        pool.shutdown(abandon=True)
        if pool.kind in ("local", "inline"):
            # its workers are gone: a file they were writing is litter now (dask workers may
            # still be finishing theirs, which are then cleaned by the next invocation)
            for folder in (out / "runs", out / "series"):
                remove_stale_temps(folder)
            store.remove_orphan_series(out)
        raise
    finally:
        try:
            if status != "interrupted":
                store.compact(out, 1)     # single files (runs of one-run tasks) into a part
            elif pool.kind in ("local", "inline"):
                _compact_quietly(out)   # (dask tasks may still write parts: compact next time)
        finally:
            manifest.update(status=status, updated=manifest_io.now())
            manifest["counts"].update(computed=counts["ok"] + counts["failed"],
                                      failed=counts["failed"])
            call.update(status=status, computed=counts["ok"] + counts["failed"],
                        failed=counts["failed"])
            _write_manifest(manifest, out / manifest_io.MANIFEST)
            progress.close({"interrupted": "interrupted: finished runs are kept, rerun to "
                            "resume", "failed": "stopped by an error"}.get(status, ""))
    from abm.summary import write_summaries

    write_summaries(out, exp.baseline)
    return BatchResult(out=out, planned=len(specs), computed=counts["ok"] + counts["failed"],
                       reused=reused, failed=counts["failed"], report=None, seconds=0.0,
                       notes=notes)


def _compact_quietly(out: Path) -> None:
    """Compact after an interruption; a disk that is full stays so: the small files are kept
    (the next run compacts them) and the interruption is what is reported."""
    try:
        store.compact(out, 1)
    except OSError as exc:
        if not is_disk_error(exc):
            raise


def _write_manifest(manifest: dict, path: Path) -> None:
    """Rewrite the manifest; on a full or read-only disk, at least mark the one there
    `interrupted` in place (its blocks are already allocated), so it never says `running`."""
    try:
        write_json_atomic(manifest, path)
    except OSError as exc:
        if not is_disk_error(exc) or manifest["status"] != "interrupted":
            raise
        try:
            text = path.read_text(encoding="utf-8")
            marked = text.replace('"status": "running"', '"status": "interrupted"')
            with path.open("r+", encoding="utf-8") as handle:
                handle.write(marked)
        except OSError:
            pass                            # nothing can be written: the error says so


def _code_changed(history: list[dict], reused: int) -> list[str]:
    """A warning when stored runs were computed by other code (another version or commit):
    the config hash cannot see a change of the model itself. `history[-1]` is this call."""
    now = (history[-1].get("version"), history[-1].get("git_commit"))
    other = sorted({(h.get("version"), h.get("git_commit")) for h in history[:-1]
                    if h.get("computed")} - {now}, key=str)
    if not other:
        return []
    which = ", ".join(f"abm {v} (commit {c})" for v, c in other)
    return [f"{reused} reused runs include runs computed by {which}; this is abm {now[0]} "
            f"(commit {now[1]}). If the model changed, delete the folder or use another --out "
            "to recompute them"]


def chunk_size(seconds_per_run: float | None, remaining: int, workers: int) -> int:
    """Runs per task: about CHUNK_SECONDS of work (a task then costs its scheduling and its two
    file writes once per block, not per run), at most MAX_CHUNK, and small enough that the
    remaining runs still make 2 tasks per worker (no worker idles at the end). 1 until a first
    run has been timed."""
    if CHUNK_RUNS is not None:
        return max(1, CHUNK_RUNS)
    if seconds_per_run is None:
        return 1
    size = int(CHUNK_SECONDS / max(seconds_per_run, 1e-6))
    size = min(size, MAX_CHUNK, -(-remaining // (2 * max(workers, 1))))
    return max(1, size)


def _loop(todo: list[RunSpec], ctx: worker.Context, pool: Pool, progress: Progress,
          counts: Counter, notes: list[str], first_part: int) -> None:
    """Keep at most `pool.window` chunks of runs in flight until every run is recorded."""
    pending = deque(todo)
    inflight: dict[Future, list[RunSpec]] = {}
    attempts: Counter = Counter()
    suspect: set[str] = set()     # runs lost with a worker: run alone from then on
    timing = {"seconds": 0.0, "runs": 0}
    next_part = first_part

    def lost(spec: RunSpec, exc: BaseException) -> None:
        attempts[spec.run_id] += 1
        suspect.add(spec.run_id)
        if attempts[spec.run_id] < MAX_ATTEMPTS:
            pending.appendleft(spec)
            return
        error = (f"WorkerLost: the worker computing this run died {MAX_ATTEMPTS} times "
                 f"({type(exc).__name__}: {exc})")
        worker.write_failed(ctx, spec, error, None)
        counts["failed"] += 1

    def check_disk(exc: BaseException) -> None:
        if is_disk_error(exc):      # no point in retrying: every run would fail to write
            raise exc

    def take() -> list[RunSpec]:
        if pending[0].run_id in suspect:
            return [pending.popleft()]
        per_run = timing["seconds"] / timing["runs"] if timing["runs"] else None
        size = chunk_size(per_run, len(pending), pool.workers)
        chunk: list[RunSpec] = []
        while pending and len(chunk) < size and pending[0].run_id not in suspect:
            chunk.append(pending.popleft())
        return chunk

    while pending or inflight:
        broken: BaseException | None = None
        while pending and len(inflight) < pool.window and broken is None:
            chunk = take()
            try:
                future = pool.executor.submit(worker.run_chunk, ctx, chunk, next_part)
            except BrokenProcessPool as exc:
                pending.extendleft(reversed(chunk))
                broken = exc
                break
            inflight[future] = chunk
            next_part += 1
        done, _ = wait(list(inflight), timeout=0.5, return_when=FIRST_COMPLETED)
        for future in done:
            chunk = inflight.pop(future)
            try:
                statuses = future.result()
            except Exception as exc:  # noqa: BLE001 - the task never ran to its end
                check_disk(exc)
                if is_broken(exc):
                    broken = exc
                for spec in chunk:
                    lost(spec, exc)
                continue
            for status in statuses:
                counts[status["status"]] += 1
                timing["seconds"] += status.get("seconds") or 0.0
                timing["runs"] += 1
        if broken is not None:
            # a dead process breaks the whole local pool: every run in flight is lost
            for chunk in inflight.values():
                for spec in chunk:
                    lost(spec, broken)
            inflight.clear()
            if not pool.restartable:
                raise broken
            if pool.restarts >= MAX_RESTARTS:
                raise WorkersLost(f"worker processes died {pool.restarts + 1} times; "
                                  f"{len(pending)} runs were not run (rerun to retry)")
            pool.restart()
            notes.append(f"worker pool restarted after: {broken}")
        progress.update(counts["ok"] + counts["failed"], counts["failed"])
