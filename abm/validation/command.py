"""``abm validate-model [--out DIR] [--only CLAIM ...]``: run the validation claims and write
``DIR/index.html`` (default ``results/validation``).

Exit codes: 0 every claim passes; 1 at least one fails (or raised); 2 bad arguments or the page
cannot be written. ``abm/cli.py`` dispatches ``abm validate-model ...`` to :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

PROG = "abm validate-model"


def build_parser(keys: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run the model on the validation claims (analytic results and "
        "historical episodes) and write a page with each claim, its source, what was expected, "
        "what the model produced and whether it passed.")
    parser.add_argument("--out", metavar="DIR", default="results/validation",
                        help="output folder (default: results/validation)")
    parser.add_argument("--only", metavar="CLAIM", action="append", choices=keys,
                        help=f"run only this claim (repeatable): {', '.join(keys)}")
    parser.add_argument("--quiet", action="store_true", help="print only the page's path")
    return parser


def run_claim(key: str, claim):
    """Run one claim; an exception becomes a failed result (the others still run)."""
    from abm.validation.base import Check, ClaimResult

    try:
        return claim()
    except Exception as exc:  # noqa: BLE001 - a crashing claim is a failing claim
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return ClaimResult(key, key, "-", "-", {}, [Check("ran", "The claim runs", False, detail)],
                           known_failure=f"the claim raised: {detail}")


def main(argv: list[str] | None = None) -> int:
    from abm.validation.claims import CLAIMS

    parser = build_parser(list(CLAIMS))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:          # argparse printed its message (or --help)
        return int(exc.code or 0)
    from abm.engine.files import write_text_atomic
    from abm.validation.page import page

    keys = args.only or list(CLAIMS)
    results, start = [], time.perf_counter()
    for key in keys:
        t0 = time.perf_counter()
        result = run_claim(key, CLAIMS[key])
        results.append(result)
        if not args.quiet:
            verdict = "pass" if result.passed else "FAIL"
            print(f"{verdict:4}  {result.title}  ({time.perf_counter() - t0:.1f} s)")
            for check in result.checks:
                if not check.passed:
                    print(f"      failed: {check.text} [{check.detail}]")
    out = Path(args.out) / "index.html"
    try:
        write_text_atomic(page(results, time.perf_counter() - start), out)
    except OSError as exc:
        print(f"{PROG}: error: {out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2
    passed = sum(r.passed for r in results)
    if not args.quiet:
        print(f"{passed} of {len(results)} claims pass")
    print(f"page: {out}")
    return 0 if passed == len(results) else 1
