"""The client over a table whose buckets are spread over shards: where it writes, and that every operation finds
what it wrote (issue #10). With one shard the keys are the original ones, which test_client.py holds."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from onthedot.cli.status import status
from onthedot.client import InvalidJob, JobNotFound, JobRequest, ScheduleIncomplete, Scheduler
from onthedot.client.validation import MAX_SHARDS
from onthedot.core.keys import job_key, partition_key, shard_key, shard_of, sort_key, split_partition_key
from onthedot.deploy.settings import Settings
from onthedot.deploy.target import Target
from tests.support import Clock, create_job_tables

REGION = "us-east-1"
TABLE = "Jobs"
DEAD = "Dead"
SHARDS = 4
NOW = datetime(2026, 2, 9, 11, 33, 20, 250000, tzinfo=UTC)
NINE = datetime(2026, 2, 9, 12, 0, tzinfo=UTC)  # when everyone's reminder is due


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    create_job_tables(client, TABLE, DEAD)
    return client


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def record_layout(dynamodb: Any, *, shards: Any, bucket_minutes: int = 5) -> None:
    """The dispatcher's cursor item, recording the layout in force as the dispatcher writes it."""
    value = {"N": str(shards)} if isinstance(shards, int) else {"S": str(shards)}
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "cursor"},
            "sk": {"S": "dispatcher"},
            "bucket": {"S": "j#2026-02-09T11:30"},
            "bucket_minutes": {"N": str(bucket_minutes)},
            "shards": value,
        },
    )


@pytest.fixture
def scheduler(dynamodb: Any, clock: Clock) -> Scheduler:
    """A Scheduler told nothing: it keys jobs with the shards the table records."""
    record_layout(dynamodb, shards=SHARDS)
    return Scheduler(TABLE, dead_letter_table=DEAD, dynamodb=dynamodb, clock=clock, sleep=lambda _: None)


def jobs_in(dynamodb: Any) -> list[dict[str, Any]]:
    deserializer = TypeDeserializer()
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True):
        items.extend({name: deserializer.deserialize(value) for name, value in item.items()} for item in page["Items"])
    return sorted((item for item in items if item["pk"].startswith("j#")), key=lambda item: (item["pk"], item["sk"]))


