"""Where an executor's time goes in a study (not a test): phases, and CPU inside and outside
the runs, for the local pool or the dask LocalCluster (issue 17: Dask within 15% of local).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/trace_executor.py local --runs 400
    PYTHONPATH=$PWD .venv/bin/python benchmarks/trace_executor.py dask --runs 400
    PYTHONPATH=$PWD .venv/bin/python benchmarks/trace_executor.py dask --dask-defaults

One `run_experiment` of `runs` baseline runs (240 steps, 2 workers, no summaries or report, as
`bench_engine.py executors`), each task wrapped so its worker appends a line (start, end, runs,
the task thread's CPU, the process's CPU) to a log. Printed, in seconds from the call's start:
the pool's start, the first task's start, the last task's end, the shutdown; per worker the
runs, tasks, CPU in the runs (the task thread) and CPU of its other threads meanwhile (dask's
event loop, profiler, monitors; a local worker's result thread); the parent's CPU; and the CPU
of the whole study (parent, its children, the fork server and the workers it forked, read from
/proc once they have exited). `--dask-defaults`: dask's own settings (spawned workers, profiler
on, default monitor intervals) instead of `executors.LOCAL_CLUSTER_CONFIG` and the fork server.
Under load, compare the CPU figures (the wall times measure the other processes too).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "baseline.toml"
LOG_ENV = "ABM_TRACE_LOG"


def traced_chunk(ctx, specs, k):
    """`worker.run_chunk`, logging its timing (runs in the worker process)."""
    from abm.engine.worker import run_chunk

    start, thread, process = time.time(), time.thread_time(), time.process_time()
    statuses = run_chunk(ctx, specs, k)
    line = {"pid": os.getpid(), "start": start, "end": time.time(), "runs": len(specs),
            "thread_cpu": time.thread_time() - thread,
            "process_cpu": time.process_time() - process}
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")
    return statuses


def _proc_cpu(pid: int) -> float:
    """CPU seconds of process `pid` and of its children it has reaped (/proc/pid/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def trace(executor: str, runs: int, workers: int, dask_defaults: bool) -> dict:
    import abm
    import abm.summary
    from abm.engine import executors, runner, worker

    abm.summary.write_summaries = lambda *a, **k: None
    worker.run_chunk = traced_chunk          # what runner._loop submits
    marks: dict[str, float] = {}
    if dask_defaults:
        import dask.config

        executors._local_cluster_settings = lambda: dask.config.set({})
        runner.warm_up = lambda kind, n: None
    pool_init, pool_shutdown = executors.Pool.__init__, executors.Pool.shutdown

    def init(self, *args, **kwargs):
        pool_init(self, *args, **kwargs)
        marks["pool started"] = time.time()

    def shutdown(self, *args, **kwargs):
        marks.setdefault("shutdown begins", time.time())
        pool_shutdown(self, *args, **kwargs)
        marks["shutdown ends"] = time.time()

    executors.Pool.__init__, executors.Pool.shutdown = init, shutdown
    exp = abm.load_experiment(BASELINE, {"experiment.replications": runs,
                                         "experiment.name": "trace"})
    tmp = Path(tempfile.mkdtemp(prefix="abm-trace-"))
    os.environ[LOG_ENV] = str(tmp / "tasks.jsonl")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    t0 = time.time()
    abm.run_experiment(exp, tmp / "out", workers=workers, executor=executor, quiet=True,
                       report=False)
    wall = time.time() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    parent = usage.ru_utime + usage.ru_stime - cpu0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    study = parent + children.ru_utime + children.ru_stime
    from multiprocessing import forkserver

    server = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if server:
        time.sleep(0.5)                      # its workers exit and are reaped
        study += _proc_cpu(server)
    tasks = [json.loads(line) for line in (tmp / "tasks.jsonl").read_text().splitlines()]
    shutil.rmtree(tmp, ignore_errors=True)
    per_worker = {}
    for pid in sorted({t["pid"] for t in tasks}):
        mine = [t for t in tasks if t["pid"] == pid]
        thread = sum(t["thread_cpu"] for t in mine)
        per_worker[pid] = {"runs": sum(t["runs"] for t in mine), "tasks": len(mine),
                           "run_cpu_s": round(thread, 2),
                           "other_threads_cpu_s": round(sum(t["process_cpu"] for t in mine)
                                                        - thread, 2)}
    rel = {name: round(at - t0, 2) for name, at in marks.items()}
    rel["first task starts"] = round(min(t["start"] for t in tasks) - t0, 2)
    rel["last task ends"] = round(max(t["end"] for t in tasks) - t0, 2)
    return {"executor": executor + (" (dask defaults)" if dask_defaults else ""),
            "load": round(os.getloadavg()[0], 1), "wall_s": round(wall, 2),
            "phases_s": dict(sorted(rel.items(), key=lambda kv: kv[1])),
            "workers": per_worker, "parent_cpu_s": round(parent, 2),
            "study_cpu_s": round(study, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("executor", choices=("local", "dask"))
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dask-defaults", action="store_true")
    args = parser.parse_args()
    print(json.dumps(trace(args.executor, args.runs, args.workers, args.dask_defaults),
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
