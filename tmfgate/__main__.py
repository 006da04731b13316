"""``python -m tmfgate`` is the ``tmfgate`` command."""

import sys

from tmfgate.cli import main

sys.exit(main())
