"""`python -m abm`: the same command line as the `abm` script (abm.cli)."""

import sys

from abm.cli import main

if __name__ == "__main__":
    sys.exit(main())
