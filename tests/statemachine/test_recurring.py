"""Recurring jobs on the local cloud: each occurrence fires as its own event, and the series moves on atomically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onthedot.client import Scheduler
from onthedot.core.jobs import job_id_of
from onthedot.local.cloud import LocalCloud
from tests.statemachine import faults
from tests.support.dispatcher import Jobs

NOW = datetime(2026, 2, 9, 11, 33, 0, tzinfo=UTC)


def scheduler_at(cloud: LocalCloud, moment: datetime) -> Scheduler:
    return Scheduler(cloud.names.table, dynamodb=cloud.client("dynamodb"), clock=lambda: moment)


def pending_occurrences(cloud: LocalCloud) -> list[dict[str, Any]]:
    items = cloud.client("dynamodb").scan(TableName=cloud.names.table)["Items"]
    return [item for item in items if item["pk"]["S"].startswith("j#")]


def test_a_series_fires_each_occurrence_once_and_stops_at_its_limit(cloud: LocalCloud, jobs: Jobs) -> None:
    # GIVEN a job every minute from NOW, three times
    detail = {"report": "daily-sales", "format": "csv"}
    series = scheduler_at(cloud, NOW - timedelta(seconds=1)).schedule_recurring(
        "report", detail, rate="1 minute", starts_at=NOW, limit=3
    )
    assert series.next is not None
    assert series.next.due == NOW

    # WHEN the dispatcher runs every minute for five minutes
    fired: list[dict[str, Any]] = []
    for minute in range(5):
        run = cloud.dispatch(now=NOW + timedelta(minutes=minute))
        assert run.status == "SUCCEEDED", run.error
        fired.extend(jobs.fired())

    # THEN three events fired, one a minute, each its own job with the series' detail
    assert [event["time"] for event in fired] == [
        "2026-02-09T11:33:00Z",
        "2026-02-09T11:34:00Z",
        "2026-02-09T11:35:00Z",
    ]
    assert all(event["detail"] == detail and event["detail-type"] == "report" for event in fired)
    assert len({job_id_of(event) for event in fired}) == 3
    # AND the series has ended with nothing left pending
    assert pending_occurrences(cloud) == []
    ended = scheduler_at(cloud, NOW).get_series(series.id)
    assert ended.fired == 3
    assert ended.next is None


def test_a_failed_advance_republishes_the_same_occurrence_and_never_forks(
    cloud: LocalCloud, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    series = scheduler_at(cloud, NOW - timedelta(seconds=1)).schedule_recurring(
        "tick", {"n": 1}, rate="1 minute", starts_at=NOW
    )
    fault = faults.fail_dynamodb(
        monkeypatch, "transact_write_items", times=1, error="ServiceUnavailable", message="injected: no advance"
    )

    # WHEN the first run publishes the occurrence but cannot replace it
    first = cloud.dispatch(now=NOW)
    assert fault.fired == 1
    assert first.output["undeleted"] == 1
    # THEN the occurrence is still the one pending, and the next run publishes it again under the same id
    second = cloud.dispatch(now=NOW + timedelta(seconds=10))
    assert second.output["advanced"] == 1
    ids = [job_id_of(event) for event in jobs.fired()]
    assert len(ids) == 2
    assert ids[0] == ids[1]
    # AND exactly one next occurrence is pending: the series went on, once
    [pending] = pending_occurrences(cloud)
    assert pending["series"]["S"] == series.id
    assert pending["sk"]["S"].startswith("2026-02-09T11:34:00.000Z#")


def test_a_daily_cron_across_the_spring_forward_gap_fires_at_the_shifted_time(cloud: LocalCloud, jobs: Jobs) -> None:
    # 02:30 Berlin time does not exist on 2026-03-29 (clocks jump from 02:00 to 03:00)
    start = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)
    scheduler_at(cloud, start).schedule_recurring(
        "nightly", {"job": "backup"}, cron="30 2 * * *", tz="Europe/Berlin", starts_at=start, limit=3
    )
    expected = [
        "2026-03-28T01:30:00Z",
        "2026-03-29T01:30:00Z",
        "2026-03-30T00:30:00Z",
    ]  # 02:30 CET, 03:30 CEST, 02:30 CEST

    fired: list[str] = []
    for due in expected:
        cloud.dispatch(now=datetime.fromisoformat(due))
        fired.extend(event["time"] for event in jobs.fired())

    assert fired == expected
    assert pending_occurrences(cloud) == []
