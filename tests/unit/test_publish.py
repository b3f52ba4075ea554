"""The publish function against moto: batching, partial failures, poison jobs, and what a worker receives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import Binary
from botocore.awsrequest import AWSResponse

from functions.publish.dead_letter import DeadLetters
from functions.publish.publisher import (
    BACKOFF_CAP_SECONDS,
    HOLD_SECONDS,
    MAX_BYTES_PER_PUT,
    MAX_KEYS_PER_READ,
    PageResult,
    backoff,
    parse_event,
    publish_page,
)
from onthedot.core import lateness
from onthedot.core import metrics as metric_names
from onthedot.core.jobs import entry_size, job_resource
from onthedot.core.keys import format_time, new_job_id, parse_sort_key, partition_key, sort_key
from onthedot.core.occurrence import occurrence_item, series_key
from onthedot.deploy.settings import Settings, publish_environment
from tests.support import create_job_tables

REGION = "us-east-1"
TABLE_NAME = "Jobs"
BUS_NAME = "onthedot-unit"
DEAD_LETTER_TABLE_NAME = "DeadLetters"
SOURCE = "onthedot"
BUCKET = datetime(2026, 2, 9, 11, 30, tzinfo=UTC)
PK = partition_key(BUCKET)
NOW = datetime(2026, 2, 9, 11, 36, 30, tzinfo=UTC)
EVENTS_DIR = Path(__file__).parent / "events"


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def dynamodb(aws: None) -> Any:
    resource = boto3.resource("dynamodb", region_name=REGION)
    create_job_tables(resource, TABLE_NAME, DEAD_LETTER_TABLE_NAME)
    return resource


@pytest.fixture
def table(dynamodb: Any) -> Any:
    return dynamodb.Table(TABLE_NAME)


@pytest.fixture
def events(aws: None) -> Any:
    client = boto3.client("events", region_name=REGION)
    client.create_event_bus(Name=BUS_NAME)
    return client


@pytest.fixture
def put_requests(events: Any) -> list[list[dict[str, Any]]]:
    """The Entries of every PutEvents request the real client sends, seen through a botocore event hook."""
    requests: list[list[dict[str, Any]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        requests.append(list(params["Entries"]))

    events.meta.events.register("before-parameter-build.events.PutEvents", record)
    return requests


@pytest.fixture
def queue_url(events: Any) -> str:
    """An SQS queue behind a rule on the bus: a worker's view of the events."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="worker")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="worker", EventBusName=BUS_NAME, EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="worker", EventBusName=BUS_NAME, Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


