"""A function's environment variables, read into its typed configuration (``functions/*/app.py``)."""

from __future__ import annotations

from collections.abc import Mapping


class Environment:
    """Reads variables from ``values``; a missing or malformed one raises ``RuntimeError`` naming it and ``see``,
    where its value comes from."""

    def __init__(self, values: Mapping[str, str], see: str) -> None:
        self.values = values
        self.see = see

    def text(self, name: str) -> str:
        value = self.values.get(name, "")
        if not value:
            raise RuntimeError(f"environment variable {name} is not set (see {self.see})")
        return value

    def number(self, name: str, default: int | None = None) -> int:
        if default is not None and not self.values.get(name):
            return default
        value = self.text(name)
        try:
            return int(value)
        except ValueError:
            raise RuntimeError(
                f"environment variable {name} is not a whole number: {value!r} (see {self.see})"
            ) from None
