"""No job lost: faults injected into the local cloud, each test ending in an account of every job.

Every job ends published at least once (duplicates carry the same job id), dead-lettered with a reason, or
still waiting because it is not due yet; ``lost`` must be 0. Each test asserts that its fault fired. The
accounts are printed at the end of the run (``no job lost: every fault's account``).
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from onthedot.core import keys
from onthedot.local.cloud import LocalCloud, Run
from tests.statemachine import faults
from tests.support.dispatcher import Jobs, Ledger

NOW = datetime(2026, 2, 9, 11, 33, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def every_minute(cloud: LocalCloud, ledger: Ledger, start: datetime, runs: int) -> list[Run]:
    done = []
    for index in range(runs):
        run = cloud.dispatch(now=start + index * MINUTE)
        assert run.status == "SUCCEEDED", run.error
        ledger.collect()
        done.append(run)
    return done


def test_an_outage_of_two_hours_then_recovery(cloud: LocalCloud, jobs: Jobs, ledger: Ledger) -> None:
    # GIVEN the dispatcher last ran at NOW, then not at all for two hours while jobs fell due all along
    cloud.dispatch(now=NOW)
    outage = [NOW + timedelta(minutes=1 + index) for index in range(120)]
    ledger.scheduled = {jobs.put(due) for due in outage}
    recovery = NOW + timedelta(hours=2, minutes=1)

    # WHEN it runs again, once a minute
    recovered_at = datetime.now(UTC)
    runs = every_minute(cloud, ledger, recovery, runs=3)

    # THEN the backlog of 22 buckets (behind the two before the recovery window, which drains the last five
    # minutes itself) is worked off oldest first, 10 a run beside the two newest
    assert [run.output["backlogBuckets"] for run in runs] == [22, 13, 4]
    assert sum(run.output["published"] for run in runs) == 120
    assert ledger.account() == {
        "scheduled": 120,
        "published": 120,
        "dead-lettered": 0,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }
    # AND the age of the oldest undrained bucket was a metric: two hours when the first run started
    statistics = cloud.client("cloudwatch").get_metric_statistics(
        Namespace="onthedot",
        MetricName="OldestBucketAgeSeconds",
        StartTime=recovered_at - timedelta(seconds=1),
        EndTime=recovered_at + timedelta(hours=1),
        Period=3600,
        Statistics=["Maximum", "SampleCount"],
    )["Datapoints"]
    [point] = statistics
    assert point["Maximum"] == 22 * 5 * 60
    assert point["SampleCount"] >= 3  # the three recovery runs (and maybe the one before the outage)
    # AND the cursor has caught up: the next run's catch-up reads only the bucket of its cutoff and the one before
    assert cloud.dispatch(now=recovery + 3 * MINUTE).output["backlogBuckets"] == 0


def test_thirty_percent_of_entries_rejected_for_a_while(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.scheduled = {jobs.put(NOW - timedelta(seconds=index)) for index in range(100)}
    chance = random.Random(7)
    fault = faults.reject_events(monkeypatch, lambda _detail: chance.random() < 0.3)

    every_minute(cloud, ledger, NOW, runs=2)  # the fault lasts two runs
    assert fault.fired >= 10
    monkeypatch.undo()
    every_minute(cloud, ledger, NOW + 2 * MINUTE, runs=1)

    assert ledger.account() == {
        "scheduled": 100,
        "published": 100,
        "dead-lettered": 0,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }


def test_throttling_on_query_and_batch_write(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.scheduled = {jobs.put(NOW - timedelta(seconds=index)) for index in range(60)}
    query = faults.throttle_dynamodb(monkeypatch, "query", times=3)
    writes = faults.throttle_dynamodb(monkeypatch, "batch_write_item", times=3)

    every_minute(cloud, ledger, NOW, runs=1)

    assert (query.fired, writes.fired) == (3, 3)
    assert ledger.account() == {
        "scheduled": 60,
        "published": 60,
        "dead-lettered": 0,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }


def test_the_run_dies_between_publish_and_delete(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.scheduled = {jobs.put(NOW - timedelta(seconds=index)) for index in range(30)}
    fault = faults.fail_dynamodb(
        monkeypatch, "batch_write_item", times=100, error="ServiceUnavailable", message="injected: the run died"
    )
    first = every_minute(cloud, ledger, NOW, runs=1)[0]
    assert fault.fired >= 1
    assert first.output["undeleted"] == 30
    monkeypatch.undo()
    every_minute(cloud, ledger, NOW + MINUTE, runs=1)

    account = ledger.account()
    assert account["lost"] == 0
    assert account["published"] == 30
    assert account["duplicated"] == 30  # published again by the next run, under the same job ids


def test_two_runs_at_once_over_the_same_buckets(cloud: LocalCloud, jobs: Jobs, ledger: Ledger) -> None:
    # GIVEN 300 due jobs, WHEN the schedule starts the same run twice at once (Express starts are at-least-once)
    ledger.scheduled = {jobs.put(NOW - timedelta(milliseconds=index)) for index in range(300)}
    runs: list[Run] = []
    threads = [threading.Thread(target=lambda: runs.append(cloud.dispatch(now=NOW))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN one claims the window and publishes every job, the other finds it claimed and stops
    assert [run.status for run in runs] == ["SUCCEEDED", "SUCCEEDED"]
    assert sorted(run.output["due"] for run in runs) == [0, 300]
    assert [bool(run.output.get("skipped")) for run in sorted(runs, key=lambda run: run.output["due"])] == [
        True,
        False,
    ]
    assert ledger.account() == {
        "scheduled": 300,
        "published": 300,
        "dead-lettered": 0,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }
    assert jobs.remaining() == set()


def test_a_late_insert_into_a_drained_bucket(cloud: LocalCloud, jobs: Jobs, ledger: Ledger) -> None:
    # GIVEN the dispatcher is running on time (its cursor at the previous bucket)
    now = datetime.now(UTC)
    cloud.dispatch(now=now)
    # WHEN a job is typed by hand into a bucket drained half an hour ago
    late = now - timedelta(minutes=30)
    ledger.scheduled = {jobs.put(late)}
    # THEN the stream moves the cursor back, and the next run fires it
    cursor = cloud.client("dynamodb").get_item(
        TableName=cloud.names.table, Key={"pk": {"S": "cursor"}, "sk": {"S": "dispatcher"}}
    )["Item"]["bucket"]["S"]
    assert cursor == keys.partition_key(late)
    every_minute(cloud, ledger, now + MINUTE, runs=1)
    assert ledger.account() == {
        "scheduled": 1,
        "published": 1,
        "dead-lettered": 0,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }


def test_poison_jobs_mixed_among_good_ones(cloud: LocalCloud, jobs: Jobs, ledger: Ledger) -> None:
    good = {jobs.put(NOW - timedelta(seconds=index)) for index in range(20)}
    poison = {
        jobs.put(NOW - timedelta(seconds=30), detail_type=""),
        jobs.put(NOW - timedelta(seconds=31), detail="not a map"),
        jobs.put(NOW - timedelta(seconds=32), detail={"huge": "x" * 300_000}),
    }
    ledger.scheduled = good | poison

    every_minute(cloud, ledger, NOW, runs=1)

    assert ledger.account() == {
        "scheduled": 23,
        "published": 20,
        "dead-lettered": 3,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }
    reasons = sorted(letter["reason"] for letter in jobs.dead_letters())
    assert any("detail_type" in reason for reason in reasons)
    assert any("must be a map" in reason for reason in reasons)
    assert any("over EventBridge" in reason for reason in reasons)


def test_a_job_rejected_on_every_run_is_dead_lettered_after_the_last_attempt(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.scheduled = {jobs.put(NOW, detail={"reject": True}), jobs.put(NOW - timedelta(seconds=1))}
    fault = faults.reject_events(monkeypatch, lambda detail: detail.get("reject") is True)

    runs = every_minute(cloud, ledger, NOW, runs=cloud.settings.maxAttempts)

    assert fault.fired >= cloud.settings.maxAttempts
    assert [run.output["deadLettered"] for run in runs] == [0] * (cloud.settings.maxAttempts - 1) + [1]
    [letter] = jobs.dead_letters()
    assert letter["reason"].startswith(f"{cloud.settings.maxAttempts} attempts failed; the last: InternalFailure")
    assert ledger.account() == {
        "scheduled": 2,
        "published": 1,
        "dead-lettered": 1,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }


def test_the_backlog_figure_stays_0_while_nothing_is_behind_across_bucket_changes(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger
) -> None:
    # GIVEN a dispatcher on time, a run a minute across two bucket changes, with a job due before each run
    start = datetime(2026, 2, 9, 11, 57, 0, tzinfo=UTC)
    ledger.scheduled = {jobs.put(start + index * MINUTE - timedelta(seconds=30)) for index in range(11)}

    # WHEN it runs every minute from 11:57 to 12:07
    runs = every_minute(cloud, ledger, start, runs=11)

    # THEN no run reports a backlog (the alarm on OldestBucketAgeSeconds would fire on any), and every job fired
    assert [run.output["backlogBuckets"] for run in runs] == [0] * 11
    assert ledger.account() == {
        "scheduled": 11,
        "published": 11,
        "dead-lettered": 0,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }


def test_a_request_refused_for_one_bad_entry_costs_the_good_ones_nothing(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 30 due jobs, one of which EventBridge refuses so that the whole request holding it fails
    good = {jobs.put(NOW - timedelta(seconds=index)) for index in range(29)}
    bad = jobs.put(NOW - timedelta(seconds=40), detail={"refused": True})
    ledger.scheduled = good | {bad}
    fault = faults.refuse_requests(monkeypatch, lambda detail: detail.get("refused") is True)

    # WHEN one run publishes them
    run = every_minute(cloud, ledger, NOW, runs=1)[0]

    # THEN the request is split until the bad entry stands alone: every good job is published in this run, and the
    # bad one waits with one attempt counted (a later run tries it again, and finally dead-letters it)
    assert fault.fired >= 2
    assert run.output["published"] == 29
    assert run.output["failed"] == 1
    assert ledger.account() == {
        "scheduled": 30,
        "published": 29,
        "dead-lettered": 0,
        "waiting": 1,
        "lost": 0,
        "duplicated": 0,
    }