class Sleeps(list[float]):
    """An injected sleep that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


# --- helpers --------------------------------------------------------------------------------------------


def add_job(
    table: Any, number: int, *, detail: Any = None, detail_type: Any = "reminder", sk: str | None = None
) -> str:
    """Write a job due ``number`` seconds into the bucket; returns its sort key."""
    sk = sk or sort_key(BUCKET + timedelta(seconds=number), f"job-{number:04d}")
    item: dict[str, Any] = {"pk": PK, "sk": sk, "detail": {"n": number} if detail is None else detail}
    if detail_type is not None:
        item["detail_type"] = detail_type
    table.put_item(Item=item)
    return sk


def run(
    dynamodb: Any, events: Any, sks: list[str], sleep: Any, *, retries: int = 3, now: Any = lambda: NOW, **kwargs: Any
) -> PageResult:
    return publish_page(
        PK,
        sks,
        dynamodb=dynamodb,
        table_name=TABLE_NAME,
        events_client=events,
        bus_name=BUS_NAME,
        source=SOURCE,
        retries=retries,
        sleep=sleep,
        now=now,
        **kwargs,
    )


def outcome(result: PageResult) -> dict[str, Any]:
    """What became of each key, from the response (without the lateness figures)."""
    response = result.as_dict()
    return {
        "published": response["published"],
        "occurrences": response["occurrences"],
        "failed": [{"sk": failure.sk, "error": failure.error} for failure in result.failed],
        "dead": response["dead"],
        "missing": response["missing"],
    }


def assert_accounted(result: PageResult, sks: list[str]) -> None:
    """Every sort key is in exactly one of published, failed, missing; the response is plain JSON."""
    failed = [failure.sk for failure in result.failed]
    assert len(result.published) + len(failed) + result.missing == len(sks)
    assert not set(result.published) & set(failed)
    assert set(result.published) | set(failed) <= set(sks)
    assert json.loads(json.dumps(result.as_dict())) == result.as_dict()


def received(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages.extend(json.loads(message["Body"]) for message in batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return messages


def flatten(requests: list[list[Any]]) -> list[Any]:
    return [entry for request in requests for entry in request]


def job_ids(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["Resources"][0].removeprefix("onthedot:job/") for entry in entries]


class RejectingEvents:
    """The real events client, except that the chosen jobs' entries come back with an ErrorCode the first
    ``times`` times they are sent (as EventBridge answers a partly throttled request)."""

    def __init__(self, client: Any, sks: list[str], times: int) -> None:
        self.client = client
        self.remaining = {job_resource(parse_sort_key(sk)[1]): times for sk in sks}

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        outcomes: list[dict[str, Any]] = [{} for _ in Entries]
        passing = []
        for index, entry in enumerate(Entries):
            resource = entry["Resources"][0]
            if self.remaining.get(resource, 0) > 0:
                self.remaining[resource] -= 1
                outcomes[index] = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
            else:
                passing.append(index)
        if passing:
            response = self.client.put_events(Entries=[Entries[index] for index in passing])
            for index, outcome in zip(passing, response["Entries"], strict=True):
                outcomes[index] = outcome
        return {"FailedEntryCount": sum("ErrorCode" in o for o in outcomes), "Entries": outcomes}


class UnprocessingDynamoDB:
    """The real DynamoDB resource, except that BatchGetItem leaves the chosen keys unprocessed the first
    ``times`` times they are asked for (as DynamoDB does under throttling or over 16 MB)."""

    def __init__(self, resource: Any, sks: list[str], times: int) -> None:
        self.resource = resource
        self.remaining = dict.fromkeys(sks, times)
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems)
        request = RequestItems[TABLE_NAME]
        served, unprocessed = [], []
        for key in request["Keys"]:
            if self.remaining.get(key["sk"], 0) > 0:
                self.remaining[key["sk"]] -= 1
                unprocessed.append(key)
            else:
                served.append(key)
        response: dict[str, Any] = {"Responses": {TABLE_NAME: []}, "UnprocessedKeys": {}}
        if served:
            real = self.resource.batch_get_item(RequestItems={TABLE_NAME: {**request, "Keys": served}})
            response["Responses"] = real["Responses"]
        if unprocessed:
            response["UnprocessedKeys"] = {TABLE_NAME: {**request, "Keys": unprocessed}}
        return response


# --- batching -------------------------------------------------------------------------------------------


def test_publishes_25_jobs_in_3_requests_of_at_most_10(dynamodb, table, events, put_requests, sleeps):
    # GIVEN 25 due jobs
    sks = [add_job(table, n) for n in range(25)]

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps)

    # THEN three requests of 10, 10 and 5 entries carried every job once, and all are reported published
    assert [len(request) for request in put_requests] == [10, 10, 5]
    assert sorted(job_ids(flatten(put_requests))) == [f"job-{n:04d}" for n in range(25)]
    assert result.published == sks
    assert result.failed == []
    assert result.missing == 0
    assert sleeps == []
    assert_accounted(result, sks)


def test_requests_stay_under_256_kb(dynamodb, table, events, put_requests, sleeps):
    # GIVEN 5 jobs whose events are about 100 KB each
    sks = [add_job(table, n, detail={"blob": "x" * 100_000}) for n in range(5)]

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps)

    # THEN no request carries more than 256 KB (so at most 2 of them), and every job is published
    assert [len(request) for request in put_requests] == [2, 2, 1]
    for request in put_requests:
        assert sum(entry_size(entry) for entry in request) <= MAX_BYTES_PER_PUT
    assert result.published == sks
    assert_accounted(result, sks)


def test_reads_at_most_100_keys_a_request_consistently(dynamodb, table, events, sleeps):
    # GIVEN a page of 250 keys of which 3 exist
    sks = [add_job(table, n) for n in (0, 120, 249)]
    sks += [sort_key(BUCKET + timedelta(seconds=n), f"gone-{n}") for n in range(247)]
    reads: list[dict[str, Any]] = []
    dynamodb.meta.client.meta.events.register(
        "before-parameter-build.dynamodb.BatchGetItem",
        lambda params, **_: reads.append(params["RequestItems"]),
    )

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps)

    # THEN the reads were 100, 100 and 50 keys, strongly consistent; the rest are missing, not failed
    assert [len(read[TABLE_NAME]["Keys"]) for read in reads] == [100, 100, 50]
    assert all(read[TABLE_NAME]["ConsistentRead"] is True for read in reads)
    assert max(len(read[TABLE_NAME]["Keys"]) for read in reads) <= MAX_KEYS_PER_READ
    assert sorted(result.published) == sorted(sks[:3])
    assert result.missing == 247
    assert_accounted(result, sks)


# --- what a worker receives -----------------------------------------------------------------------------


def test_worker_receives_detail_unchanged_with_job_id_and_due_time(dynamodb, table, events, queue_url, sleeps):
    # GIVEN jobs whose detail holds quotes, backslashes, non-ASCII text and DynamoDB numbers
    tricky = {
        "text": 'She said "hi" \\ C:\\path\\n \u00e9t\u00e9 \u4e2d\u6587 \U0001f600',
        "nested": {"quote": '"', "backslash": "\\", "list": [Decimal(1), Decimal("2.5"), "\u2603"]},
        "recipient": "ana@example.com",
    }
    expected = {
        "text": tricky["text"],
        "nested": {"quote": '"', "backslash": "\\", "list": [1, 2.5, "\u2603"]},
        "recipient": "ana@example.com",
    }
    sks = [add_job(table, n, detail=tricky, detail_type=f"reminder.{n}") for n in (3, 150, 299)]
    sent: list[dict[str, Any]] = []
    events.meta.events.register(
        "before-parameter-build.events.PutEvents", lambda params, **_: sent.extend(params["Entries"])
    )

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps)

    # THEN the Detail sent is the item's detail, byte for byte, not ASCII-escaped ...
    assert result.published == sks
    assert {entry["Detail"] for entry in sent} == {json.dumps(expected, ensure_ascii=False, separators=(",", ":"))}
    # ... and each worker event carries that detail, the detail-type, the job id and the due time
    messages = sorted(received(queue_url), key=lambda message: message["resources"][0])
    assert len(messages) == len(sks)
    for message, sk in zip(messages, sks, strict=True):
        due, job_id = parse_sort_key(sk)
        assert message["detail"] == expected
        assert message["detail-type"] == f"reminder.{int((due - BUCKET).total_seconds())}"
        assert message["source"] == SOURCE
        assert message["resources"] == [job_resource(job_id)]
        assert message["time"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_lateness_is_measured_for_every_job_published(dynamodb, table, events, sleeps):
    # GIVEN jobs due 10 s and 200 s into the bucket, published at NOW (6 min 30 s into it)
    sks = [add_job(table, 200), add_job(table, 10)]

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps)

    # THEN each job's lateness is measured from its own due time, and the response carries their histogram
    assert sorted(result.lateness_ms) == [190_000.0, 380_000.0]
    response = result.as_dict()
    assert response["latenessMaxMs"] == 380_000
    assert response["lateness"] == lateness.histogram([190_000, 380_000])
    assert sum(response["lateness"]) == 2


def test_nothing_published_has_no_lateness(dynamodb, events, sleeps):
    sks = [sort_key(BUCKET, "gone")]

    result = run(dynamodb, events, sks, sleeps)

    assert result.lateness_ms == []
    assert result.as_dict() == {
        "published": [],
        "dead": [],
        "occurrences": 0,
        "advanced": 0,
        "unreplaced": 0,
        "failed": 0,
        "missing": 1,
        "notDue": 0,
        "lateness": [0] * len(lateness.EDGES_MS),
        "latenessMaxMs": 0,
    }


class Clock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self, start: datetime) -> None:
        self.moment = start
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += timedelta(seconds=seconds)


def test_jobs_due_within_the_second_are_held_until_their_due_time_and_never_sent_early(dynamodb, table, events):
    # GIVEN the dispatcher woke at a whole second and read jobs due 0.25 s, 0.7 s and 1.9 s later
    woke = BUCKET + timedelta(seconds=60)
    sks = [
        add_job(table, 0, sk=sort_key(woke + timedelta(milliseconds=offset), f"job-{offset}"))
        for offset in (1900, 250, 700)
    ]
    clock = Clock(woke)
    sent_at: list[datetime] = []
    events.meta.events.register("before-call.events.PutEvents", lambda **_: sent_at.append(clock()))

    # WHEN the page is published
    result = run(dynamodb, events, sks, clock.sleep, retries=0, now=clock)

    # THEN each is published at its due time exactly: the function slept until then, never sent one early
    assert sorted(result.published) == sorted(sks)
    assert clock.slept == pytest.approx([0.25, 0.45, 1.2])
    assert [moment - woke for moment in sent_at] == [
        timedelta(milliseconds=250),
        timedelta(milliseconds=700),
        timedelta(milliseconds=1900),
    ]
    assert result.lateness_ms == [0.0, 0.0, 0.0]


def test_a_job_cancelled_while_the_function_waits_for_it_is_not_published(dynamodb, table, events, put_requests):
    # GIVEN a job due 0.6 s after the dispatcher woke, cancelled (deleted) while the function waits for it
    woke = BUCKET + timedelta(seconds=60)
    sk = add_job(table, 0, sk=sort_key(woke + timedelta(milliseconds=600), "cancelled"))
    clock = Clock(woke)

    def cancel_meanwhile(seconds: float) -> None:
        table.delete_item(Key={"pk": PK, "sk": sk})
        clock.sleep(seconds)

    # WHEN the page is published
    result = run(dynamodb, events, [sk], cancel_meanwhile, retries=0, now=clock)

    # THEN it is read only once due, found gone, and nothing is sent
    assert (result.published, result.missing) == ([], 1)
    assert put_requests == []


def test_a_job_due_beyond_the_hold_is_left_for_a_later_tick(dynamodb, table, events, put_requests):
    woke = BUCKET + timedelta(seconds=60)
    later = add_job(table, 0, sk=sort_key(woke + timedelta(seconds=HOLD_SECONDS + 1), "later"))
    clock = Clock(woke)

    result = run(dynamodb, events, [later], clock.sleep, retries=0, now=clock)

    assert (result.published, result.failed, result.not_due) == ([], [], 1)
    assert put_requests == []
    assert clock.slept == []
    assert table.get_item(Key={"pk": PK, "sk": later})["Item"]["sk"] == later  # still there


# --- failures -------------------------------------------------------------------------------------------


def test_rejected_entries_are_retried_alone_until_accepted(dynamodb, table, events, put_requests, sleeps):
    # GIVEN 12 jobs, 3 of which EventBridge rejects twice
    sks = [add_job(table, n) for n in range(12)]
    flaky = [sks[1], sks[5], sks[11]]
    client = RejectingEvents(events, flaky, times=2)

    # WHEN the page is published with 3 retries
    result = run(dynamodb, client, sks, sleeps, retries=3)

    # THEN the retries sent only the rejected entries, and in the end every job was accepted once
    accepted_requests = [job_ids(request) for request in put_requests]
    assert accepted_requests[:2] == [job_ids_of(sks[:10], skip=flaky), job_ids_of(sks[10:], skip=flaky)]
    assert accepted_requests[2:] == [job_ids_of(flaky)]
    assert sorted(flatten(accepted_requests)) == sorted(job_ids_of(sks))
    assert result.published == sks
    assert result.failed == []
    assert len(sleeps) == 2
    assert all(0 <= seconds <= BACKOFF_CAP_SECONDS for seconds in sleeps)
    assert_accounted(result, sks)


def test_entries_still_rejected_after_retries_are_reported_failed(dynamodb, table, events, sleeps):
    # GIVEN 5 jobs, 2 of which EventBridge rejects more often than we retry
    sks = [add_job(table, n) for n in range(5)]
    client = RejectingEvents(events, [sks[0], sks[3]], times=99)

    # WHEN the page is published with 2 retries
    result = run(dynamodb, client, sks, sleeps, retries=2)

    # THEN those two are failed with EventBridge's code and message and are not in published
    assert result.published == [sks[1], sks[2], sks[4]]
    assert outcome(result)["failed"] == [
        {"sk": sks[0], "error": "ThrottlingException: Rate exceeded"},
        {"sk": sks[3], "error": "ThrottlingException: Rate exceeded"},
    ]
    assert result.as_dict()["failed"] == 2
    assert len(sleeps) == 2
    assert client.remaining[job_resource("job-0000")] == 99 - 3
    assert_accounted(result, sks)


def test_no_retries_means_one_attempt(dynamodb, table, events, sleeps):
    sks = [add_job(table, n) for n in range(3)]
    client = RejectingEvents(events, [sks[2]], times=1)

    result = run(dynamodb, client, sks, sleeps, retries=0)

    assert result.published == sks[:2]
    assert [failure.sk for failure in result.failed] == [sks[2]]
    assert sleeps == []


def test_a_failed_request_fails_only_its_own_entries(dynamodb, table, events, put_requests, sleeps):
    # GIVEN 25 jobs, and EventBridge failing the whole request that holds jobs 10-19 (after botocore's retries)
    sks = [add_job(table, n) for n in range(25)]
    calls = []

    def fail_second_batch(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        calls.append(1)
        if b'{\\"n\\":10}' not in params["body"]:  # job 10's Detail, as PutEvents' JSON body holds it
            return None
        error = {"Code": "InternalException", "Message": "Internal service error"}
        return AWSResponse("https://events", 500, {}, None), {"Error": error, "ResponseMetadata": {}}

    events.meta.events.register("before-call.events.PutEvents", fail_second_batch)

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps)

    # THEN the invocation completes: the first and third batches are published, the second is failed (a
    # service error, not one for the content: it is not split)
    assert len(calls) == 3
    assert sorted(result.published) == sks[:10] + sks[20:]
    assert [failure.sk for failure in result.failed] == sks[10:20]
    assert {failure.error for failure in result.failed} == {
        "PutEvents failed: InternalException: Internal service error"
    }
    assert sleeps == []
    assert_accounted(result, sks)


def test_a_request_refused_for_one_bad_entry_is_split_and_the_good_ones_are_published(
    dynamodb, table, events, put_requests, sleeps
):
    # GIVEN 10 jobs in one request, and EventBridge refusing any request that holds job 6 as a whole (400)
    sks = [add_job(table, n) for n in range(10)]

    def refuse_job_6(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if b'{\\"n\\":6}' not in params["body"]:
            return None
        error = {"Code": "ValidationException", "Message": "1 validation error detected"}
        return AWSResponse("https://events", 400, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    events.meta.events.register("before-call.events.PutEvents", refuse_job_6)

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps, retries=0)

    # THEN the request is halved until job 6 stands alone: the nine others are published in this invocation
    assert sorted(result.published) == [sk for index, sk in enumerate(sks) if index != 6]
    assert [failure.sk for failure in result.failed] == [sks[6]]
    assert result.failed[0].error.startswith("PutEvents failed: ValidationException")
    assert_accounted(result, sks)


def test_a_failed_read_fails_its_keys_and_publishes_the_rest(dynamodb, table, events, sleeps):
    # GIVEN 150 keys, and DynamoDB failing the read of the first 100 (the reads go out in parallel)
    sks = [add_job(table, n) for n in range(150)]

    def fail_first_read(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        [request] = json.loads(params["body"])["RequestItems"].values()
        if not any(key["sk"] == {"S": sks[0]} for key in request["Keys"]):
            return None
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeds"}
        return AWSResponse("https://dynamodb", 400, {}, None), {"Error": error, "ResponseMetadata": {}}

    dynamodb.meta.client.meta.events.register("before-call.dynamodb.BatchGetItem", fail_first_read)

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps)

    # THEN the first 100 are failed (not missing: they may well exist), the other 50 published
    assert result.published == sks[100:]
    assert [failure.sk for failure in result.failed] == sks[:100]
    assert result.failed[0].error.startswith("BatchGetItem failed: ProvisionedThroughputExceededException")
    assert result.missing == 0
    assert_accounted(result, sks)


def test_unprocessed_keys_are_read_again(dynamodb, table, events, sleeps):
    # GIVEN 6 jobs, 2 of which BatchGetItem leaves unprocessed twice
    sks = [add_job(table, n) for n in range(6)]
    reader = UnprocessingDynamoDB(dynamodb, [sks[0], sks[4]], times=2)

    # WHEN the page is published
    result = run(reader, events, sks, sleeps)

    # THEN the unprocessed keys were asked for again (alone), with backoff, and all jobs published
    assert [[key["sk"] for key in r[TABLE_NAME]["Keys"]] for r in reader.requests] == [
        sks,
        [sks[0], sks[4]],
        [sks[0], sks[4]],
    ]
    assert len(sleeps) == 2
    assert result.published == sks
    assert result.missing == 0
    assert_accounted(result, sks)


def test_keys_unprocessed_after_the_bound_are_failed_not_missing(dynamodb, table, events, sleeps):
    # GIVEN a job BatchGetItem never processes
    sks = [add_job(table, n) for n in range(3)]
    reader = UnprocessingDynamoDB(dynamodb, [sks[1]], times=99)

    # WHEN the page is published with 4 read retries
    result = run(reader, events, sks, sleeps, read_retries=4)

    # THEN it is failed after 1 + 4 reads, and the others are published
    assert len(reader.requests) == 5
    assert len(sleeps) == 4
    assert result.published == [sks[0], sks[2]]
    assert outcome(result)["failed"] == [{"sk": sks[1], "error": "still unprocessed by BatchGetItem after 4 retries"}]
    assert result.missing == 0
    assert_accounted(result, sks)


def test_missing_items_are_counted(dynamodb, table, events, put_requests, sleeps):
    # GIVEN a page whose keys include two jobs deleted since the query (by another run or a cancel)
    sks = [add_job(table, 1), sort_key(BUCKET, "deleted-1"), add_job(table, 2), sort_key(BUCKET, "deleted-2")]

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps)

    # THEN they are missing, neither published nor failed, and nothing was sent for them
    assert outcome(result) == {"published": [sks[0], sks[2]], "occurrences": 0, "failed": [], "dead": [], "missing": 2}
    assert job_ids(flatten(put_requests)) == ["job-0001", "job-0002"]


def test_duplicate_keys_are_published_once(dynamodb, table, events, put_requests, sleeps):
    sk = add_job(table, 7)

    result = run(dynamodb, events, [sk, sk], sleeps)

    assert outcome(result) == {"published": [sk], "occurrences": 0, "failed": [], "dead": [], "missing": 0}
    assert len(flatten(put_requests)) == 1


# --- poison jobs ----------------------------------------------------------------------------------------


def test_poison_jobs_are_failed_with_their_reason_and_the_rest_published(dynamodb, table, events, sleeps):
    # GIVEN good jobs and jobs no retry can publish
    good = [add_job(table, 0), add_job(table, 299)]
    poison = {
        add_job(table, 1, detail_type=None): "'detail_type' must be a string",
        add_job(table, 2, detail_type="x" * 129): "'detail_type' must be a string",
        add_job(table, 3, detail_type=Decimal(7)): "'detail_type' must be a string",
        add_job(table, 4, detail="just text"): "'detail' must be a map",
        add_job(table, 5, detail=[Decimal(1)]): "'detail' must be a map",
        add_job(table, 6, detail={"blob": Binary(b"\x00\x01")}): "'detail' cannot be encoded as JSON",
        add_job(table, 10, detail={"n": Decimal(2**63)}): "outside the 64-bit range",
        add_job(table, 7, detail={"huge": "y" * 270_000}): "over EventBridge's 262144",
        add_job(table, 8, sk="2026-02-09T11:30:08.000Z"): "unparseable sort key",
        add_job(table, 9, sk="not a time#job-0009"): "unparseable sort key",
    }
    sks = [good[0], *poison, good[1]]

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps)

    # THEN each poison job is failed with its reason, and the good ones are published
    assert result.published == good
    reasons = {failure.sk: failure.error for failure in result.failed}
    assert list(reasons) == list(poison)
    for sk, reason in poison.items():
        assert reasons[sk].startswith("poison job: ")
        assert reason in reasons[sk]
    assert result.as_dict()["failed"] == len(poison)  # the reasons are logged, the response stays small
    assert sleeps == []
    assert_accounted(result, sks)


# --- small parts ----------------------------------------------------------------------------------------


def test_backoff_grows_and_stays_capped():
    for attempt in range(1, 12):
        waits = [backoff(attempt) for _ in range(50)]
        assert all(0 <= wait <= min(BACKOFF_CAP_SECONDS, 0.05 * 2**attempt) for wait in waits)
    assert max(backoff(10) for _ in range(200)) > 0.05 * 2


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"pk": "", "sks": []},
        {"pk": PK},
        {"pk": PK, "sks": "one"},
        {"pk": PK, "sks": [1]},
        {"pk": 3, "sks": []},
    ],
)
def test_a_malformed_event_is_refused(event):
    with pytest.raises(ValueError, match="event must carry"):
        parse_event(event)


def test_the_event_fixture_parses():
    pk, sks, run_time = parse_event(json.loads((EVENTS_DIR / "publish_page.json").read_text()))
    assert pk == "j#2026-02-09T11:30"
    assert len(sks) == 3
    assert run_time == "2026-02-09T11:36:00.000Z"


# --- the Lambda handler ---------------------------------------------------------------------------------


@dataclass
class FakeLambdaContext:
    function_name: str = "onthedot-publish"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:onthedot-publish"
    aws_request_id: str = "7d2b7a4e-0000-4000-8000-000000000001"


@pytest.fixture
def app(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``functions.publish.app`` under the function's environment: read, and its clients made, at its first call."""
    environment = publish_environment(
        Settings(), table_name=TABLE_NAME, bus_name=BUS_NAME, dead_letter_table_name=DEAD_LETTER_TABLE_NAME
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    from functions.publish import app

    forget(app)
    # Powertools keeps metrics in a store shared by every Metrics instance: start from an empty one.
    app.metrics.clear_metrics()
    yield app
    forget(app)


def forget(app: Any) -> None:
    """Drop what the handler read and created on its first call, as a new Lambda runtime would start."""
    app.config.cache_clear()
    app.clients.cache_clear()


@pytest.mark.usefixtures("events")
def test_handler_publishes_the_page_and_emits_metrics(app, table, capsys, caplog):
    # GIVEN the dispatcher's event, with two of its three jobs in the table
    event = json.loads((EVENTS_DIR / "publish_page.json").read_text())
    for sk in event["sks"][:2]:
        table.put_item(Item={"pk": event["pk"], "sk": sk, "detail_type": "reminder", "detail": {"to": "secret-x"}})
    capsys.readouterr()

    # WHEN the handler is invoked
    started = datetime.now(UTC)
    response = app.handler(event, FakeLambdaContext())
    finished = datetime.now(UTC)

    # THEN it answers plain JSON: both existing jobs published, the third missing
    assert {name: response[name] for name in ("published", "occurrences", "failed", "dead", "missing", "notDue")} == {
        "published": event["sks"][:2],
        "occurrences": 0,
        "failed": 0,
        "dead": [],
        "missing": 1,
        "notDue": 0,
    }
    assert sum(response["lateness"]) == 2
    assert json.loads(json.dumps(response)) == response
    # ... and emits the counts and each job's lateness as EMF metrics in onthedot's namespace
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 1
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == metric_names.NAMESPACE
    assert emf[0]["service"] == metric_names.SERVICE
    assert (emf[0]["Published"], emf[0]["Failed"], emf[0]["Missing"]) == ([2.0], [0.0], [1.0])
    dues = [parse_sort_key(sk)[0] for sk in event["sks"][:2]]
    for due, late in zip(sorted(dues, reverse=True), sorted(emf[0]["LatenessSeconds"]), strict=True):
        assert (started - due).total_seconds() <= late <= (finished - due).total_seconds()
    units = {m["Name"]: m["Unit"] for m in emf[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {
        "Published": "Count",
        "Failed": "Count",
        "Missing": "Count",
        "DeadLettered": "Count",
        "LatenessSeconds": "Seconds",
    }
    # ... and logs the page as JSON with fields, without the jobs' detail
    formatter = app.logger.registered_formatter
    logs = [json.loads(formatter.format(record)) for record in caplog.records if record.name == metric_names.SERVICE]
    summary = [line for line in logs if line.get("message") == "published page"]
    assert summary
    assert summary[0]["published"] == 2
    assert summary[0]["missing"] == 1
    assert summary[0]["function_request_id"] == FakeLambdaContext.aws_request_id
    assert all("secret-x" not in json.dumps(line) for line in logs)


def test_the_configuration_is_the_environment_the_settings_make_read_at_the_first_call(app, monkeypatch):
    # GIVEN the environment the stack gives the function, with two shards
    for name, value in publish_environment(
        Settings(shards=2), table_name=TABLE_NAME, bus_name=BUS_NAME, dead_letter_table_name=DEAD_LETTER_TABLE_NAME
    ).items():
        monkeypatch.setenv(name, value)
    # WHEN the handler first reads it THEN every value arrives typed
    assert app.config() == app.Config(
        table_name=TABLE_NAME,
        dead_letter_table_name=DEAD_LETTER_TABLE_NAME,
        bus_name=BUS_NAME,
        event_source=Settings().eventSource,
        publish_retries=Settings().publishRetries,
        bucket_minutes=Settings().bucketMinutes,
        max_attempts=Settings().maxAttempts,
        shards=2,
    )
    # ... and is kept: the environment is not read again
    monkeypatch.setenv("SHARDS", "3")
    assert app.config().shards == 2


def test_without_shards_in_its_environment_the_function_has_one(app, monkeypatch):
    monkeypatch.delenv("SHARDS")
    assert app.config().shards == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(("name", "value"), [("EVENT_BUS_NAME", None), ("MAX_ATTEMPTS", None), ("SHARDS", "two")])
def test_a_missing_or_unreadable_variable_fails_the_first_call_naming_it(app, monkeypatch, name, value):
    # GIVEN a function deployed without (a readable) one of its variables: importing it still works
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
    # WHEN it is invoked THEN it fails, naming the variable and where it comes from
    with pytest.raises(RuntimeError, match=rf"environment variable {name} is .*publish_environment"):
        app.handler({"pk": PK, "sks": []}, FakeLambdaContext())


def job_ids_of(sks: list[str], skip: list[str] | None = None) -> list[str]:
    return [parse_sort_key(sk)[1] for sk in sks if sk not in (skip or [])]


# --- attempts and the dead letter ----------------------------------------------------------------------


def dead_letters_of(dynamodb: Any, max_attempts: int = 3) -> DeadLetters:
    return DeadLetters(
        jobs_table=dynamodb.Table(TABLE_NAME),
        dead_letter_table=dynamodb.Table(DEAD_LETTER_TABLE_NAME),
        max_attempts=max_attempts,
        now=lambda: NOW,
    )


def buried(dynamodb: Any) -> dict[str, dict[str, Any]]:
    items = dynamodb.Table(DEAD_LETTER_TABLE_NAME).scan()["Items"]
    return {item["sk"]: item for item in items if item["pk"] == "dlq"}


def dead_letter_size(dynamodb: Any) -> int:
    item = dynamodb.Table(DEAD_LETTER_TABLE_NAME).get_item(Key={"pk": "meta", "sk": "size"}).get("Item")
    return int(item["size"]) if item else 0


def test_a_poison_job_goes_to_the_dead_letter_at_once_with_its_reason(dynamodb, table, events, sleeps):
    good = add_job(table, 0)
    poison = add_job(table, 1, detail="just text")

    result = run(dynamodb, events, [good, poison], sleeps, dead_letters=dead_letters_of(dynamodb))

    assert result.published == [good]
    assert result.dead == [poison]
    assert result.failed == []
    [letter] = buried(dynamodb).values()
    assert letter["sk"] == poison
    assert "'detail' must be a map" in letter["reason"]
    assert letter["job"]["detail"] == "just text"  # the job as it was, to fix and redrive
    assert letter["dead_at"] == "2026-02-09T11:36:30.000Z"
    assert dead_letter_size(dynamodb) == 1
    assert result.as_dict()["dead"] == [poison]


def test_a_rejected_job_counts_attempts_and_is_dead_lettered_after_the_last(dynamodb, table, events, sleeps):
    # GIVEN a job that EventBridge rejects every time, and at most 3 attempts
    sk = add_job(table, 0)
    rejecting = RejectingEvents(events, [sk], times=1_000)
    dead_letters = dead_letters_of(dynamodb, max_attempts=3)

    # WHEN three runs try to publish it
    results = [run(dynamodb, rejecting, [sk], sleeps, retries=0, dead_letters=dead_letters) for _ in range(3)]

    # THEN the first two leave it failed with its attempts recorded, the third sends it to the dead letter
    assert [len(r.failed) for r in results] == [1, 1, 0]
    assert [r.dead for r in results] == [[], [], [sk]]
    letter = buried(dynamodb)[sk]
    assert letter["attempts"] == 3
    assert letter["reason"] == "3 attempts failed; the last: ThrottlingException: Rate exceeded"
    assert letter["job"]["last_error"] == "ThrottlingException: Rate exceeded"
    assert dead_letter_size(dynamodb) == 1


def test_a_job_tried_on_several_ticks_of_one_run_counts_one_attempt(dynamodb, table, events, sleeps):
    # GIVEN a job that EventBridge rejects every time
    sk = add_job(table, 0)
    rejecting = RejectingEvents(events, [sk], times=1_000)
    dead_letters = dead_letters_of(dynamodb, max_attempts=2)

    # WHEN three ticks of one run try it, then a tick of the next run
    for run_time in ("run-1", "run-1", "run-1", "run-2"):
        last = run(dynamodb, rejecting, [sk], sleeps, retries=0, dead_letters=dead_letters, run=run_time)

    # THEN each run counted one attempt: the second run's was the last allowed, so it went to the dead letter
    assert last.dead == [sk]
    assert buried(dynamodb)[sk]["attempts"] == 2


def test_a_job_that_fails_fewer_times_than_allowed_stays_with_its_attempts(dynamodb, table, events, sleeps):
    sk = add_job(table, 0)

    result = run(
        dynamodb,
        RejectingEvents(events, [sk], times=1_000),
        [sk],
        sleeps,
        retries=1,
        dead_letters=dead_letters_of(dynamodb),
    )

    assert [failure.sk for failure in result.failed] == [sk]
    assert table.get_item(Key={"pk": PK, "sk": sk})["Item"]["attempts"] == 1
    assert buried(dynamodb) == {}


def test_a_job_stays_failed_when_the_dead_letter_cannot_be_written(dynamodb, table, events, sleeps):
    poison = add_job(table, 1, detail="just text")
    dead_letters = dead_letters_of(dynamodb)
    dead_letters.dead_letter_table = dynamodb.Table("NoSuchTable")

    result = run(dynamodb, events, [poison], sleeps, dead_letters=dead_letters)

    assert result.dead == []
    [failure] = result.failed
    assert failure.sk == poison
    assert "recording it failed" in failure.error
    assert table.get_item(Key={"pk": PK, "sk": poison}).get("Item") is not None  # not lost


# --- what the function calls, against what its role is granted ------------------------------------------------


def test_every_call_on_the_jobs_table_is_one_the_function_is_granted(dynamodb, table, events, sleeps):
    # GIVEN a page with a one-time job, a poison job out of attempts, and an occurrence of a recurring job (whose
    # replacement is a transaction: authorised per item action)
    from infra.publisher import JOBS_TABLE_ACTIONS  # the list the stack grants

    series_id = "daily"
    due = BUCKET + timedelta(seconds=3)
    occurrence_id = new_job_id(due)
    occurrence_sk = sort_key(due, occurrence_id)
    table.put_item(
        Item=occurrence_item(PK, occurrence_sk, series_id=series_id, number=1, detail_type="t", created_at="x")
    )
    table.put_item(
        Item={
            **series_key(series_id),
            "detail": {"n": 1},
            "detail_type": "t",
            "rate": "1 day",
            "tz": "UTC",
            "starts_at": format_time(due),
            "fired": 0,
            "current": occurrence_sk,
        }
    )
    sks = [add_job(table, 1), add_job(table, 2, detail="not a map"), occurrence_sk]
    actions: set[str] = set()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        body = json.loads(params["body"] or b"{}")
        if model.name == "TransactWriteItems":
            actions.update(f"{kind}Item" for item in body["TransactItems"] for kind in item)
        elif body.get("TableName") == TABLE_NAME or TABLE_NAME in body.get("RequestItems", {}):
            actions.add(model.name)

    dynamodb.meta.client.meta.events.register("before-call.dynamodb", record)

    # WHEN the page is published
    result = run(dynamodb, events, sks, sleeps, dead_letters=dead_letters_of(dynamodb, max_attempts=1))

    # THEN the occurrence was replaced, and every action on the jobs table is one the stack grants
    assert result.advanced == 1
    assert {"BatchGetItem", "DeleteItem", "PutItem", "UpdateItem"} <= actions
    assert {f"dynamodb:{action}" for action in actions} <= set(JOBS_TABLE_ACTIONS)
