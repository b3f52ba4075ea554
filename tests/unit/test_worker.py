"""The worker kit and the example worker against moto: a job delivered twice is worked once."""

from __future__ import annotations

import copy
import importlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from onthedot.core.jobs import job_id_of, job_resource
from onthedot.worker import (
    DEFAULT_EXPIRES_AFTER_SECONDS,
    IDEMPOTENCY_EXPIRY_ATTRIBUTE,
    IDEMPOTENCY_KEY_ATTRIBUTE,
    IDEMPOTENCY_TABLE_ENV,
    JOB_ID_JMESPATH,
    Job,
    NotAJobEvent,
    idempotent_job,
    job_of,
)

REGION = "us-east-1"
TABLE_NAME = "onthedot-worker-idempotency"
FUNCTION_NAME = "onthedot-example-worker"
EVENT_PATH = Path(__file__).parent / "events" / "reminder_job.json"
OTHER_JOB_ID = "9d3e1b52-7a4c-4f0e-8b61-0c5d2e7f3a18"
SECRET = "secret-agenda-x"  # in the fixture's payload: must never reach an INFO log


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def table(aws: None) -> Any:
    """The idempotency table as ``infra.workers.ExampleWorker`` creates it."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE_NAME,
        KeySchema=[{"AttributeName": IDEMPOTENCY_KEY_ATTRIBUTE, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": IDEMPOTENCY_KEY_ATTRIBUTE, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=TABLE_NAME,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": IDEMPOTENCY_EXPIRY_ATTRIBUTE},
    )
    return boto3.resource("dynamodb", region_name=REGION).Table(TABLE_NAME)


@dataclass
class FakeLambdaContext:
    function_name: str = FUNCTION_NAME
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}"
    aws_request_id: str = "7d2b7a4e-0000-4000-8000-000000000002"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class RecordingSender:
    """Stands in for the mail service: records each reminder, or fails while ``failing``."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    failing: bool = False

    def __call__(self, recipient: str, message: str) -> None:
        if self.failing:
            raise ConnectionError("mail service unavailable")
        self.sent.append((recipient, message))


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def app(table: Any, sender: RecordingSender, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``functions.example_worker.app`` imported anew under the function's environment, its sender recorded."""
    for name, value in {
        IDEMPOTENCY_TABLE_ENV: TABLE_NAME,
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "POWERTOOLS_SERVICE_NAME": FUNCTION_NAME,
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }.items():
        monkeypatch.setenv(name, value)
    module_name = "functions.example_worker.app"
    sys.modules.pop(module_name, None)
    try:
        module = importlib.import_module(module_name)
        monkeypatch.setattr(module, "send_reminder", sender)
        yield module
    finally:
        sys.modules.pop(module_name, None)


@pytest.fixture
def event() -> dict[str, Any]:
    return json.loads(EVENT_PATH.read_text(encoding="utf-8"))


def redelivered(event: dict[str, Any], *, job_id: str | None = None) -> dict[str, Any]:
    """The same job delivered again: EventBridge gives every delivery an envelope id of its own."""
    copied = copy.deepcopy(event)
    copied["id"] = "5f0c9e2a-0000-4000-8000-00000000000b"
    if job_id is not None:
        copied["resources"] = [job_resource(job_id)]
    return copied


def logged(app: Any, caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The worker's log lines as the Lambda would write them: Powertools' JSON, with the invocation's keys."""
    formatter = app.logger.registered_formatter
    return [json.loads(formatter.format(record)) for record in caplog.records if record.name == FUNCTION_NAME]


# --- job_of ---------------------------------------------------------------------------------------------


def test_job_of_reads_the_job_from_the_event(event: dict[str, Any]) -> None:
    job = job_of(event)
    assert job == Job(
        id="0b6f3c7e-5d1a-4c55-9a63-2f4a3c1d9e10",
        due=datetime(2026, 2, 9, 11, 33, tzinfo=UTC),
        detail_type="reminder",
        detail={"recipient": "ada@example.com", "message": f"Stand-up in 5 minutes: {SECRET}"},
    )


@pytest.mark.parametrize(
    "resources",
    [[], ["arn:aws:events:us-east-1:123456789012:rule/other"], ["onthedot:series/abc"]],
)
def test_job_of_refuses_an_event_without_a_job_id(event: dict[str, Any], resources: list[str]) -> None:
    event["resources"] = resources
    with pytest.raises(NotAJobEvent, match="no onthedot job id"):
        job_of(event)


def test_job_of_refuses_an_event_without_a_due_time(event: dict[str, Any]) -> None:
    del event["time"]
    with pytest.raises(NotAJobEvent, match="0b6f3c7e-5d1a-4c55-9a63-2f4a3c1d9e10"):
        job_of(event)


@pytest.mark.parametrize(
    "resources",
    [
        ["onthedot:job/a"],
        ["arn:aws:events:us-east-1:123456789012:rule/x", "onthedot:job/b"],
        ["onthedot:job/c", "onthedot:job/d"],
    ],
)
def test_idempotency_key_is_the_job_id_the_library_reads(resources: list[str]) -> None:
    # The JMESPath Powertools hashes selects the same resource as onthedot.core.jobs.job_id_of
    import jmespath

    event = {"resources": resources}
    assert jmespath.search(JOB_ID_JMESPATH, event) == job_resource(job_id_of(event))


# --- the example worker under idempotency ---------------------------------------------------------------


def test_duplicate_delivery_sends_once_and_returns_the_first_result(
    app: Any, sender: RecordingSender, table: Any, event: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a reminder job delivered once
    first = app.handler(event, FakeLambdaContext())
    # WHEN the same job is delivered again (another envelope id, the same job id)
    second = app.handler(redelivered(event), FakeLambdaContext(aws_request_id="second"))

    # THEN the reminder went out once, and the duplicate got the first result back
    assert sender.sent == [("ada@example.com", f"Stand-up in 5 minutes: {SECRET}")]
    assert first == {"job_id": "0b6f3c7e-5d1a-4c55-9a63-2f4a3c1d9e10", "sent_to": "ada@example.com"}
    assert second == first
    # ... the duplicate was recognised as one (the fault did happen), and logged with its job id
    logs = logged(app, caplog)
    duplicates = [line for line in logs if line["message"].startswith("duplicate delivery")]
    assert [line["job_id"] for line in duplicates] == [first["job_id"]]
    # ... and one record keeps it, completed, for a day
    [record] = table.scan()["Items"]
    assert record["status"] == "COMPLETED"
    assert json.loads(record["data"]) == first
    assert abs(int(record[IDEMPOTENCY_EXPIRY_ATTRIBUTE]) - (time.time() + DEFAULT_EXPIRES_AFTER_SECONDS)) < 60


def test_another_job_is_sent_again(app: Any, sender: RecordingSender, table: Any, event: dict[str, Any]) -> None:
    # GIVEN one job done
    app.handler(event, FakeLambdaContext())
    # WHEN a different job arrives with the same payload
    result = app.handler(redelivered(event, job_id=OTHER_JOB_ID), FakeLambdaContext())
    # THEN it is its own piece of work
    assert result == {"job_id": OTHER_JOB_ID, "sent_to": "ada@example.com"}
    assert len(sender.sent) == 2
    assert len(table.scan()["Items"]) == 2


def test_event_without_a_job_id_fails_clearly_and_does_nothing(
    app: Any, sender: RecordingSender, table: Any, event: dict[str, Any]
) -> None:
    # GIVEN an event onthedot did not publish (no onthedot:job/... resource)
    event["resources"] = ["arn:aws:events:us-east-1:123456789012:rule/something-else"]
    # WHEN it reaches the worker THEN the worker refuses it by saying why
    with pytest.raises(NotAJobEvent, match=r"no onthedot job id \(resources has no 'onthedot:job/\.\.\.'\)"):
        app.handler(event, FakeLambdaContext())
    assert sender.sent == []
    assert table.scan()["Items"] == []


def test_a_failed_delivery_stores_nothing_so_the_retry_does_the_work(
    app: Any, sender: RecordingSender, table: Any, event: dict[str, Any]
) -> None:
    # GIVEN the mail service down for the first delivery
    sender.failing = True
    with pytest.raises(ConnectionError):
        app.handler(event, FakeLambdaContext())
    assert table.scan()["Items"] == []
    # WHEN Lambda retries the same event once the service is back
    sender.failing = False
    result = app.handler(event, FakeLambdaContext())
    # THEN the reminder goes out, once
    assert result["sent_to"] == "ada@example.com"
    assert len(sender.sent) == 1


def test_a_reminder_without_recipient_is_refused_and_not_recorded(
    app: Any, sender: RecordingSender, table: Any, event: dict[str, Any]
) -> None:
    del event["detail"]["recipient"]
    with pytest.raises(ValueError, match="has no 'recipient'"):
        app.handler(event, FakeLambdaContext())
    assert sender.sent == []
    assert table.scan()["Items"] == []


def test_logs_name_job_and_recipient_but_not_the_payload(
    app: Any, event: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app.handler(event, FakeLambdaContext())
    logs = logged(app, caplog)
    [sending] = [line for line in logs if line["message"] == "sending reminder"]
    assert sending["level"] == "INFO"
    assert sending["job_id"] == "0b6f3c7e-5d1a-4c55-9a63-2f4a3c1d9e10"
    assert sending["recipient"] == "ada@example.com"
    assert sending["correlation_id"] == event["id"]  # EventBridge's event id, to find this delivery
    assert logs
    assert all(SECRET not in json.dumps(line) for line in logs)


def test_payload_is_logged_at_debug(app: Any, event: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN the worker at logLevel DEBUG
    app.logger.setLevel("DEBUG")
    try:
        app.handler(event, FakeLambdaContext())
    finally:
        app.logger.setLevel("INFO")
    [payload] = [line for line in logged(app, caplog) if line["message"] == "reminder payload"]
    assert payload["level"] == "DEBUG"
    assert payload["detail"] == event["detail"]


# --- the kit's configuration ----------------------------------------------------------------------------


def test_kit_needs_a_table_by_the_first_delivery(monkeypatch: pytest.MonkeyPatch, event: dict[str, Any]) -> None:
    monkeypatch.delenv(IDEMPOTENCY_TABLE_ENV, raising=False)
    # GIVEN a handler decorated without a table: decorating (at import) reads and connects nothing
    handler = idempotent_job()(lambda event, context: {})
    # WHEN the first job is delivered THEN the worker fails, naming what it lacks
    with pytest.raises(RuntimeError, match=IDEMPOTENCY_TABLE_ENV):
        handler(event, FakeLambdaContext())


def test_kit_takes_any_persistence_layer_and_expiry(table: Any, event: dict[str, Any]) -> None:
    # GIVEN a handler of one's own, over a persistence layer given explicitly, records kept an hour
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    calls: list[str] = []
    duplicates: list[tuple[str, Any]] = []

    @idempotent_job(
        persistence_layer=DynamoDBPersistenceLayer(table_name=TABLE_NAME),
        expires_after_seconds=3600,
        on_duplicate=lambda job, result: duplicates.append((job.id, result)),
    )
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        job = job_of(event)
        calls.append(job.id)
        return {"done": job.id}

    # WHEN the job is delivered three times
    results = [handler(redelivered(event), FakeLambdaContext()) for _ in range(3)]

    # THEN the work ran once, both duplicates were reported with the stored result, the record lasts an hour
    job_id = job_id_of(event)
    assert calls == [job_id]
    assert results == [{"done": job_id}] * 3
    assert duplicates == [(job_id, {"done": job_id})] * 2
    [record] = table.scan()["Items"]
    assert abs(int(record[IDEMPOTENCY_EXPIRY_ATTRIBUTE]) - (time.time() + 3600)) < 60
