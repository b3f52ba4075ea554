"""Exit codes, and the one line on stderr that says why a command did not exit 0."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
MAX_MESSAGE = 1000  # characters of the line on stderr


def fail(message: str, code: int) -> int:
    """Print ``onthedot: message`` on stderr; the exit code, for ``return fail(...)``."""
    from onthedot.cli.render import printable

    line = printable(message)
    if len(line) > MAX_MESSAGE:  # a message quotes what was typed, which can be megabytes
        line = line[: MAX_MESSAGE - 1] + "…"
    print(f"onthedot: {line}", file=sys.stderr)
    return code
