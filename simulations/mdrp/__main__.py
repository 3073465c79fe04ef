"""``python -m simulations.mdrp INSTANCE_DIR SOLUTION_DIR [--json]``: check an MDRP solution."""

import sys

from simulations.mdrp.check import main

sys.exit(main())
