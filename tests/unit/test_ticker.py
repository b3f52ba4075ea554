"""The local cloud's ticker keeps the schedule going when one dispatcher start fails, as the rule does on AWS."""

from __future__ import annotations

import threading

from onthedot.local.cloud import Run, Ticker


class FlakyCloud:
    """Fails its first start, then succeeds."""

    def __init__(self) -> None:
        self.starts = 0

    def dispatch(self) -> Run:
        self.starts += 1
        if self.starts == 1:
            raise ConnectionError("injected: the endpoint did not answer")
        return Run("arn", "SUCCEEDED", {"due": 0}, 0.0)


def test_a_failed_start_is_reported_and_the_next_tick_runs() -> None:
    cloud = FlakyCloud()
    runs: list[Run] = []
    errors: list[Exception] = []
    two_runs = threading.Event()

    def on_run(run: Run) -> None:
        runs.append(run)
        if len(runs) == 2:
            two_runs.set()

    ticker = Ticker(cloud, 0.01, on_run, errors.append)  # type: ignore[arg-type]
    ticker.start()
    assert two_runs.wait(timeout=10)
    ticker.stop()

    assert [type(error) for error in errors] == [ConnectionError]
    assert all(run.status == "SUCCEEDED" for run in runs)
    assert cloud.starts >= 3
