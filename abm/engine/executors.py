"""Executors: anything with the ``concurrent.futures.Executor`` interface runs the tasks.

- ``InlineExecutor``: runs each task in the calling process (one worker; easy to debug).
- ``local_pool``: a ``ProcessPoolExecutor``. On Linux its processes come from a *forkserver*
  that has preloaded the model, not from ``fork`` of the parent: the parent uses polars, whose
  thread pool does not survive ``fork`` (a child then hangs on its first parallel operation;
  reproduced with polars 2.1), and the forkserver still imports the model only once.
- ``dask_executor``: ``dask.distributed``: a ``LocalCluster`` of single-threaded worker processes,
  or ``Client(address)`` of a running scheduler (e.g. a dask-jobqueue SLURM cluster). The
  LocalCluster's worker processes are forked from the same fork server (with dask preloaded),
  and it runs with LOCAL_CLUSTER_CONFIG.

`Pool` wraps one of these with what the engine needs: how many tasks to keep in flight, a
restart after the pool broke, and a shutdown that can abandon running tasks on Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from abm.engine.forkserver import mp_context as _mp_context
from abm.engine.worker import init_worker
from abm.errors import ConfigError

CONNECT_TIMEOUT = 10   # seconds to reach a dask scheduler before giving up

# The dask settings of the LocalCluster abm starts (a cluster at --scheduler keeps its own):
# its background work, measured at 2-5 s of CPU in a 400-run study on 2 cores (the workers'
# and the parent's CPU outside the tasks; benchmarks/RESULTS.md, 2026-12-02 "Dask overhead"),
# competes with the runs for the same cores. Results do not depend on any of them.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,        # stack samples every 10 ms, per worker
    "distributed.admin.tick.interval": "1s",            # event-loop health check (20 ms)
    "distributed.admin.system-monitor.interval": "5s",  # psutil polls for the dashboard (0.5 s)
    "distributed.worker.memory.monitor-interval": "1s",  # memory limit checks (100 ms)
}


class InlineExecutor(Executor):
    """Runs each task when it is submitted, in this process. Ctrl-C (KeyboardInterrupt) and
    other BaseExceptions propagate to the caller instead of being stored in the future."""

    def submit(self, fn, /, *args, **kwargs) -> Future:  # type: ignore[override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - stored, as a pool would
            future.set_exception(exc)
        return future


def local_pool(workers: int, runner: str) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context(),
                               initializer=init_worker, initargs=(runner, os.getpid()))


def dask_available() -> bool:
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        return False
    return True


def require_dask() -> None:
    if not dask_available():
        raise ConfigError(None, "executor", "dask is not installed: pip install 'abm[dask]'")


SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")   # dask comm protocols with HOST:PORT


def check_scheduler_address(address: str, *, file: str | None = None,
                            key: str = "scheduler") -> None:
    """Raise ConfigError(file, key, ...) unless `address` reads as a dask scheduler address,
    [PROTOCOL://]HOST:PORT (dask's own parser would raise a ValueError deep inside Client)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    allowed = ("expected a dask scheduler address PROTOCOL://HOST:PORT (protocol "
               f"{', '.join(SCHEDULER_SCHEMES)}; e.g. tcp://10.0.0.5:8786)")
    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location) if scheme in SCHEDULER_SCHEMES else ("", 0)
    except (ValueError, TypeError):
        host, port = "", 0
    if not host or not 0 < int(port) < 65536:
        raise ConfigError(file, key, f"'{address}' is not a scheduler address; {allowed}")


