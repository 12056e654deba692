"""``python -m edge.cli ...``: the ``store-edge`` command without the console script (tests, the simulator)."""

import sys

from edge.cli.main import main

sys.exit(main())
