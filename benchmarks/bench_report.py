"""Report and CLI start-up timings (moved here from timed tests: a test's wall-clock limit
fails on a loaded machine, a benchmark reports the figure).

    .venv/bin/python benchmarks/bench_report.py            # both
    .venv/bin/python benchmarks/bench_report.py report     # build_report on 10,000 runs (target < 15 s)
    .venv/bin/python benchmarks/bench_report.py help       # import the CLI and build --help (target < 0.3 s)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))      # the synthetic results of the report tests


def report(replications: int = 500) -> str:
    """build_report on two scenarios x 10 LHS points x `replications` runs (10,000 at 500)."""
    from report_fixtures import make_results

    from abm.report import build_report

    with tempfile.TemporaryDirectory() as tmp:
        out = make_results(Path(tmp) / "large", scenarios=("baseline", "cfd_110"),
                           replications=replications, sweep="lhs", samples=10, layout="parts",
                           summaries=False)
        start = time.perf_counter()
        build_report(out)
        seconds = time.perf_counter() - start
    return f"report for {2 * 10 * replications:,} runs: {seconds:.1f} s (target < 15 s)"


def cli_help(repeat: int = 5) -> str:
    """Least of `repeat` fresh interpreters: import abm.cli and format --help."""
    code = ("import time; t = time.perf_counter(); from abm.cli import build_parser; "
            "build_parser().format_help(); print(time.perf_counter() - t)")
    times = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                  text=True, check=True).stdout) for _ in range(repeat)]
    return f"CLI import + --help: least of {repeat} {min(times):.3f} s (target < 0.3 s)"


def main(argv: list[str]) -> int:
    which = set(argv) or {"report", "help"}
    if "help" in which:
        print(cli_help())
    if "report" in which:
        print(report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
