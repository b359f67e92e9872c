"""The fork server of the local pool, started as early as possible (`warm_up`).

Light on imports (the standard library only), so `abm run` can start the fork server before it
imports the engine and loads the experiment: the server's own imports (the model, polars:
about a second) then overlap the parent's instead of following them. Starting it writes
nothing, so bad input still leaves the disk untouched; the server exits with the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

# What the fork server imports once, so that every worker forked from it starts with the model
# imported; and, when it serves a dask LocalCluster (`executors.Pool`), dask's worker too (its
# import, ~0.7 s, is then paid once, not in every worker process).
PRELOAD = ["abm.engine.ignore_ctrl_c", "abm.model", "abm.simulate", "abm.engine.worker",
           "polars", "numpy"]
DASK_PRELOAD = ["distributed"]


# One thread per worker process for the numeric libraries: parallelism comes from the
# processes, and N processes x N threads each oversubscribe the cores (as dask's nannies also
# set). Values the user has set are kept.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "POLARS_MAX_THREADS": "1"}


def mp_context(dask: bool = False) -> multiprocessing.context.BaseContext:
    """The worker processes' start method: the fork server (started now if not yet; `dask`:
    preloading dask's worker as well) on Linux, spawn elsewhere. One fork server serves the
    whole process: started by one kind of pool, it keeps that preload for the other."""
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD + (DASK_PRELOAD if dask else []))
        _start_forkserver()
        return ctx
    return multiprocessing.get_context("spawn")


def _start_forkserver() -> None:
    """Start the fork server (once per process) with WORKER_ENV in its environment, which
    every worker forked from it inherits; the parent's own environment is restored."""
    from multiprocessing import forkserver

    added = {k: v for k, v in WORKER_ENV.items() if k not in os.environ}
    os.environ.update(added)
    try:
        forkserver.ensure_running()
    finally:
        for key in added:
            os.environ.pop(key, None)


def warm_up(kind: str, workers: int | None) -> None:
    """Start the fork server now (for a local pool of more than one worker, or a dask
    LocalCluster, whose worker processes it forks too), so its imports (about a second: mesa,
    polars; dask's with it) overlap the parent's imports and its validation of the experiment
    instead of delaying the first run. Called by `abm run` first thing and again by
    `run_experiment` (then a no-op); not for a dask cluster at a scheduler address (its
    workers are not started here)."""
    if kind == "local" and (workers or os.cpu_count() or 1) > 1:
        mp_context()
    elif kind == "dask":
        mp_context(dask=True)
