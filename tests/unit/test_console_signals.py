"""``onthedot local`` stops on SIGINT/SIGTERM however many arrive, and however close together."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from onthedot.local.console import _stop_on_signals


@pytest.fixture
def handlers() -> Iterator[None]:
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.mark.usefixtures("handlers")
def test_a_second_signal_while_the_first_is_still_stopping_returns_at_once() -> None:
    # GIVEN the local cloud's handlers, and a first SIGTERM that set the stop event and is still inside set(),
    # holding the event's lock, when a second signal arrives (timeout and Ctrl-C signal the whole process group)
    stop = threading.Event()
    _stop_on_signals(stop)
    handle = signal.getsignal(signal.SIGTERM)
    assert callable(handle)
    handle(signal.SIGTERM, None)
    returned = threading.Event()

    def second_signal() -> None:
        handle(signal.SIGINT, None)
        returned.set()

    # WHEN the second handler runs while that lock is held
    with stop._cond:  # the lock Event.set() holds while it notifies the waiters
        nested = threading.Thread(target=second_signal, daemon=True)
        nested.start()
        nested.join(timeout=2)

        # THEN it returns without waiting for the lock (before the fix it waited for ever: a stuck process whose
        # console worker had stopped while its dispatcher went on)
        assert returned.is_set()
    assert stop.is_set()