class Pool:
    """The executor of one engine invocation and how to restart and stop it."""

    def __init__(self, kind: str, workers: int | None, runner: str, *,
                 scheduler: str | None = None, instance: Executor | None = None):
        self.kind = kind
        self.runner = runner
        self.scheduler = scheduler
        self.restarts = 0
        self._client: Any = None
        self._starter: threading.Thread | None = None
        self._cluster: Any = None
        self._settings: Any = None      # dask.config.set(...) held while our cluster lives
        if instance is not None:
            self.kind = "custom"
            self.workers = workers or 1
            self.executor: Executor = instance
        elif kind == "dask":
            self.workers = workers or os.cpu_count() or 1
            self.executor = self._start_dask()
        elif (workers or os.cpu_count() or 1) == 1:
            self.kind = "inline"
            self.workers = 1
            self.executor = InlineExecutor()
        else:
            self.workers = workers or os.cpu_count() or 1
            self.executor = local_pool(self.workers, runner)

    # -- dask -------------------------------------------------------------------------------------
    def _start_dask(self) -> Executor:
        from dask.distributed import Client, LocalCluster

        if self.scheduler:
            self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT)
            threads = sum(self._client.nthreads().values())
            self.workers = max(1, threads)
        else:
            self._settings = _local_cluster_settings()
            try:
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             silence_logs=logging.ERROR)
                self._client = Client(self._cluster)
            except BaseException:
                self._close_dask()
                raise
        # pure=False: a requeued run must be a new task, not the cached failed one
        return self._client.get_executor(pure=False)

    def _close_dask(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._settings is not None:
            self._settings.__exit__(None, None, None)     # the caller's dask config again
        self._client = self._cluster = self._settings = None

    # -- the engine's needs ---------------------------------------------------------------------
    def start_workers(self) -> None:
        """Start the worker processes now (one no-op task each) instead of at the first run,
        from a background thread: starting a process waits until the fork server has imported
        the model (about a second), and meanwhile the parent builds and checks the design."""
        if not isinstance(self.executor, ProcessPoolExecutor):
            return
        from abm.engine.worker import ping

        executor, count = self.executor, self.workers

        def start() -> None:
            try:
                for _ in range(count):
                    executor.submit(ping)
            except (RuntimeError, BrokenProcessPool):
                pass              # shut down (bad input) or broken: the engine handles both

        self._starter = threading.Thread(target=start, name="abm-pool-start", daemon=True)
        self._starter.start()

    @property
    def window(self) -> int:
        """Tasks kept in flight: enough to keep every worker busy while the parent handles
        results, few enough that memory does not grow with the number of runs."""
        return 1 if self.kind == "inline" else 4 * self.workers

    @property
    def restartable(self) -> bool:
        return self.kind == "local"

    def restart(self) -> None:
        """Replace a broken local pool with a new one."""
        self.shutdown(abandon=True)
        self.executor = local_pool(self.workers, self.runner)
        self.restarts += 1

    def shutdown(self, abandon: bool = False) -> None:
        """Stop the executor. `abandon`: cancel queued tasks and end running ones now (Ctrl-C,
        broken pool) rather than waiting for them; their runs are simply not recorded."""
        if self.kind == "custom":
            return   # the caller owns it
        if self._starter is not None:
            self._starter.join()
            self._starter = None
        if isinstance(self.executor, ProcessPoolExecutor):
            processes = list((getattr(self.executor, "_processes", None) or {}).values())
            self.executor.shutdown(wait=not abandon, cancel_futures=abandon)
            if abandon:
                # ProcessPoolExecutor has no public way to stop running tasks
                for process in processes:
                    if process.is_alive():
                        process.terminate()
                for process in processes:
                    process.join(timeout=5)
        elif self.kind == "dask":
            self.executor.shutdown(wait=not abandon)
            self._close_dask()
        else:
            self.executor.shutdown(wait=not abandon)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers, "scheduler": self.scheduler}


def _local_cluster_settings() -> Any:
    """Apply LOCAL_CLUSTER_CONFIG, and the fork server as the start method of the worker
    processes where there is one (a spawned worker starts a fresh interpreter that imports
    dask, then the model at its first task: ~2-3 s of CPU each, where a forked one has both
    imported), until the returned dask.config.set is exited (held while the cluster lives: a
    worker the nanny restarts is forked the same way)."""
    import dask.config

    settings: dict[str, Any] = dict(LOCAL_CLUSTER_CONFIG)
    if _mp_context(dask=True).get_start_method() == "forkserver":
        settings["distributed.worker.multiprocessing-method"] = "forkserver"
        # distributed would otherwise import its optional packages (pandas: ~0.4 s) in this
        # process, to preload them in a fork server that is already running with ours
        import distributed.utils

        if hasattr(distributed.utils, "_forkserver_preload_set"):
            distributed.utils._forkserver_preload_set = True
    return dask.config.set(settings)


class Starting:
    """A `Pool` started in a background thread, for a dask LocalCluster (its scheduler and
    worker processes take seconds to start): the parent builds and checks the design
    meanwhile. `pool()` waits for it and raises what starting it raised; `abandon()` waits and
    shuts a started pool down (bad input or Ctrl-C before the runs)."""

    def __init__(self, *args, **kwargs):
        self._pool: Pool | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, args=args, kwargs=kwargs,
                                        name="abm-dask-start", daemon=True)
        self._thread.start()

    def _start(self, *args, **kwargs) -> None:
        try:
            # (distributed warns when its default ports are taken; started beside the design, its
            # warnings would interleave with the parent's output, even on the bad-input path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self._pool = Pool(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread by pool()
            self._error = exc

    def pool(self) -> Pool:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._pool is not None
        return self._pool

    def abandon(self) -> None:
        self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(abandon=True)


def is_broken(exc: BaseException) -> bool:
    """Whether a task's exception means the whole local pool is unusable."""
    return isinstance(exc, BrokenProcessPool)


