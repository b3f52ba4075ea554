"""Faults injected into the local cloud's services (moto runs in this process), each counting how often it fired.

A test that injects a fault asserts that it fired, so that it cannot pass without the fault happening.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler
from moto.events.models import EventsBackend


@dataclass
class Fault:
    fired: int = 0


def reject_events(monkeypatch: pytest.MonkeyPatch, rejects: Callable[[dict[str, Any]], bool]) -> Fault:
    """PutEvents answers ``InternalFailure`` for every entry that ``rejects(detail)`` picks (a partial failure)."""
    fault = Fault()
    original = EventsBackend.put_events

    def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rejected = [rejects(json.loads(event.get("Detail") or "{}")) for event in events]
        accepted = iter(original(self, [e for e, bad in zip(events, rejected, strict=True) if not bad]))
        fault.fired += sum(rejected)
        return [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"} if bad else next(accepted) for bad in rejected
        ]

    monkeypatch.setattr(EventsBackend, "put_events", put_events)
    return fault


def fail_dynamodb(
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    times: int,
    error: str = "ProvisionedThroughputExceededException",
    message: str = "injected throttling",
) -> Fault:
    """The first ``times`` calls of ``action`` (e.g. ``query``) fail with ``error``."""
    fault = Fault()
    original = getattr(DynamoHandler, action)

    def failing(self: DynamoHandler) -> Any:
        if fault.fired < times:
            fault.fired += 1
            raise JsonRESTError(error, message)
        return original(self)

    monkeypatch.setattr(DynamoHandler, action, failing)
    return fault


def throttle_dynamodb(monkeypatch: pytest.MonkeyPatch, action: str, times: int) -> Fault:
    """The first ``times`` calls of ``action`` fail with ProvisionedThroughputExceededException (retried)."""
    return fail_dynamodb(monkeypatch, action, times)


def leave_unprocessed(monkeypatch: pytest.MonkeyPatch, times: int) -> Fault:
    """The first ``times`` BatchWriteItem calls process only the first half and return the rest unprocessed."""
    fault = Fault()
    original = DynamoHandler.batch_write_item

    def partial(self: DynamoHandler) -> Any:
        if fault.fired >= times:
            return original(self)
        fault.fired += 1
        (table, requests), *_ = self.body["RequestItems"].items()
        half = max(1, len(requests) // 2)
        self.body["RequestItems"] = {table: requests[:half]}
        original(self)
        rest = requests[half:]
        return ActionResult({"UnprocessedItems": {table: rest} if rest else {}})

    monkeypatch.setattr(DynamoHandler, "batch_write_item", partial)
    return fault


def refuse_requests(monkeypatch: pytest.MonkeyPatch, refuses: Callable[[dict[str, Any]], bool]) -> Fault:
    """PutEvents refuses a whole request (400 ValidationException) when any entry's detail is one ``refuses``
    picks, as EventBridge does for an entry it cannot accept at all."""
    fault = Fault()
    original = EventsBackend.put_events

    def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(refuses(json.loads(event.get("Detail") or "{}")) for event in events):
            fault.fired += 1
            raise JsonRESTError("ValidationException", "injected: one entry in this request is invalid")
        return original(self, events)

    monkeypatch.setattr(EventsBackend, "put_events", put_events)
    return fault
