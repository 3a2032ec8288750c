"""``python -m fairtwin.cli``: the ``fairtwin`` command."""

import sys

from fairtwin.cli import main

sys.exit(main())
