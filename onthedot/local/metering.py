"""Counts the API calls the local cloud serves, by service and action (for benchmarks and tests)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import BaseResponse

MOTO_TARGET = BaseResponse  # whose ``call_action`` every moto request goes through


class ApiCalls:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, service: str, action: str) -> None:
        with self._lock:
            self.counts[(service, action)] += 1

    def __getitem__(self, key: str) -> int:
        """``calls["events:PutEvents"]``."""
        service, _, action = key.partition(":")
        return self.counts[(service, action)]


@contextmanager
def count_api_calls() -> Iterator[ApiCalls]:
    """Within the block, every request moto serves in this process is counted."""
    calls = ApiCalls()
    original = MOTO_TARGET.call_action

    def counted(self: Any) -> Any:
        calls.add(str(self.service_name), self._get_action())
        return original(self)

    MOTO_TARGET.call_action = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        MOTO_TARGET.call_action = original  # type: ignore[method-assign]
