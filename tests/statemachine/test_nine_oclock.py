"""The nine o'clock drill, small (issue #10; ``benchmarks/nine_oclock.py`` runs it with 1,000 and 10,000 jobs): jobs
all due in the same second, scheduled with ``schedule_many`` over the shards of a sharded table, published by one
run in real time, none early, every one accounted for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from onthedot.client import JobRequest, Scheduler
from onthedot.core import keys
from onthedot.core.jobs import due_time_of, job_id_of
from onthedot.deploy.settings import Settings
from onthedot.local.cloud import LocalCloud
from tests.support.dispatcher import SHARDS, Ledger, settled, stored

JOBS = 300
LEAD = timedelta(seconds=3)  # from the end of the writes to the due second: the run starts before it and waits


def received_events(cloud: LocalCloud) -> list[tuple[dict[str, object], datetime]]:
    """Every event in the console worker's queue, with the time the queue received it, until it is empty."""
    sqs = cloud.client("sqs")
    seen = []
    while messages := sqs.receive_message(
        QueueUrl=cloud.queue_url, MaxNumberOfMessages=10, AttributeNames=["SentTimestamp"]
    ).get("Messages", []):
        for message in messages:
            received = datetime.fromtimestamp(int(message["Attributes"]["SentTimestamp"]) / 1000, UTC)
            seen.append((json.loads(message["Body"]), received))
        sqs.delete_message_batch(
            QueueUrl=cloud.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return seen


def test_jobs_due_in_the_same_second_fire_from_one_run_none_early(
    cloud: LocalCloud, ledger: Ledger, sharded: Settings
) -> None:
    # GIVEN a dispatcher with four shards that has run once (its cursor item records the layout for writers)
    cloud.dispatch(now=datetime.now(UTC))
    scheduler = Scheduler(cloud.names.table, dynamodb=cloud.client("dynamodb"))
    assert scheduler.shards == SHARDS
    # AND 300 jobs due in the same whole second, scheduled at once, which spread over every shard of their bucket
    due = (datetime.now(UTC) + LEAD).replace(microsecond=0) + timedelta(seconds=1)
    scheduled = scheduler.schedule_many(JobRequest("reminder", {"user": n}, at=due) for n in range(JOBS))
    assert datetime.now(UTC) < due, "the writes outlasted the lead: raise LEAD"
    ledger.scheduled = {job.id for job in scheduled}
    assert {pk for pk, _ in stored(cloud)} == {keys.partition_key(due, shard=shard) for shard in range(SHARDS)}

    # WHEN one run, started before they are due, covers that second in real time
    done = cloud.dispatch(until=due + timedelta(seconds=1))

    # THEN it published and deleted every job ...
    assert done.status == "SUCCEEDED", done.error
    assert done.output["published"] == done.output["deleted"] == JOBS
    assert done.output["failed"] == done.output["deadLettered"] == 0
    # ... none before its due time, as the worker's queue received them ...
    events = received_events(cloud)
    early = [(job_id_of(event), received) for event, received in events if received < due_time_of(event)]
    assert not early
    assert {due_time_of(event) for event, _ in events} == {due}
    # ... and every job is accounted for: published once, none left, none dead-lettered, none lost
    ledger.fired.extend(job_id_of(event) for event, _ in events)
    settled(ledger, scheduled=JOBS, published=JOBS)
