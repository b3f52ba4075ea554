"""User data made safe to show: control and direction characters made visible, long values cut.

Autoescaping keeps markup inert; this keeps the *text* honest. A detail-type may hold a terminal escape, a NUL
(browsers turn it into U+FFFD) or a right-to-left override that reorders what follows it on the screen: each is
shown as ``\\u001b``-style text instead. Long values are cut with the count of what was left out.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from onthedot.cli.render import compact

SHORT = 120  # characters of a value in a table cell


def visible(value: Any, limit: int = SHORT) -> str:
    """``value`` as text with every control, format and separator character escaped, cut at ``limit``."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) - limit if len(text) > limit else 0
    if cut:
        text = text[:limit]
    shown = "".join(map(_character, text))
    return shown + (f"… ({cut:,} more characters)" if cut else "")


def detail_text(detail: Any, limit: int = SHORT) -> str:
    """A detail as compact JSON, made visible and cut."""
    return visible(compact(detail), limit)


def _character(char: str) -> str:
    if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):  # newlines and tabs too
        code = ord(char)
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char
