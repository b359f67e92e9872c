"""Monte Carlo and sweep runs (DESIGN section 5). The engine lives in ``abm.engine``; this module
is the stable import path: ``from abm.batch import run_experiment, print_summary``.

The function computing one run is ``abm.engine.worker.RUNNER`` ("module:function", default
``abm.simulate:simulate``), resolved inside each worker; tests replace it with fake runners.
"""

from __future__ import annotations

from abm.engine.console import print_summary
from abm.engine.files import CannotWrite
from abm.engine.runner import BatchResult, WorkersLost, default_out, run_experiment

__all__ = ["BatchResult", "CannotWrite", "WorkersLost", "default_out", "print_summary",
           "run_experiment"]
