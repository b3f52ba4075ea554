"""``python -m onthedot.cli``: the same as the ``onthedot`` command."""

import sys

from onthedot.cli import main

sys.exit(main())
