"""``python -m abm.report DIR``: rebuild the pages of a results folder (as ``abm report DIR``)."""

from __future__ import annotations

import sys

from abm.errors import ConfigError
from abm.report import build_report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m abm.report RESULTS_DIR", file=sys.stderr)
        return 2
    try:
        print(build_report(args[0]))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
