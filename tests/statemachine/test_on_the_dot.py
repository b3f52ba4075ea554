"""On the dot: a run waits inside the state machine and publishes each job of its window at its due time.

These run in real time on the local cloud, over windows of a few seconds (``until``), and read lateness where a
worker sees it: the time the console worker's queue received the event.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from onthedot.core import keys
from onthedot.core.jobs import due_time_of, job_id_of
from onthedot.local.cloud import LocalCloud
from tests.support.dispatcher import Jobs, Ledger


def delivered(cloud: LocalCloud) -> list[tuple[dict[str, Any], datetime]]:
    """The events in the worker queue, each with the time the queue received it."""
    sqs, found = cloud.client("sqs"), []
    while True:
        messages = sqs.receive_message(
            QueueUrl=cloud.queue_url, MaxNumberOfMessages=10, AttributeNames=["SentTimestamp"]
        ).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            sent = datetime.fromtimestamp(int(message["Attributes"]["SentTimestamp"]) / 1000, UTC)
            found.append((json.loads(message["Body"]), sent))
        sqs.delete_message_batch(
            QueueUrl=cloud.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def put_due_in(jobs: Jobs, seconds: float) -> str:
    due = datetime.now(UTC) + timedelta(seconds=seconds)
    return jobs.put(due, job_id=keys.new_job_id(due))


def test_jobs_due_inside_the_window_fire_on_the_second_and_never_early(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger
) -> None:
    # GIVEN jobs due 1.3 s, 2.6 s and 3.9 s from now, typed in the original item format
    ledger.scheduled = {put_due_in(jobs, seconds) for seconds in (1.3, 2.6, 3.9)}

    # WHEN a run starts now with a window of six seconds, and one more job is written while it waits, due 1.5 s
    # after it is written (a job scheduled "in a second or two" is the common case)
    started = datetime.now(UTC)
    arn = cloud.start_dispatch(until=started + timedelta(seconds=6))
    time.sleep(2.2)
    ledger.scheduled.add(put_due_in(jobs, 1.5))
    run = cloud.wait_for(arn)

    # THEN every job fired once, at or after its due time and within a second of it, where the worker sees it
    assert run.status == "SUCCEEDED", run.error
    events = delivered(cloud)
    ledger.fired.extend(job_id_of(event) for event, _ in events)
    lateness = {job_id_of(event): (sent - due_time_of(event)).total_seconds() for event, sent in events}
    assert set(lateness) == ledger.scheduled
    assert all(0 <= late < 1.0 for late in lateness.values()), lateness
    # ... the run waited in between, second by second, and kept its own figures
    assert run.output["ticks"] >= 5
    assert run.output["published"] == 4
    assert sum(run.output["lateness"]) == 4
    assert ledger.account()["lost"] == 0


def test_a_run_that_starts_while_the_last_one_waits_leaves_its_window_alone(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger
) -> None:
    # GIVEN a run waiting for jobs of its window, due over the next four seconds
    ledger.scheduled = {put_due_in(jobs, seconds) for seconds in (0.8, 1.6, 2.4, 3.2, 4.0)}
    first = cloud.start_dispatch(until=datetime.now(UTC) + timedelta(seconds=4.5))
    time.sleep(1.0)

    # WHEN the next run starts meanwhile (the schedule fired again, or twice) with a window after the first's
    seconds = [cloud.start_dispatch(until=datetime.now(UTC) + timedelta(seconds=6)) for _ in range(2)]
    runs = [cloud.wait_for(arn) for arn in (first, *seconds)]

    # THEN no job is published twice: the later runs catch up only on what is older than the first one's window
    assert all(run.status == "SUCCEEDED" for run in runs), [run.error for run in runs]
    ledger.fired.extend(job_id_of(event) for event, _ in delivered(cloud))
    assert ledger.account() == {
        "scheduled": 5,
        "published": 5,
        "dead-lettered": 0,
        "waiting": 0,
        "lost": 0,
        "duplicated": 0,
    }
    assert sum(run.output["published"] for run in runs) == 5
    assert runs[0].output["published"] == 5


def test_a_job_scheduled_for_now_is_found_by_the_next_tick(cloud: LocalCloud, jobs: Jobs, ledger: Ledger) -> None:
    # GIVEN a run waiting through its window
    arn = cloud.start_dispatch(until=datetime.now(UTC) + timedelta(seconds=4))
    time.sleep(1.5)

    # WHEN a job due this very moment is written (its due time is already past when it lands)
    writer = threading.Thread(target=lambda: ledger.scheduled.add(put_due_in(jobs, 0)))
    writer.start()
    writer.join()
    run = cloud.wait_for(arn)

    # THEN a tick picks it up at once, within a second
    assert run.status == "SUCCEEDED", run.error
    [(event, sent)] = delivered(cloud)
    ledger.fired.append(job_id_of(event))
    assert 0 <= (sent - due_time_of(event)).total_seconds() < 1.0
    assert ledger.account()["published"] == 1


def test_a_job_written_after_the_last_tick_for_a_time_in_the_window_is_found_by_the_last_look(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger
) -> None:
    # GIVEN a run whose window ends in 2.5 s
    until = datetime.now(UTC) + timedelta(seconds=2.5)
    arn = cloud.start_dispatch(until=until)

    # WHEN, just after its last tick, a job is written for a moment inside the window (a slow writer)
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.2)
    due = until - timedelta(milliseconds=300)
    ledger.scheduled = {jobs.put(due, job_id=keys.new_job_id(due))}
    run = cloud.wait_for(arn)

    # THEN the run's last look over its own window publishes it, before the run ends
    assert run.status == "SUCCEEDED", run.error
    [(event, sent)] = delivered(cloud)
    ledger.fired.append(job_id_of(event))
    assert sent >= due_time_of(event)
    assert run.output["published"] == 1
    assert ledger.account()["lost"] == 0
