"""The Monte Carlo and sweep engine: executors, streaming of run results, resume, manifest.

Modules, one purpose each:
- ``files``: atomic writes and the results-folder lock;
- ``manifest``: what ``manifest.json`` holds and how a rerun is checked against it;
- ``store``: the ``runs/`` and ``series/`` folders: finished runs, compaction, discarding;
- ``worker``: what a worker process does for one run;
- ``executors``: local process pool, in-process and Dask executors;
- ``runner``: ``run_experiment``, the loop that ties them together;
- ``console``: the short summary table printed after a run.

Nothing is imported here so that ``abm.summary`` can use ``abm.engine.files`` without pulling in
the runner (which itself imports ``abm.summary``).
"""
