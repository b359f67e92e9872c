"""`python -m abm ...`: the `abm` command line (abm.cli)."""

import sys

from abm.cli import main

sys.exit(main())
