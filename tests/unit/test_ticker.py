"""The local cloud's ticker starts the dispatcher on schedule, as the rule does on AWS: whether or not earlier
runs have finished, and whatever went wrong with one start."""

from __future__ import annotations

import threading
from datetime import datetime

from onthedot.deploy.settings import Settings
from onthedot.local.cloud import Run, Ticker


class FakeCloud:
    """Starts runs that end when the test says so; ``fail_starts`` of them fail to start."""

    def __init__(self, fail_starts: int = 0) -> None:
        self.started: list[str] = []
        self.fail_starts = fail_starts
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.three_started = threading.Event()
        self.settings = Settings()

    def start_dispatch(self, now: datetime | None = None, until: datetime | None = None) -> str:
        with self._lock:
            if self.fail_starts:
                self.fail_starts -= 1
                raise ConnectionError("injected: the endpoint did not answer")
            arn = f"run-{len(self.started)}"
            self.started.append(arn)
            if len(self.started) >= 3:
                self.three_started.set()
            return arn

    def wait_for(self, execution_arn: str) -> Run:
        if not self.release.wait(timeout=10):
            raise TimeoutError(execution_arn)
        return Run(execution_arn, "SUCCEEDED", {"due": 0}, 0.0)


class AnsweringCloud(FakeCloud):
    """Tells the test when each of its runs has been answered to the ticker."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = threading.Semaphore(0)

    def wait_for(self, execution_arn: str) -> Run:
        try:
            return super().wait_for(execution_arn)
        finally:
            self.answered.release()


def test_runs_start_on_schedule_while_earlier_runs_are_still_going() -> None:
    # GIVEN runs that do not end until released
    cloud = FakeCloud()
    runs: list[Run] = []
    ticker = Ticker(cloud, 0.01, runs.append)  # type: ignore[arg-type]
    ticker.start()
    # WHEN three ticks have passed
    assert cloud.three_started.wait(timeout=10)
    # THEN three runs started though none has finished
    assert runs == []
    # and each is reported once it ends
    cloud.release.set()
    ticker.stop()
    assert sorted(run.execution_arn for run in runs) == sorted(cloud.started)


def test_a_failed_start_is_reported_and_the_next_tick_runs() -> None:
    cloud = FakeCloud(fail_starts=1)
    cloud.release.set()
    runs: list[Run] = []
    errors: list[Exception] = []
    ticker = Ticker(cloud, 0.01, runs.append, errors.append)  # type: ignore[arg-type]
    ticker.start()
    assert cloud.three_started.wait(timeout=10)
    ticker.stop()

    assert [type(error) for error in errors] == [ConnectionError]
    assert len(runs) == len(cloud.started) >= 3
    assert all(run.status == "SUCCEEDED" for run in runs)


class UnansweringCloud(FakeCloud):
    """Its runs start, but waiting for them fails."""

    def wait_for(self, execution_arn: str) -> Run:
        raise TimeoutError(execution_arn)


def test_a_run_that_cannot_be_waited_for_is_reported_as_an_error() -> None:
    cloud = UnansweringCloud()
    errors: list[Exception] = []
    ticker = Ticker(cloud, 0.01, lambda _run: None, errors.append)  # type: ignore[arg-type]
    ticker.start()
    assert cloud.three_started.wait(timeout=10)
    ticker.stop()

    assert {str(error) for error in errors} == set(cloud.started)


def test_runs_still_going_when_the_ticker_stops_are_not_reported_after() -> None:
    # GIVEN runs in flight
    cloud = AnsweringCloud()
    runs: list[Run] = []
    ticker = Ticker(cloud, 0.01, runs.append)  # type: ignore[arg-type]
    ticker.start()
    assert cloud.three_started.wait(timeout=10)
    # WHEN the ticker stops before they end, and they end afterwards
    ticker.stop(timeout=0.05)
    cloud.release.set()
    for _ in cloud.started:
        assert cloud.answered.acquire(timeout=10)
    # THEN nothing is reported once stop() has returned (the cloud is stopping under them)
    assert runs == []
