"""The Python API against an in-process moto DynamoDB: what it writes, what it reads back, what it refuses."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from onthedot.client import (
    BucketWidthMismatch,
    InvalidJob,
    Job,
    JobNotFound,
    JobRequest,
    ScheduleIncomplete,
    Scheduler,
    Series,
)
from onthedot.core.keys import due_of, job_key, new_job_id, parse_sort_key, partition_key, sort_key, with_due
from tests.support import Clock, create_job_tables

REGION = "us-east-1"
TABLE = "Jobs"
NOW = datetime(2026, 2, 9, 11, 33, 20, 250000, tzinfo=UTC)


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    create_job_tables(client, TABLE)
    return client


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def scheduler(dynamodb: Any, clock: Clock, sleeps: list[float]) -> Scheduler:
    return Scheduler(TABLE, dynamodb=dynamodb, clock=clock, sleep=sleeps.append)


def scan(dynamodb: Any) -> list[dict[str, Any]]:
    """Every item in the table, as plain values, in key order."""
    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True):
        items.extend({name: deserializer.deserialize(value) for name, value in item.items()} for item in page["Items"])
    return sorted(items, key=lambda item: (item["pk"], item["sk"]))


def jobs_in(dynamodb: Any) -> list[dict[str, Any]]:
    return [item for item in scan(dynamodb) if item["pk"].startswith("j#")]


def count_calls(dynamodb: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of every ``operation`` call the client makes from now on."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    dynamodb.meta.events.register(f"provide-client-params.dynamodb.{operation}", record)
    return calls


# -- schedule, get, cancel, reschedule -------------------------------------------------------------------------------


def test_schedule_at_writes_one_job_item_that_get_reads_back(scheduler: Scheduler, dynamodb: Any) -> None:
    at = datetime(2026, 2, 9, 14, 0, 30, 123456, tzinfo=UTC)
    detail = {"to": "ada@example.com", "count": 3, "ratio": 0.1, "nested": {"tags": ["a", "b"], "ok": True}}

    job = scheduler.schedule("reminder", detail, at=at)

    assert job.due == datetime(2026, 2, 9, 14, 0, 30, 123000, tzinfo=UTC)
    assert due_of(job.id) == job.due
    assert job.detail == detail
    assert [
        {
            "pk": "j#2026-02-09T14:00",
            "sk": f"2026-02-09T14:00:30.123Z#{job.id}",
            "detail": {
                "to": "ada@example.com",
                "count": Decimal(3),
                "ratio": Decimal("0.1"),
                "nested": {"tags": ["a", "b"], "ok": True},
            },
            "detail_type": "reminder",
            "created_at": "2026-02-09T11:33:20.250Z",
        }
    ] == scan(dynamodb)
    assert scheduler.get(job.id) == job
    assert scheduler.get(job.id).detail["ratio"] == 0.1


def test_schedule_after_a_delay_and_with_an_iso_string(scheduler: Scheduler) -> None:
    later = scheduler.schedule("reminder", {}, delay=timedelta(minutes=10))
    assert later.due == NOW.replace(microsecond=250000) + timedelta(minutes=10)
    iso = scheduler.schedule("reminder", {}, at="2026-02-09T16:00:00.5+02:00")
    assert iso.due == datetime(2026, 2, 9, 14, 0, 0, 500000, tzinfo=UTC)
    zulu = scheduler.schedule("reminder", {}, at="2026-03-01T08:00:00Z")
    assert zulu.due == datetime(2026, 3, 1, 8, tzinfo=UTC)


def test_a_past_due_time_is_scheduled_for_now_in_the_current_bucket(scheduler: Scheduler, dynamodb: Any) -> None:
    job = scheduler.schedule("reminder", {}, at=NOW - timedelta(hours=3))
    assert job.due == datetime(2026, 2, 9, 11, 33, 20, 250000, tzinfo=UTC)
    [item] = jobs_in(dynamodb)
    assert item["pk"] == partition_key(NOW) == "j#2026-02-09T11:30"
    assert parse_sort_key(item["sk"])[0] == job.due


def test_cancel_deletes_the_job_and_returns_it(scheduler: Scheduler, dynamodb: Any) -> None:
    keep = scheduler.schedule("reminder", {"n": 1}, delay=timedelta(minutes=5))
    job = scheduler.schedule("reminder", {"n": 2}, delay=timedelta(minutes=5))

    assert scheduler.cancel(job.id) == job

    assert [item["sk"] for item in jobs_in(dynamodb)] == [sort_key(keep.due, keep.id)]
    with pytest.raises(JobNotFound, match=job.id):
        scheduler.get(job.id)
    with pytest.raises(JobNotFound):
        scheduler.cancel(job.id)


def test_reschedule_moves_the_job_under_a_new_id(scheduler: Scheduler, dynamodb: Any) -> None:
    job = scheduler.schedule("reminder", {"to": "ada"}, at=datetime(2026, 2, 9, 12, 0, tzinfo=UTC))
    new_due = datetime(2026, 2, 10, 8, 15, tzinfo=UTC)

    moved = scheduler.reschedule(job.id, at=new_due)

    assert moved.id == with_due(job.id, new_due) != job.id
    assert (moved.due, moved.detail, moved.detail_type, moved.created_at) == (
        new_due,
        job.detail,
        job.detail_type,
        job.created_at,
    )
    assert [(item["pk"], item["sk"]) for item in jobs_in(dynamodb)] == [job_key(moved.id)]
    assert scheduler.get(moved.id) == moved
    with pytest.raises(JobNotFound):
        scheduler.get(job.id)
    with pytest.raises(JobNotFound):
        scheduler.reschedule(job.id, delay=timedelta(minutes=1))


def test_reschedule_into_the_past_means_now(scheduler: Scheduler) -> None:
    job = scheduler.schedule("reminder", {}, delay=timedelta(hours=1))
    assert scheduler.reschedule(job.id, at=NOW - timedelta(days=1)).due == NOW


def test_get_of_an_unknown_id_is_not_found(scheduler: Scheduler) -> None:
    with pytest.raises(JobNotFound):
        scheduler.get(new_job_id(LATER))


def test_a_hand_written_item_is_listed_but_cannot_be_looked_up_by_id(scheduler: Scheduler, dynamodb: Any) -> None:
    hand_id = "0b6f3c7e-5d1a-4c55-9a63-2f4a3c1d9e10"
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "j#2026-02-09T11:30"},
            "sk": {"S": f"2026-02-09T11:34:00.000Z#{hand_id}"},
            "detail": {"M": {"recipient": {"S": "ada@example.com"}, "n": {"N": "2.5"}}},
            "detail_type": {"S": "reminder"},
        },
    )
    [listed] = scheduler.list_jobs().jobs
    assert (listed.id, listed.detail, listed.created_at) == (hand_id, {"recipient": "ada@example.com", "n": 2.5}, None)
    with pytest.raises(InvalidJob, match="can't be looked up by id") as caught:
        scheduler.get(hand_id)
    assert caught.value.field == "job_id"


def test_handles_are_json_ready(scheduler: Scheduler) -> None:
    job = scheduler.schedule("reminder", {"n": 1.5, "k": [1, 2]}, at=datetime(2026, 2, 9, 12, tzinfo=UTC))
    assert json.loads(json.dumps(scheduler.get(job.id).as_dict())) == {
        "id": job.id,
        "due": "2026-02-09T12:00:00.000Z",
        "detail_type": "reminder",
        "detail": {"n": 1.5, "k": [1, 2]},
        "series": None,
        "created_at": "2026-02-09T11:33:20.250Z",
    }


# -- idempotency keys ----------------------------------------------------------------------------------------------


def test_the_same_key_twice_yields_one_job(scheduler: Scheduler, dynamodb: Any) -> None:
    first = scheduler.schedule("reminder", {"n": 1}, delay=timedelta(minutes=5), key="order-42")
    second = scheduler.schedule("reminder", {"n": 2}, delay=timedelta(minutes=9), key="order-42")

    assert second == first
    assert len(jobs_in(dynamodb)) == 1
    [record] = [item for item in scan(dynamodb) if item["pk"].startswith("key#")]
    assert record == {
        "pk": "key#order-42",
        "sk": "key",
        "job_id": first.id,
        "expires_at": Decimal(int((first.due + timedelta(days=7)).timestamp())),
    }
    assert jobs_in(dynamodb)[0]["idempotency_key"] == "order-42"


def test_a_key_still_names_its_job_after_it_is_gone(scheduler: Scheduler, dynamodb: Any) -> None:
    first = scheduler.schedule("reminder", {"n": 1}, delay=timedelta(minutes=5), key="order-42")
    scheduler.cancel(first.id)
    again = scheduler.schedule("reminder", {"n": 1}, delay=timedelta(minutes=5), key="order-42")
    assert (again.id, again.due) == (first.id, first.due)
    assert jobs_in(dynamodb) == []


def test_reschedule_moves_the_key_with_the_job(scheduler: Scheduler, dynamodb: Any) -> None:
    first = scheduler.schedule("reminder", {"n": 1}, delay=timedelta(minutes=5), key="order-42")
    moved = scheduler.reschedule(first.id, delay=timedelta(hours=2))
    assert scheduler.schedule("reminder", {"n": 1}, delay=timedelta(minutes=5), key="order-42") == moved
    assert len(jobs_in(dynamodb)) == 1


def test_a_job_key_is_not_a_series_key(scheduler: Scheduler) -> None:
    scheduler.schedule_recurring("digest", {}, rate="1 day", key="daily")
    with pytest.raises(InvalidJob, match="series") as caught:
        scheduler.schedule("reminder", {}, delay=timedelta(minutes=5), key="daily")
    assert caught.value.field == "key"


# -- schedule_many -----------------------------------------------------------------------------------------------


def test_schedule_many_writes_25_a_request(scheduler: Scheduler, dynamodb: Any) -> None:
    calls = count_calls(dynamodb, "BatchWriteItem")
    requests = [JobRequest("reminder", {"n": n}, delay=timedelta(seconds=n * 37)) for n in range(60)]

    jobs = scheduler.schedule_many(requests)

    assert [len(call["RequestItems"][TABLE]) for call in calls] == [25, 25, 10]
    assert [job.detail["n"] for job in jobs] == list(range(60))
    stored = {item["sk"]: item for item in jobs_in(dynamodb)}
    assert set(stored) == {sort_key(job.due, job.id) for job in jobs}
    assert all(stored[sort_key(job.due, job.id)]["detail"] == {"n": job.detail["n"]} for job in jobs)


def test_schedule_many_of_nothing_writes_nothing(scheduler: Scheduler, dynamodb: Any) -> None:
    calls = count_calls(dynamodb, "BatchWriteItem")
    assert scheduler.schedule_many([]) == []
    assert calls == []


class Unprocessing:
    """A DynamoDB client whose BatchWriteItem leaves the last ``hold`` items of a request unprocessed, for the
    first ``times`` requests (forever when ``times`` is None). Everything else goes to the real client."""

    def __init__(self, client: Any, *, hold: int, times: int | None) -> None:
        self._client = client
        self.hold = hold
        self.times = times
        self.requests: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        (table, requests), *_ = RequestItems.items()
        self.requests.append(len(requests))
        if self.times is not None and len(self.requests) > self.times:
            return self._client.batch_write_item(RequestItems=RequestItems)
        processed, held = requests[: max(0, len(requests) - self.hold)], requests[len(requests) - self.hold :]
        if processed:
            self._client.batch_write_item(RequestItems={table: processed})
        return {"UnprocessedItems": {table: held} if held else {}}


def test_unprocessed_items_are_retried_with_back_off(dynamodb: Any, clock: Clock, sleeps: list[float]) -> None:
    flaky = Unprocessing(dynamodb, hold=10, times=2)
    scheduler = Scheduler(TABLE, dynamodb=flaky, clock=clock, sleep=sleeps.append)

    jobs = scheduler.schedule_many([JobRequest("reminder", {"n": n}, delay=timedelta(minutes=n)) for n in range(30)])

    assert flaky.requests == [25, 10, 10, 5]  # 25 → 10 held → 10 held again → written; then the last 5
    assert len(sleeps) == 2
    assert 0 < sleeps[0] <= 0.05 < sleeps[1] <= 0.1
    assert {item["sk"] for item in jobs_in(dynamodb)} == {sort_key(job.due, job.id) for job in jobs}


def test_items_that_stay_unprocessed_are_reported_with_what_was_written(
    dynamodb: Any, clock: Clock, sleeps: list[float]
) -> None:
    flaky = Unprocessing(dynamodb, hold=3, times=None)
    scheduler = Scheduler(TABLE, dynamodb=flaky, clock=clock, sleep=sleeps.append)

    with pytest.raises(ScheduleIncomplete, match="22 of 60 jobs were written") as caught:
        scheduler.schedule_many([JobRequest("reminder", {"n": n}, delay=timedelta(minutes=n)) for n in range(60)])

    assert len(flaky.requests) == 7  # one request and 6 bounded retries, then it gives up
    assert len(sleeps) == 6
    assert sum(sleeps) < 5
    assert len(caught.value.written) == 22
    assert len(caught.value.unwritten) == 38
    assert {item["sk"] for item in jobs_in(dynamodb)} == {sort_key(job.due, job.id) for job in caught.value.written}


def test_schedule_many_with_keys(scheduler: Scheduler, dynamodb: Any) -> None:
    jobs = scheduler.schedule_many(
        [
            JobRequest("reminder", {"n": 0}, delay=timedelta(minutes=1), key="a"),
            JobRequest("reminder", {"n": 1}, delay=timedelta(minutes=2)),
            JobRequest("reminder", {"n": 2}, delay=timedelta(minutes=3), key="a"),
        ]
    )
    assert jobs[0] == jobs[2]
    assert jobs[1].detail == {"n": 1}
    assert len(jobs_in(dynamodb)) == 2


# -- bad input: the field is named and nothing is written -------------------------------------------------------


def huge() -> dict[str, str]:
    return {"blob": "x" * (256 * 1024)}


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


LATER = datetime(2026, 2, 9, 12, 0, tzinfo=UTC)
BAD_INPUTS: list[tuple[str, Callable[[Scheduler, str], object], str]] = [
    ("naive at", lambda s, existing: s.schedule("t", {}, at=datetime(2026, 2, 9, 12)), "at"),
    ("naive ISO at", lambda s, existing: s.schedule("t", {}, at="2026-02-09T12:00:00"), "at"),
    ("unparseable at", lambda s, existing: s.schedule("t", {}, at="tomorrow at noon"), "at"),
    ("at of a wrong type", lambda s, existing: s.schedule("t", {}, at=1760000000), "at"),  # type: ignore[arg-type]
    ("negative delay", lambda s, existing: s.schedule("t", {}, delay=timedelta(seconds=-1)), "delay"),
    ("delay of a wrong type", lambda s, existing: s.schedule("t", {}, delay=30), "delay"),  # type: ignore[arg-type]
    ("both at and delay", lambda s, existing: s.schedule("t", {}, at=LATER, delay=timedelta(1)), "at"),
    ("neither at nor delay", lambda s, existing: s.schedule("t", {}), "at"),
    ("detail a list", lambda s, existing: s.schedule("t", [1, 2], at=LATER), "detail"),  # type: ignore[arg-type]
    ("detail a string", lambda s, existing: s.schedule("t", '{"a": 1}', at=LATER), "detail"),  # type: ignore[arg-type]
    ("detail with a set", lambda s, existing: s.schedule("t", {"a": {1, 2}}, at=LATER), "detail"),
    ("detail with bytes", lambda s, existing: s.schedule("t", {"a": b"x"}, at=LATER), "detail"),
    ("detail with NaN", lambda s, existing: s.schedule("t", {"a": float("nan")}, at=LATER), "detail"),
    ("detail with a non-string key", lambda s, existing: s.schedule("t", {1: "a"}, at=LATER), "detail"),  # type: ignore[dict-item]
    ("detail with a huge integer", lambda s, existing: s.schedule("t", {"a": 2**64}, at=LATER), "detail"),
    ("detail with a tiny float", lambda s, existing: s.schedule("t", {"a": 1e-300}, at=LATER), "detail"),
    ("detail too deep", lambda s, existing: s.schedule("t", deep(40), at=LATER), "detail"),
    ("event over 256 KB", lambda s, existing: s.schedule("t", huge(), at=LATER), "detail"),
    ("empty detail_type", lambda s, existing: s.schedule("", {}, at=LATER), "detail_type"),
    ("detail_type over 128", lambda s, existing: s.schedule("t" * 129, {}, at=LATER), "detail_type"),
    ("detail_type not a string", lambda s, existing: s.schedule(None, {}, at=LATER), "detail_type"),  # type: ignore[arg-type]
    ("empty key", lambda s, existing: s.schedule("t", {}, at=LATER, key=""), "key"),
    ("key over 512", lambda s, existing: s.schedule("t", {}, at=LATER, key="k" * 513), "key"),
    (
        "bad request in a batch",
        lambda s, existing: s.schedule_many([JobRequest("t", {}, at=LATER)] * 3 + [JobRequest("t", [], at=LATER)]),  # type: ignore[arg-type]
        "requests[3].detail",
    ),
    (
        "naive at in a batch",
        lambda s, existing: s.schedule_many(
            [JobRequest("t", {}, at=LATER), JobRequest("t", {}, at=datetime(2026, 2, 9))]
        ),
        "requests[1].at",
    ),
    ("not a request in a batch", lambda s, existing: s.schedule_many([{"detail_type": "t"}]), "requests[0]"),  # type: ignore[list-item]
    ("unknown tz", lambda s, existing: s.schedule_recurring("t", {}, cron="0 9 * * *", tz="Europe/Atlantis"), "tz"),
    ("invalid cron", lambda s, existing: s.schedule_recurring("t", {}, cron="0 9 * *"), "cron"),
    ("invalid cron value", lambda s, existing: s.schedule_recurring("t", {}, cron="0 24 * * *"), "cron"),
    ("invalid rate", lambda s, existing: s.schedule_recurring("t", {}, rate="every 5 minutes"), "rate"),
    ("zero rate", lambda s, existing: s.schedule_recurring("t", {}, rate="0 minutes"), "rate"),
    ("cron and rate", lambda s, existing: s.schedule_recurring("t", {}, cron="0 9 * * *", rate="1 day"), "cron"),
    ("neither cron nor rate", lambda s, existing: s.schedule_recurring("t", {}), "cron"),
    ("limit 0", lambda s, existing: s.schedule_recurring("t", {}, rate="1 day", limit=0), "limit"),
    (
        "ends_at before starts_at",
        lambda s, existing: s.schedule_recurring("t", {}, rate="1 day", starts_at=LATER, ends_at=LATER - timedelta(1)),
        "ends_at",
    ),
    (
        "naive starts_at",
        lambda s, existing: s.schedule_recurring("t", {}, rate="1 day", starts_at="2026-03-01T00:00"),
        "starts_at",
    ),
    (
        "series ended before now",
        lambda s, existing: s.schedule_recurring("t", {}, rate="1 day", ends_at=NOW - timedelta(1)),
        "ends_at",
    ),
    ("series detail not a map", lambda s, existing: s.schedule_recurring("t", [], rate="1 day"), "detail"),  # type: ignore[arg-type]
    ("series event too big", lambda s, existing: s.schedule_recurring("t", huge(), rate="1 day"), "detail"),
    ("series key too long", lambda s, existing: s.schedule_recurring("t", {}, rate="1 day", key="k" * 600), "key"),
    ("a job id that is not one", lambda s, existing: s.get("42"), "job_id"),
    ("cancel of a hand-typed id", lambda s, existing: s.cancel("0b6f3c7e-5d1a-4c55-9a63-2f4a3c1d9e10"), "job_id"),
    ("reschedule with a negative delay", lambda s, existing: s.reschedule(existing, delay=timedelta(-1)), "delay"),
    ("reschedule with no time", lambda s, existing: s.reschedule(existing), "at"),
    ("list page of 0", lambda s, existing: s.list_jobs(limit=0), "limit"),
    ("list range backwards", lambda s, existing: s.list_jobs(start=LATER, end=LATER - timedelta(1)), "end"),
    ("list with a naive start", lambda s, existing: s.list_jobs(start="2026-02-09T11:00"), "start"),
    ("list with a forged cursor", lambda s, existing: s.list_jobs(cursor="bm90IGEgY3Vyc29y"), "cursor"),
]


@pytest.mark.parametrize(
    ("call", "field"), [(call, field) for _, call, field in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_names_the_field_and_writes_nothing(
    scheduler: Scheduler, dynamodb: Any, call: Callable[[Scheduler, str], object], field: str
) -> None:
    existing = scheduler.schedule("existing", {"n": 1}, at=LATER, key="existing").id
    scheduler.schedule_recurring("existing", {}, rate="1 hour")
    before = scan(dynamodb)

    with pytest.raises(InvalidJob) as caught:
        call(scheduler, existing)

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert scan(dynamodb) == before


def test_floats_and_big_but_storable_numbers_are_accepted(scheduler: Scheduler) -> None:
    detail = {"pi": 3.141592653589793, "big": 2**63 - 1, "small": -(2**63), "tiny": 1e-100, "list": [0.5, -2.25]}
    job = scheduler.schedule("t", detail, at=LATER)
    assert scheduler.get(job.id).detail == detail


def test_a_detail_just_under_the_limit_is_accepted(scheduler: Scheduler) -> None:
    envelope = len("onthedot") + len("t") + 14 + len("onthedot:job/") + 36 + len('{"blob":""}')
    job = scheduler.schedule("t", {"blob": "x" * (256 * 1024 - envelope)}, at=LATER)
    assert len(scheduler.get(job.id).detail["blob"]) == 256 * 1024 - envelope
    with pytest.raises(InvalidJob):
        scheduler.schedule("t", {"blob": "x" * (256 * 1024 - envelope + 1)}, at=LATER)


# -- list_jobs -----------------------------------------------------------------------------------------------------


DUES = [
    datetime(2026, 2, 9, 11, 58, tzinfo=UTC),
    datetime(2026, 2, 9, 11, 59, 59, 999000, tzinfo=UTC),
    datetime(2026, 2, 9, 12, 0, tzinfo=UTC),  # an hour and a bucket edge
    datetime(2026, 2, 9, 12, 0, tzinfo=UTC),  # the same time twice
    datetime(2026, 2, 9, 12, 4, 59, 999000, tzinfo=UTC),
    datetime(2026, 2, 9, 12, 5, tzinfo=UTC),
    datetime(2026, 2, 9, 12, 31, tzinfo=UTC),
    datetime(2026, 2, 10, 0, 0, tzinfo=UTC),  # next day
]


@pytest.fixture
def listed(scheduler: Scheduler) -> list[Job]:
    """Jobs at DUES, scheduled in a scrambled order; returned in due order (ties by id)."""
    order = [5, 0, 7, 2, 4, 1, 6, 3]
    jobs = [scheduler.schedule("reminder", {"n": index}, at=DUES[index]) for index in order]
    return sorted(jobs, key=lambda job: (job.due, job.id))


def test_list_jobs_in_due_order_across_bucket_hour_and_day_edges(
    scheduler: Scheduler, dynamodb: Any, listed: list[Job]
) -> None:
    scans = count_calls(dynamodb, "Scan")
    queries = count_calls(dynamodb, "Query")

    page = scheduler.list_jobs(start=DUES[0], end=DUES[-1], limit=100)

    assert page.jobs == listed
    assert page.cursor is None
    assert scans == []
    assert all(query["ConsistentRead"] for query in queries)
    pks = [query["ExpressionAttributeValues"][":pk"]["S"] for query in queries]
    assert pks == sorted(pks)
    assert pks[0] == "j#2026-02-09T11:55"
    assert pks[-1] == "j#2026-02-10T00:00"
    assert len(pks) == 12 * 12 + 2  # every bucket from 11:55 to 00:00 once


def test_list_jobs_bounds_are_inclusive(scheduler: Scheduler, listed: list[Job]) -> None:
    page = scheduler.list_jobs(start=DUES[2], end=DUES[5])
    assert [job.due for job in page.jobs] == DUES[2:6]
    page = scheduler.list_jobs(start="2026-02-09T12:00:00.001Z", end="2026-02-09T12:04:59.998Z")
    assert page.jobs == []


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8])
def test_list_jobs_paginates_with_a_cursor(scheduler: Scheduler, listed: list[Job], limit: int) -> None:
    seen: list[Job] = []
    page = scheduler.list_jobs(start=DUES[0], end=DUES[-1], limit=limit)
    pages = 1
    while True:
        assert len(page.jobs) <= limit
        seen.extend(page.jobs)
        if page.cursor is None:
            break
        page = scheduler.list_jobs(cursor=page.cursor, limit=limit)
        pages += 1
    assert seen == listed
    assert pages <= len(listed) // limit + 1


def test_list_jobs_default_range_is_the_undrained_buckets_to_a_day_ahead(
    scheduler: Scheduler, clock: Clock, listed: list[Job]
) -> None:
    clock.now = datetime(2026, 2, 9, 12, 8, tzinfo=UTC)  # reads from 11:55 (two buckets back) to tomorrow 12:08
    assert scheduler.list_jobs().jobs == listed
    clock.now = datetime(2026, 2, 9, 12, 10, tzinfo=UTC)  # reads from 12:00 on
    assert [job.due for job in scheduler.list_jobs().jobs] == DUES[2:]


# -- recurring jobs --------------------------------------------------------------------------------------------------


def test_schedule_recurring_writes_the_series_and_its_first_occurrence(scheduler: Scheduler, dynamodb: Any) -> None:
    series = scheduler.schedule_recurring(
        "digest", {"list": "weekly", "score": 0.5}, cron="0 9 * * 1", tz="Europe/Berlin", limit=4
    )

    first_due = datetime(2026, 2, 16, 8, 0, tzinfo=UTC)  # Monday 09:00 CET
    assert series.next is not None
    assert (series.next.due, series.next.series, series.next.detail) == (first_due, series.id, series.detail)
    assert uuid.UUID(series.id).version == 4
    series_item, occurrence = (
        next(item for item in scan(dynamodb) if item["pk"].startswith("series#")),
        next(iter(jobs_in(dynamodb))),
    )
    assert series_item == {
        "pk": f"series#{series.id}",
        "sk": "series",
        "detail": {"list": "weekly", "score": Decimal("0.5")},
        "detail_type": "digest",
        "cron": "0 9 * * 1",
        "tz": "Europe/Berlin",
        "starts_at": "2026-02-09T11:33:20.250Z",
        "limit": Decimal(4),
        "fired": Decimal(0),
        "current": sort_key(first_due, series.next.id),
        "created_at": "2026-02-09T11:33:20.250Z",
    }
    assert occurrence == {
        "pk": "j#2026-02-16T08:00",
        "sk": sort_key(first_due, series.next.id),
        "detail_type": "digest",
        "series": series.id,
        "occurrence": Decimal(1),
        "created_at": "2026-02-09T11:33:20.250Z",
    }


def test_an_occurrence_reads_its_detail_from_the_series(scheduler: Scheduler) -> None:
    series = scheduler.schedule_recurring("digest", {"list": "daily"}, rate="1 day", tz="America/Santiago")
    assert series.next is not None
    assert scheduler.get(series.next.id) == series.next
    assert series.next.detail == {"list": "daily"}
    assert series.next.due == NOW  # a rate fires first at its start, now by default
    [listed] = scheduler.list_jobs().jobs
    assert listed == series.next


def test_get_series_round_trips(scheduler: Scheduler) -> None:
    series = scheduler.schedule_recurring(
        "digest",
        {"n": 1},
        rate="15 minutes",
        tz="Australia/Sydney",
        starts_at="2026-03-01T00:00:00+11:00",
        ends_at=datetime(2026, 3, 31, tzinfo=UTC),
    )
    assert scheduler.get_series(series.id) == series
    assert json.loads(json.dumps(series.as_dict()))["next"]["due"] == "2026-02-28T13:00:00.000Z"
    assert series.as_dict()["ends_at"] == "2026-03-31T00:00:00.000Z"


def test_an_occurrence_cannot_be_cancelled_or_rescheduled_alone(scheduler: Scheduler, dynamodb: Any) -> None:
    series = scheduler.schedule_recurring("digest", {}, cron="*/5 * * * *")
    assert series.next is not None
    before = scan(dynamodb)
    with pytest.raises(InvalidJob, match=f"occurrence of series {series.id}: cancel the series") as caught:
        scheduler.cancel(series.next.id)
    assert caught.value.field == "job_id"
    with pytest.raises(InvalidJob, match="occurrence of series"):
        scheduler.reschedule(series.next.id, delay=timedelta(hours=1))
    assert scan(dynamodb) == before


def test_cancel_series_deletes_the_series_and_its_occurrence(scheduler: Scheduler, dynamodb: Any) -> None:
    other = scheduler.schedule("reminder", {}, delay=timedelta(minutes=3))
    series = scheduler.schedule_recurring("digest", {"n": 1}, cron="0 * * * *")

    assert scheduler.cancel_series(series.id) == series

    assert [item["sk"] for item in scan(dynamodb)] == [sort_key(other.due, other.id)]
    with pytest.raises(JobNotFound):
        scheduler.get_series(series.id)
    with pytest.raises(JobNotFound):
        scheduler.cancel_series(series.id)


def test_cancel_series_of_an_ended_series(scheduler: Scheduler, dynamodb: Any) -> None:
    series = scheduler.schedule_recurring("digest", {}, rate="1 hour", limit=1)
    assert series.next is not None
    # As the publish function leaves a series whose last occurrence fired: no current, the occurrence gone.
    dynamodb.delete_item(
        TableName=TABLE, Key={"pk": {"S": job_key(series.next.id)[0]}, "sk": {"S": job_key(series.next.id)[1]}}
    )
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"series#{series.id}"}, "sk": {"S": "series"}},
        UpdateExpression="REMOVE #c SET #f = :one",
        ExpressionAttributeNames={"#c": "current", "#f": "fired"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    ended = scheduler.get_series(series.id)
    assert (ended.next, ended.fired) == (None, 1)
    assert scheduler.cancel_series(series.id) == ended
    assert scan(dynamodb) == []


def test_cancel_series_retries_when_the_series_advanced_meanwhile(scheduler: Scheduler, dynamodb: Any) -> None:
    series = scheduler.schedule_recurring("digest", {}, rate="1 hour")
    assert series.next is not None
    advanced = {"done": False}

    def advance(**_: Any) -> None:
        """Before the first cancel transaction: the dispatcher fires the occurrence and writes the next one."""
        if advanced["done"]:
            return
        advanced["done"] = True
        assert series.next is not None
        next_id = with_due(series.next.id, series.next.due + timedelta(hours=1))
        pk, sk = job_key(next_id)
        old_pk, old_sk = job_key(series.next.id)
        dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": old_pk}, "sk": {"S": old_sk}})
        dynamodb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": pk}, "sk": {"S": sk}, "series": {"S": series.id}, "detail_type": {"S": "digest"}},
        )
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": f"series#{series.id}"}, "sk": {"S": "series"}},
            UpdateExpression="SET #c = :sk",
            ExpressionAttributeNames={"#c": "current"},
            ExpressionAttributeValues={":sk": {"S": sk}},
        )

    dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", advance)
    cancelled = scheduler.cancel_series(series.id)

    assert advanced["done"]
    assert cancelled.next is not None
    assert cancelled.next.due == series.next.due + timedelta(hours=1)
    assert scan(dynamodb) == []


def test_the_same_series_key_twice_yields_one_series(scheduler: Scheduler, dynamodb: Any) -> None:
    first = scheduler.schedule_recurring("digest", {}, rate="1 day", key="daily", ends_at=NOW + timedelta(days=30))
    second = scheduler.schedule_recurring("digest", {"other": 1}, rate="2 days", key="daily")
    assert second == first
    items = scan(dynamodb)
    assert len([item for item in items if item["pk"].startswith("series#")]) == 1
    assert len(jobs_in(dynamodb)) == 1
    [record] = [item for item in items if item["pk"] == "key#daily"]
    assert record["series"] == first.id
    assert record["expires_at"] == int((NOW + timedelta(days=37)).timestamp())


def test_a_series_handle_is_a_series(scheduler: Scheduler) -> None:
    series = scheduler.schedule_recurring("digest", {}, cron="0 9 * * *", tz="Pacific/Auckland")
    assert isinstance(series, Series)
    assert series.next is not None
    assert series.next.due == datetime(2026, 2, 9, 20, 0, tzinfo=UTC)  # 09:00 NZDT on the 10th


class Conflicting:
    """A DynamoDB client whose first ``times`` TransactWriteItems calls are cancelled by a conflict."""

    def __init__(self, client: Any, times: int) -> None:
        self._client = client
        self.times = times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **params: Any) -> Any:
        self.calls += 1
        if self.calls <= self.times:
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (len(params["TransactItems"]) - 1)
            raise ClientError(
                {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons},
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**params)


def test_a_conflict_on_a_key_is_tried_again(dynamodb: Any, clock: Clock, sleeps: list[float]) -> None:
    conflicting = Conflicting(dynamodb, times=2)
    scheduler = Scheduler(TABLE, dynamodb=conflicting, clock=clock, sleep=sleeps.append)
    job = scheduler.schedule("reminder", {}, delay=timedelta(minutes=5), key="order-42")
    assert (conflicting.calls, len(sleeps)) == (3, 2)
    assert scheduler.get(job.id) == job


def test_a_conflict_that_persists_is_raised(dynamodb: Any, clock: Clock, sleeps: list[float]) -> None:
    scheduler = Scheduler(TABLE, dynamodb=Conflicting(dynamodb, times=99), clock=clock, sleep=sleeps.append)
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        scheduler.schedule("reminder", {}, delay=timedelta(minutes=5), key="order-42")
    assert scan(dynamodb) == []


# -- the bucket width: the table's, read once ------------------------------------------------------------------------


def record_width(dynamodb: Any, minutes: Any) -> None:
    """The dispatcher's cursor item, recording the bucket width in force (as the dispatcher writes it)."""
    value = {"N": str(minutes)} if isinstance(minutes, int) else {"S": str(minutes)}
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "cursor"},
            "sk": {"S": "dispatcher"},
            "bucket": {"S": "j#2026-02-09T11:30"},
            "bucket_minutes": value,
        },
    )


