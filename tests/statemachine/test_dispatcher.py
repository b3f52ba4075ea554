"""The dispatcher definition, executed on the local cloud: what fires, what is deleted, what stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from onthedot.core.jobs import job_id_of
from onthedot.local.cloud import LocalCloud
from onthedot.local.metering import count_api_calls
from tests.statemachine import faults
from tests.support.dispatcher import Jobs

NOW = datetime(2026, 2, 9, 11, 33, 0, tzinfo=UTC)
COUNTS = ("due", "published", "failed", "missing", "deleted", "undeleted")


def counts(output: dict[str, int]) -> dict[str, int]:
    return {name: output[name] for name in COUNTS}


def fired_ids(jobs: Jobs) -> list[str]:
    return [job_id_of(event) for event in jobs.fired()]


def test_due_jobs_fire_and_are_deleted_while_future_jobs_stay(cloud: LocalCloud, jobs: Jobs) -> None:
    # GIVEN jobs due exactly now, a second ago and 90 s ago, and jobs due 1 ms and 3 minutes from now
    due = {jobs.put(NOW), jobs.put(NOW - timedelta(seconds=1)), jobs.put(NOW - timedelta(seconds=90))}
    future = {jobs.put(NOW + timedelta(milliseconds=1)), jobs.put(NOW + timedelta(minutes=3))}

    # WHEN the dispatcher runs at NOW
    run = cloud.dispatch(now=NOW)

    # THEN exactly the due jobs fire, once each, and only they leave the table
    assert run.status == "SUCCEEDED", run.error
    assert counts(run.output) == {
        "due": 3,
        "published": 3,
        "failed": 0,
        "missing": 0,
        "deleted": 3,
        "undeleted": 0,
    }
    assert sorted(fired_ids(jobs)) == sorted(due)
    assert jobs.remaining() == future


def test_jobs_in_the_previous_bucket_fire(cloud: LocalCloud, jobs: Jobs) -> None:
    # 11:28 lies in the 11:25 bucket; the catch-up of the run at 11:33 drains the bucket of its cutoff (11:30) and
    # the one before it
    previous = jobs.put(NOW - timedelta(minutes=5))

    run = cloud.dispatch(now=NOW)

    assert [p["pk"] for p in run.output["byPartition"]] == ["j#2026-02-09T11:25", "j#2026-02-09T11:30"]
    assert run.output["byPartition"][0]["published"] == 1
    assert fired_ids(jobs) == [previous]
    assert jobs.remaining() == set()


def test_event_carries_the_job_unchanged_with_id_and_due_time(cloud: LocalCloud, jobs: Jobs) -> None:
    detail = {
        "recipient": "ada@example.com",
        "text": 'She said "hi" \\ and left — ünïcødé 日本 🎉',
        "path": "C:\\temp\\new\\file.txt",
        "nested": {"quotes": '""', "list": [1, 2.5, None, True, '\\"']},
    }
    job_id = jobs.put(NOW - timedelta(seconds=7), detail=detail, detail_type="price-change")

    cloud.dispatch(now=NOW)

    (event,) = jobs.fired()
    assert event["detail"] == detail
    assert event["detail-type"] == "price-change"
    assert event["source"] == cloud.settings.eventSource
    assert job_id_of(event) == job_id
    assert event["time"] == "2026-02-09T11:32:53Z"


def test_several_pages_are_drained_in_one_run(cloud: LocalCloud, jobs: Jobs) -> None:
    ids = {jobs.put(NOW - timedelta(milliseconds=1 + index)) for index in range(250)}  # page size is 100

    with count_api_calls() as calls:
        run = cloud.dispatch(now=NOW)

    assert counts(run.output)["published"] == 250
    # the empty bucket before, then 100 + 100 + 50, then the window's one tick (nothing is due exactly at NOW)
    assert calls["dynamodb:Query"] == 1 + 3 + 1
    assert calls["events:PutEvents"] == 25
    assert calls["dynamodb:BatchWriteItem"] == 10
    fired = fired_ids(jobs)
    assert len(fired) == 250
    assert set(fired) == ids
    assert jobs.remaining() == set()


def test_a_job_whose_publish_fails_stays_for_the_next_run(
    cloud: LocalCloud, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN EventBridge rejects the entries of two jobs out of five
    good = {jobs.put(NOW - timedelta(seconds=s)) for s in range(3)}
    bad = {jobs.put(NOW - timedelta(seconds=10 + s), detail={"reject": True}) for s in range(2)}
    fault = faults.reject_events(monkeypatch, lambda detail: detail.get("reject") is True)

    # WHEN the dispatcher runs
    run = cloud.dispatch(now=NOW)

    # THEN the rejected jobs are reported failed and stay; the others are published and deleted
    assert fault.fired >= 2
    assert counts(run.output) == {
        "due": 5,
        "published": 3,
        "failed": 2,
        "missing": 0,
        "deleted": 3,
        "undeleted": 0,
    }
    assert set(fired_ids(jobs)) == good
    assert jobs.remaining() == bad

    # AND once EventBridge accepts them again, the next run publishes them
    monkeypatch.undo()
    again = cloud.dispatch(now=NOW + timedelta(minutes=1))
    assert counts(again.output)["published"] == 2
    assert set(fired_ids(jobs)) == bad
    assert jobs.remaining() == set()


def test_a_poison_job_goes_to_the_dead_letter_with_its_reason_and_the_others_fire(
    cloud: LocalCloud, jobs: Jobs
) -> None:
    good = jobs.put(NOW - timedelta(seconds=1))
    poison = jobs.put(NOW - timedelta(seconds=2), detail_type="")  # a job typed by hand without a detail-type

    run = cloud.dispatch(now=NOW)

    assert counts(run.output) == {"due": 2, "published": 1, "failed": 0, "missing": 0, "deleted": 2, "undeleted": 0}
    assert run.output["deadLettered"] == 1
    assert fired_ids(jobs) == [good]
    assert jobs.remaining() == set()
    [dead] = jobs.dead_letters()
    assert dead["sk"].endswith(poison)
    assert "detail_type" in dead["reason"]


def test_throttled_queries_are_retried(cloud: LocalCloud, jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = {jobs.put(NOW - timedelta(seconds=s)) for s in range(5)}
    fault = faults.throttle_dynamodb(monkeypatch, "query", times=2)

    run = cloud.dispatch(now=NOW)

    assert fault.fired == 2
    assert run.status == "SUCCEEDED", run.error
    assert counts(run.output)["deleted"] == 5
    assert set(fired_ids(jobs)) == ids
    assert jobs.remaining() == set()


def test_throttled_deletes_are_retried(cloud: LocalCloud, jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = {jobs.put(NOW - timedelta(seconds=s)) for s in range(30)}
    fault = faults.throttle_dynamodb(monkeypatch, "batch_write_item", times=2)

    run = cloud.dispatch(now=NOW)

    assert fault.fired == 2
    assert counts(run.output) == {
        "due": 30,
        "published": 30,
        "failed": 0,
        "missing": 0,
        "deleted": 30,
        "undeleted": 0,
    }
    fired = fired_ids(jobs)
    assert sorted(fired) == sorted(ids)  # each exactly once
    assert jobs.remaining() == set()


def test_unprocessed_items_are_deleted_on_retry(cloud: LocalCloud, jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = {jobs.put(NOW - timedelta(seconds=s)) for s in range(40)}  # two chunks: 25 + 15
    fault = faults.leave_unprocessed(monkeypatch, times=2)

    run = cloud.dispatch(now=NOW)

    assert fault.fired == 2
    assert counts(run.output) == {
        "due": 40,
        "published": 40,
        "failed": 0,
        "missing": 0,
        "deleted": 40,
        "undeleted": 0,
    }
    assert sorted(fired_ids(jobs)) == sorted(ids)
    assert jobs.remaining() == set()


def test_no_state_payload_reaches_256_kb(cloud: LocalCloud, jobs: Jobs) -> None:
    # 300 jobs of 20 KB each: 6 MB due in one run, far more than one state may carry
    for index in range(300):
        jobs.put(NOW - timedelta(milliseconds=index), detail={"blob": "x" * 20_000})

    run = cloud.dispatch(now=NOW)

    assert counts(run.output)["deleted"] == 300
    transitions, largest = cloud.history_stats(run.execution_arn)
    assert transitions > 0, "the execution history shows no state"
    assert 1000 < largest < 256 * 1024


def test_each_run_records_its_counts_for_status(cloud: LocalCloud, jobs: Jobs) -> None:
    jobs.put(NOW - timedelta(seconds=3))

    run = cloud.dispatch(now=NOW)

    records = cloud.client("dynamodb").query(
        TableName=cloud.names.table,
        KeyConditionExpression="pk = :run AND sk = :now",
        ExpressionAttributeValues={":run": {"S": "run"}, ":now": {"S": run.output["now"]}},
    )["Items"]
    assert len(records) == 1
    assert {name: int(records[0][name]["N"]) for name in COUNTS} == counts(run.output)
    assert int(records[0]["expires_at"]["N"]) == int(NOW.timestamp()) + 7 * 86400