def count_calls(dynamodb: Any, operation: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    dynamodb.meta.events.register(
        f"provide-client-params.dynamodb.{operation}", lambda params, **_: calls.append(params)
    )
    return calls


# -- where jobs go ---------------------------------------------------------------------------------------------------


def test_a_thousand_jobs_due_in_one_second_spread_over_every_shard(scheduler: Scheduler, dynamodb: Any) -> None:
    # GIVEN a table that records 4 shards; WHEN 1,000 jobs due in the same second are scheduled in a batch
    jobs = scheduler.schedule_many([JobRequest("reminder", {"user": n}, at=NINE) for n in range(1000)])

    # THEN each sits in the shard of its id, and the four shard keys of the bucket hold about a quarter each
    items = jobs_in(dynamodb)
    assert scheduler.shards == SHARDS
    assert {(item["pk"], item["sk"]) for item in items} == {job_key(job.id, 5, SHARDS) for job in jobs}
    per_shard = Counter(item["pk"] for item in items)
    assert set(per_shard) == {shard_key("j#2026-02-09T12:00", shard) for shard in range(SHARDS)}
    assert all(200 <= count <= 300 for count in per_shard.values()), per_shard
    assert {split_partition_key(pk)[0] for pk in per_shard} == {partition_key(NINE)}  # shard 0: the original key


def test_get_cancel_and_reschedule_find_jobs_in_every_shard(scheduler: Scheduler, dynamodb: Any) -> None:
    jobs = [scheduler.schedule("reminder", {"n": n}, at=NINE + timedelta(seconds=n)) for n in range(24)]
    assert {shard_of(job.id, SHARDS) for job in jobs} == set(range(SHARDS))

    assert [scheduler.get(job.id) for job in jobs] == jobs
    moved = [scheduler.reschedule(job.id, at=NINE + timedelta(hours=1, seconds=n)) for n, job in enumerate(jobs[:12])]
    cancelled = [scheduler.cancel(job.id) for job in jobs[12:]]

    assert cancelled == jobs[12:]
    assert [(item["pk"], item["sk"]) for item in jobs_in(dynamodb)] == sorted(
        job_key(job.id, 5, SHARDS) for job in moved
    )
    assert [scheduler.get(job.id) for job in moved] == moved
    for job in jobs:
        with pytest.raises(JobNotFound):
            scheduler.get(job.id)


def test_a_listing_merges_the_shards_in_due_order_page_by_page(scheduler: Scheduler) -> None:
    # GIVEN jobs over three buckets, several due at the same instant, in every shard
    dues = [NINE + timedelta(seconds=37 * (n // 3)) for n in range(60)]
    jobs = scheduler.schedule_many([JobRequest("reminder", {"n": n}, at=due) for n, due in enumerate(dues)])
    expected = sorted(jobs, key=lambda job: sort_key(job.due, job.id))

    # WHEN they are listed in one page, and a few at a time; THEN in sort key order, each once
    assert scheduler.list_jobs(start=NINE, end=dues[-1]).jobs == expected
    for limit in (1, 7, 25):
        page = scheduler.list_jobs(start=NINE, end=dues[-1], limit=limit)
        seen = list(page.jobs)
        while page.cursor is not None:
            page = scheduler.list_jobs(cursor=page.cursor, limit=limit)
            assert len(page.jobs) <= limit
            seen.extend(page.jobs)
        assert seen == expected


def test_a_listing_queries_every_shard_of_every_bucket(scheduler: Scheduler, dynamodb: Any) -> None:
    queries = count_calls(dynamodb, "Query")
    scheduler.list_jobs(start=NINE, end=NINE + timedelta(minutes=9))
    assert [query["ExpressionAttributeValues"][":pk"]["S"] for query in queries] == [
        shard_key(bucket, shard) for bucket in ("j#2026-02-09T12:00", "j#2026-02-09T12:05") for shard in range(SHARDS)
    ]


# -- idempotency keys, batches, series, the dead letter ---------------------------------------------------------


def test_an_idempotency_key_still_returns_the_same_job(scheduler: Scheduler, dynamodb: Any) -> None:
    first = scheduler.schedule("reminder", {"n": 1}, at=NINE, key="order-42")
    assert scheduler.schedule("reminder", {"n": 2}, at=NINE, key="order-42") == first
    moved = scheduler.reschedule(first.id, at=NINE + timedelta(minutes=7))
    assert scheduler.schedule("reminder", {"n": 3}, at=NINE, key="order-42") == moved
    [item] = jobs_in(dynamodb)
    assert (item["pk"], item["sk"]) == job_key(moved.id, 5, SHARDS)


class Unprocessing:
    """A DynamoDB client whose BatchWriteItem never processes the last ``hold`` items of a request."""

    def __init__(self, client: Any, hold: int) -> None:
        self._client = client
        self.hold = hold

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        (table, requests), *_ = RequestItems.items()
        processed, held = requests[: -self.hold], requests[-self.hold :]
        if processed:
            self._client.batch_write_item(RequestItems={table: processed})
        return {"UnprocessedItems": {table: held}}


def test_schedule_many_reports_what_it_wrote_across_shards(dynamodb: Any, clock: Clock) -> None:
    record_layout(dynamodb, shards=SHARDS)
    scheduler = Scheduler(TABLE, dynamodb=Unprocessing(dynamodb, hold=5), clock=clock, sleep=lambda _: None)
    requests = [JobRequest("reminder", {"n": n}, at=NINE) for n in range(60)]

    with pytest.raises(ScheduleIncomplete) as caught:
        scheduler.schedule_many(requests)

    written, unwritten = caught.value.written, caught.value.unwritten
    assert (len(written), len(written) + len(unwritten)) == (20, 60)
    assert {(item["pk"], item["sk"]) for item in jobs_in(dynamodb)} == {job_key(job.id, 5, SHARDS) for job in written}
    assert all(scheduler.get(job.id) == job for job in written)


def test_a_series_occurrence_sits_in_the_shard_of_its_id(scheduler: Scheduler, dynamodb: Any) -> None:
    series = [scheduler.schedule_recurring("digest", {"n": n}, rate=f"{n + 1} minutes") for n in range(8)]
    assert all(s.next is not None for s in series)
    keys = {job_key(s.next.id, 5, SHARDS) for s in series if s.next is not None}
    assert {(item["pk"], item["sk"]) for item in jobs_in(dynamodb)} == keys
    assert [scheduler.get_series(s.id) for s in series] == series
    assert [scheduler.cancel_series(s.id) for s in series] == series
    assert jobs_in(dynamodb) == []


def test_a_redriven_job_goes_to_the_shard_of_its_new_id(scheduler: Scheduler, dynamodb: Any, clock: Clock) -> None:
    job = scheduler.schedule("reminder", {"n": 1}, at=NINE)
    item = jobs_in(dynamodb)[0]
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}})
    dynamodb.put_item(
        TableName=DEAD,
        Item={
            "pk": {"S": "dlq"},
            "sk": {"S": item["sk"]},
            "job": {"M": {"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}, "detail_type": {"S": "reminder"}}},
            "reason": {"S": "EventBridge said no"},
        },
    )
    clock.now = NINE + timedelta(minutes=3)

    back = scheduler.redrive(job.id)

    assert back.due == clock.now
    [(pk, sk)] = [(item["pk"], item["sk"]) for item in jobs_in(dynamodb)]
    assert (pk, sk) == job_key(back.id, 5, SHARDS)
    assert scheduler.get(back.id) == back


# -- the layout: the table's, read once, checked ---------------------------------------------------------------


def test_the_layout_is_read_once_in_one_request(scheduler: Scheduler, dynamodb: Any) -> None:
    reads = count_calls(dynamodb, "GetItem")
    for minute in range(3):
        scheduler.schedule("t", {}, at=NINE + timedelta(minutes=minute))
    scheduler.list_jobs()
    assert [read["Key"]["pk"]["S"] for read in reads] == ["cursor"]
    assert (scheduler.bucket_minutes, scheduler.shards) == (5, SHARDS)


def test_shards_given_are_used_on_a_table_that_records_none(dynamodb: Any, clock: Clock) -> None:
    scheduler = Scheduler(TABLE, dynamodb=dynamodb, clock=clock, shards=SHARDS)
    job = scheduler.schedule("t", {}, at=NINE)
    assert [(item["pk"], item["sk"]) for item in jobs_in(dynamodb)] == [job_key(job.id, 5, SHARDS)]
    assert Scheduler(TABLE, dynamodb=dynamodb, clock=clock).shards == 1  # told nothing, on a table that says nothing


def test_shards_given_that_differ_from_the_table_are_refused(dynamodb: Any, clock: Clock) -> None:
    record_layout(dynamodb, shards=SHARDS)
    scheduler = Scheduler(TABLE, dynamodb=dynamodb, clock=clock, shards=2)
    with pytest.raises(InvalidJob, match="2 shards were asked for, but table Jobs records 4") as caught:
        scheduler.schedule("t", {}, at=NINE)
    assert caught.value.field == "shards"
    assert jobs_in(dynamodb) == []


@pytest.mark.parametrize("recorded", [0, 101, "four"])
def test_damaged_shards_on_the_table_are_an_error_not_a_guess(dynamodb: Any, clock: Clock, recorded: Any) -> None:
    record_layout(dynamodb, shards=recorded)
    with pytest.raises(InvalidJob, match=r"shards: table Jobs records .* as its number of shards"):
        Scheduler(TABLE, dynamodb=dynamodb, clock=clock).schedule("t", {}, at=NINE)
    assert jobs_in(dynamodb) == []


def test_the_client_accepts_the_shards_the_knob_accepts() -> None:
    assert Settings.RANGES["shards"] == (1, MAX_SHARDS)


@pytest.mark.parametrize("shards", [0, 101, True, 2.0, "4"])
def test_shards_that_are_not_a_knob_value_are_refused(dynamodb: Any, shards: Any) -> None:
    with pytest.raises(InvalidJob) as caught:
        Scheduler(TABLE, dynamodb=dynamodb, shards=shards)
    assert caught.value.field == "shards"


def test_status_counts_every_shard_of_a_bucket(scheduler: Scheduler) -> None:
    scheduler.schedule_many([JobRequest("reminder", {"n": n}, at=NINE) for n in range(40)])
    document, _ = status(argparse.Namespace(), scheduler, Target(TABLE, None, "table Jobs"), NINE)
    [bucket] = [bucket for bucket in document["buckets"] if bucket["partition"] == "j#2026-02-09T12:00"]
    assert bucket["pending"] == 40