def test_a_fresh_table_gets_five_minute_buckets(scheduler: Scheduler, dynamodb: Any) -> None:
    job = scheduler.schedule("t", {}, at="2026-02-09T12:07:00Z")
    assert [item["pk"] for item in jobs_in(dynamodb)] == ["j#2026-02-09T12:05"]
    assert scheduler.bucket_minutes == 5
    assert scheduler.get(job.id) == job


def test_the_width_the_table_records_is_the_width_jobs_are_keyed_with(
    dynamodb: Any, clock: Clock, sleeps: list[float]
) -> None:
    # GIVEN a dispatcher that runs 15-minute buckets, and a Scheduler told nothing about it
    record_width(dynamodb, 15)
    scheduler = Scheduler(TABLE, dynamodb=dynamodb, clock=clock, sleep=sleeps.append)

    # WHEN jobs are scheduled, one by one, in a batch and as a series
    job = scheduler.schedule("t", {}, at="2026-02-09T12:07:00Z")
    batch = scheduler.schedule_many([JobRequest("t", {}, at="2026-02-09T12:29:59Z")])
    series = scheduler.schedule_recurring("t", {}, cron="44 12 * * *")

    # THEN each sits in the 15-minute bucket that holds it, and reads back by id
    assert scheduler.bucket_minutes == 15
    assert sorted(item["pk"] for item in jobs_in(dynamodb)) == [
        "j#2026-02-09T12:00",
        "j#2026-02-09T12:15",
        "j#2026-02-09T12:30",
    ]
    assert scheduler.get(job.id) == job
    assert scheduler.get(batch[0].id) == batch[0]
    assert scheduler.get_series(series.id).next == series.next
    assert [found.id for found in scheduler.list_jobs(start=NOW, end=NOW + timedelta(hours=2)).jobs] == [
        job.id,
        batch[0].id,
        series.next.id if series.next else None,
    ]
    moved = scheduler.reschedule(job.id, at="2026-02-09T13:14:00Z")
    assert job_key(moved.id, 15)[0] == "j#2026-02-09T13:00"
    assert scheduler.cancel(moved.id).id == moved.id


