"""A script that calls ``run_experiment`` must guard the call with ``if __name__ == "__main__":``.

Worker processes (the local pool's forkserver or spawn, dask's nannies) import the main script
again to set up their ``__main__``; unguarded, each worker would run the experiment itself, die
while starting, and the pool would be restarted until it gives up, printing every worker's
traceback. So the parent checks before any worker starts: the main script's line that led to the
call is read with ``ast`` and must lie inside such an ``if`` block. A worker that still gets here
(code the check cannot read) stops with the same one line.
"""

from __future__ import annotations

import ast
import multiprocessing
import sys
from pathlib import Path
from types import FrameType

HOW = ('put the call under `if __name__ == "__main__":` (worker processes import the script '
       "again; see the README's Python example), or pass workers=1")


class UnguardedScript(SystemExit):
    """run_experiment called from a script's top level without the __main__ guard. A
    SystemExit, so an uncaught one prints its one line (no traceback) and exits with code 1."""


def _module_frame(main_name: str) -> FrameType | None:
    """The frame running the top-level code of the module named `main_name` in this stack."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == main_name:
            return frame
        frame = frame.f_back
    return None


def _guarded_lines(source: str) -> list[tuple[int, int]]:
    """Line ranges (first, last) of the bodies of ``if __name__ == "__main__":`` at top level."""
    ranges = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and _is_main_test(node.test):
            ranges.append((node.body[0].lineno, node.body[-1].end_lineno or node.lineno))
    return ranges


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    values = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(values) == 1


def check_guarded(starts_processes: bool) -> None:
    """Raise UnguardedScript when this run would start worker processes from the top level of
    a main script without the __main__ guard, or when this process is a worker importing it."""
    if multiprocessing.parent_process() is not None and _module_frame("__mp_main__"):
        raise UnguardedScript(f"abm: run_experiment was called while a worker process imported "
                              f"the main script: {HOW}")
    if not starts_processes:
        return
    frame = _module_frame("__main__")
    path = Path(frame.f_code.co_filename) if frame is not None else None
    if path is None or not path.is_file():
        return                     # interactive, a notebook, code given with -c: not re-imported
    try:
        ranges = _guarded_lines(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return
    line = frame.f_lineno
    if not any(first <= line <= last for first, last in ranges):
        raise UnguardedScript(f"{path}, line {line}: run_experiment is called at the top level "
                              f"of the script: {HOW}")
