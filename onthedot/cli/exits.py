"""Exit codes, and the one line on stderr that says why a command did not exit 0."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int) -> int:
    """Print ``onthedot: message`` on stderr; the exit code, for ``return fail(...)``."""
    print(f"onthedot: {message}", file=sys.stderr)
    return code