def test_a_width_given_that_matches_the_table_is_fine(dynamodb: Any, clock: Clock) -> None:
    record_width(dynamodb, 15)
    scheduler = Scheduler(TABLE, dynamodb=dynamodb, clock=clock, bucket_minutes=15)
    scheduler.schedule("t", {}, at="2026-02-09T12:07:00Z")
    assert [item["pk"] for item in jobs_in(dynamodb)] == ["j#2026-02-09T12:00"]


def test_a_width_given_is_used_on_a_table_that_records_none(dynamodb: Any, clock: Clock) -> None:
    scheduler = Scheduler(TABLE, dynamodb=dynamodb, clock=clock, bucket_minutes=15)
    scheduler.schedule("t", {}, at="2026-02-09T12:07:00Z")
    assert [item["pk"] for item in jobs_in(dynamodb)] == ["j#2026-02-09T12:00"]


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.schedule("t", {}, at="2026-02-09T12:07:00Z"),
        lambda s: s.schedule_many([JobRequest("t", {}, delay=timedelta(minutes=1))]),
        lambda s: s.schedule_recurring("t", {}, rate="1 hour"),
        lambda s: s.get(new_job_id(LATER)),
        lambda s: s.list_jobs(),
    ],
    ids=["schedule", "schedule_many", "schedule_recurring", "get", "list_jobs"],
)
def test_a_width_given_that_differs_from_the_table_is_refused(
    dynamodb: Any, clock: Clock, call: Callable[[Scheduler], object]
) -> None:
    # GIVEN a table whose dispatcher runs 15-minute buckets, and a caller who says 5
    record_width(dynamodb, 15)
    scheduler = Scheduler(TABLE, dynamodb=dynamodb, clock=clock, bucket_minutes=5)
    before = scan(dynamodb)

    # WHEN it is used, THEN it refuses, naming both widths, and writes nothing
    with pytest.raises(BucketWidthMismatch) as caught:
        call(scheduler)
    assert caught.value.field == "bucket_minutes"
    assert (caught.value.given, caught.value.recorded) == (5, 15)
    assert "5-minute buckets were asked for, but table Jobs records 15-minute buckets" in str(caught.value)
    assert scan(dynamodb) == before


def test_the_width_is_read_once(dynamodb: Any, clock: Clock) -> None:
    record_width(dynamodb, 15)
    reads = count_calls(dynamodb, "GetItem")
    scheduler = Scheduler(TABLE, dynamodb=dynamodb, clock=clock)
    for minute in range(3):
        scheduler.schedule("t", {}, at=f"2026-02-09T12:0{minute}:00Z")
    scheduler.list_jobs()
    assert [read["Key"]["pk"]["S"] for read in reads] == ["cursor"]


@pytest.mark.parametrize("recorded", [7, 0, 120, "fifteen"])
def test_a_damaged_width_on_the_table_is_an_error_not_a_guess(dynamodb: Any, clock: Clock, recorded: Any) -> None:
    record_width(dynamodb, recorded)
    before = scan(dynamodb)
    with pytest.raises(InvalidJob, match=r"bucket_minutes: table Jobs records .* as its bucket width"):
        Scheduler(TABLE, dynamodb=dynamodb, clock=clock).schedule("t", {}, delay=timedelta(minutes=1))
    assert scan(dynamodb) == before
