"""onthedot end to end, as a user runs it: jobs scheduled through the CLI and the API arrive at a worker on
the bus, in time; a job that cannot be sent lands in the dead letter with its reason and comes
back by redrive; the metrics the dashboard shows have data. Nothing is left behind.

The same tests run against a deployed stack (``--stack``) and the local cloud (``make test``)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onthedot.client import JobRequest
from onthedot.core import keys, metrics
from tests.aws.targets import Target, TestWorker

DUE_IN_SECONDS = 3


def lateness_of(event: dict[str, Any], arrived: datetime, due: datetime) -> float:
    assert event["time"] == due.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")  # EventBridge: whole seconds
    return (arrived - due).total_seconds()


@pytest.fixture
def leftovers(target: Target) -> Iterator[list[str]]:
    """Job ids a test scheduled: any still pending at its end are cancelled."""
    ids: list[str] = []
    yield ids
    scheduler = target.scheduler()
    for job_id in ids:
        try:
            scheduler.cancel(job_id)
        except Exception:
            continue


def test_a_job_scheduled_with_the_cli_arrives_in_time(target: Target, worker: TestWorker, leftovers: list[str]) -> None:
    # GIVEN a job scheduled from the command line, due in a few seconds
    marker = uuid.uuid4().hex
    job = target.cli_json(
        "schedule", "--in", f"{DUE_IN_SECONDS}s", "--type", worker.detail_type, "--detail", json.dumps({"m": marker})
    )
    leftovers.append(job["id"])
    due = keys.parse_time(job["due"].replace("Z", "+00:00"))
    # WHEN its time comes
    [(event, arrived)] = worker.wait_for({job["id"]}).values()
    # THEN it arrives as scheduled, with its id, on time
    assert (event["source"], event["detail-type"], event["detail"]) == (
        target.event_source,
        worker.detail_type,
        {"m": marker},
    )
    assert event["resources"] == [f"onthedot:job/{job['id']}"]
    lateness = lateness_of(event, arrived, due)
    assert -1.0 <= lateness <= target.max_lateness, f"{lateness:.1f} s late on {target.description}"
    # ... and has left the table
    assert f"no pending job {job['id']}" in target.cli("get", job["id"], code=1).stderr


def test_jobs_scheduled_with_the_api_arrive_in_time(target: Target, worker: TestWorker, leftovers: list[str]) -> None:
    # GIVEN five jobs scheduled through the Python API in one batch, due half a second apart
    scheduler = target.scheduler()
    jobs = scheduler.schedule_many(
        JobRequest(worker.detail_type, {"n": n}, delay=timedelta(seconds=DUE_IN_SECONDS + n / 2)) for n in range(5)
    )
    leftovers.extend(job.id for job in jobs)
    # WHEN they are due
    arrived = worker.wait_for({job.id for job in jobs})
    # THEN each arrived with its own detail, on time (at least once: a copy would carry the same job id)
    late = {}
    for job in jobs:
        event, when = arrived[job.id]
        assert event["detail"] == job.detail
        late[job.id] = lateness_of(event, when, job.due)
    assert all(-1.0 <= seconds <= target.max_lateness for seconds in late.values()), late


def test_a_job_that_cannot_be_sent_is_dead_lettered_with_its_reason_and_redriven(
    target: Target, worker: TestWorker, leftovers: list[str]
) -> None:
    # GIVEN an item typed by hand whose detail is not a map: it can never become an event
    job_id = str(uuid.uuid4())
    due = datetime.now(UTC) + timedelta(seconds=1)
    target.client("dynamodb").put_item(
        TableName=target.table,
        Item={
            "pk": {"S": keys.partition_key(due, target.bucket_minutes)},
            "sk": {"S": keys.sort_key(due, job_id)},
            "detail": {"S": "not a map"},
            "detail_type": {"S": worker.detail_type},
        },
    )
    # WHEN the dispatcher meets it THEN it is in the dead letter, with the reason
    deadline = time.monotonic() + target.wait
    while True:
        letters = {d["job_id"]: d for d in target.cli_json("dlq", "list", "--limit", "1000")["dead_letters"]}
        if job_id in letters or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert job_id in letters, f"not dead-lettered within {target.wait:g} s"
    assert re.search(r"detail", letters[job_id]["reason"], re.IGNORECASE), letters[job_id]
    assert job_id not in worker.received

    # WHEN it is sent back with a detail that is a map THEN it fires, and the dead letter no longer holds it
    redriven = target.cli_json("dlq", "redrive", job_id, "--detail", json.dumps({"fixed": True}))
    leftovers.append(redriven["id"])
    [(event, _arrived)] = worker.wait_for({redriven["id"]}).values()
    assert event["detail"] == {"fixed": True}
    remaining = {d["job_id"] for d in target.cli_json("dlq", "list", "--limit", "1000")["dead_letters"]}
    assert job_id not in remaining


def test_the_metrics_on_the_dashboard_have_data(target: Target, worker: TestWorker) -> None:
    # GIVEN the jobs published by the tests above (this test runs after them)
    cloudwatch = target.client("cloudwatch")
    expected = {metrics.OLDEST_BUCKET_AGE_SECONDS}  # the dispatcher's own, on every run
    if target.function_metrics:  # the local cloud switches the functions' metrics off
        expected |= {metrics.PUBLISHED, metrics.LATENESS_SECONDS, metrics.DEAD_LETTERED}
    if target.dashboard is not None:
        # THEN the dashboard shows each of them, by the names onthedot.core.metrics defines
        body = cloudwatch.get_dashboard(DashboardName=target.dashboard)["DashboardBody"]
        shown = set(re.findall(r'"onthedot","(\w+)"', body))
        assert expected <= shown, shown
        assert shown <= {metrics.OLDEST_BUCKET_AGE_SECONDS, *metrics.PUBLISH_METRICS}
    # ... and CloudWatch has recent data for each
    deadline = time.monotonic() + target.metrics_wait
    while True:
        with_data = {name for name in expected if _has_recent_data(cloudwatch, name)}
        if with_data == expected or time.monotonic() > deadline:
            break
        time.sleep(15)
    assert with_data == expected, f"no recent data for {expected - with_data} on {target.description}"


def _has_recent_data(cloudwatch: Any, name: str) -> bool:
    now = datetime.now(UTC)
    dimensions = (
        []
        if name == metrics.OLDEST_BUCKET_AGE_SECONDS
        else [{"Name": metrics.SERVICE_DIMENSION, "Value": metrics.SERVICE}]
    )
    statistics = cloudwatch.get_metric_statistics(
        Namespace=metrics.NAMESPACE,
        MetricName=name,
        Dimensions=dimensions,
        StartTime=now - timedelta(minutes=30),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount"],
    )
    return bool(statistics["Datapoints"])
