"""Drills: job items typed by hand in every shape of key, on the local cloud, each ending with an account.

Every item under a ``j#`` key fires on time or is dead-lettered with a reason, within one run of arriving: never
stranded, never early. The arrivals function (the table's stream) re-files what it can read without doubt under
canonical keys and dead-letters the rest; in the local cloud it runs inside the PutItem call, so its work is
done when ``put`` returns. The rewind of the cursor and the publish function read the real clock, so the jobs
here fall due a few minutes before it, and the runs replay the minutes around their due times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from onthedot.core import keys
from onthedot.local.cloud import LocalCloud
from tests.support.dispatcher import Jobs, Ledger, due_lately, run, settled, stored

MINUTE = timedelta(minutes=1)
SETTLED = timedelta(milliseconds=500)  # a run this long after a due time must have fired the job


def put_item(cloud: LocalCloud, pk: str, sk: str) -> None:
    """A job in the original item format, keys exactly as typed."""
    cloud.client("dynamodb").put_item(
        TableName=cloud.names.table,
        Item={
            "pk": {"S": pk},
            "sk": {"S": sk},
            "detail": {"M": {"n": {"N": "1"}}},
            "detail_type": {"S": "reminder"},
        },
    )


def cursor(cloud: LocalCloud) -> str | None:
    item = (
        cloud.client("dynamodb")
        .get_item(TableName=cloud.names.table, Key={"pk": {"S": "cursor"}, "sk": {"S": "dispatcher"}})
        .get("Item")
    )
    return None if item is None or "bucket" not in item else str(item["bucket"]["S"])


def test_a_partition_key_off_the_bucket_grid(cloud: LocalCloud, jobs: Jobs, ledger: Ledger) -> None:
    # GIVEN a job filed under its due minute instead of its 5-minute bucket, and a job filed right beside it
    due = due_lately()
    off_grid_id = str(uuid.uuid4())
    put_item(cloud, f"j#{due:%Y-%m-%dT%H:%M}", keys.sort_key(due, off_grid_id))
    ledger.scheduled = {off_grid_id, jobs.put(due + timedelta(seconds=1))}

    # THEN it is re-filed in its bucket, and the cursor went back to that bucket: a key on the grid
    assert (keys.partition_key(due), keys.sort_key(due, off_grid_id)) in stored(cloud)
    assert cursor(cloud) == keys.partition_key(due)
    # AND neither fires before its due time; the first run after it fires both
    run(cloud, ledger, due - 2 * MINUTE)
    assert ledger.fired == []
    run(cloud, ledger, due + timedelta(seconds=1) + SETTLED)
    settled(ledger, scheduled=2, published=2)


def test_a_partition_key_that_disagrees_with_the_due_time(cloud: LocalCloud, jobs: Jobs, ledger: Ledger) -> None:
    # GIVEN two jobs whose sort keys say a few minutes ago, filed an hour before and an hour after that
    due = due_lately()
    early_id, late_id = str(uuid.uuid4()), str(uuid.uuid4())
    put_item(cloud, keys.partition_key(due - timedelta(hours=1)), keys.sort_key(due, early_id))
    put_item(cloud, keys.partition_key(due + timedelta(hours=1)), keys.sort_key(due, late_id))
    ledger.scheduled = {early_id, late_id}

    # THEN both are in the bucket of their due time: nothing fires before it, both in the first run after it
    assert {pk for pk, _ in stored(cloud)} == {keys.partition_key(due)}
    run(cloud, ledger, due - 2 * MINUTE)
    assert ledger.fired == []
    run(cloud, ledger, due + SETTLED)
    settled(ledger, scheduled=2, published=2)


PLUS_ONE = timezone(timedelta(hours=1))
SHAPES: dict[str, Callable[[datetime], str]] = {
    "no milliseconds": lambda due: f"{due:%Y-%m-%dT%H:%M:%S}Z",
    "minutes only": lambda due: f"{due:%Y-%m-%dT%H:%M}Z",
    "microseconds": lambda due: due.isoformat(timespec="microseconds").replace("+00:00", "Z"),
    "an offset instead of Z": lambda due: due.astimezone(PLUS_ONE).isoformat(timespec="milliseconds"),
    "a space instead of T": lambda due: keys.format_time(due).replace("T", " "),
    "the basic ISO format": lambda due: f"{due:%Y%m%dT%H%M%S}Z",
    "lowercase t and z": lambda due: keys.format_time(due).lower(),
}
FRACTION = {"minutes only": -timedelta(seconds=12), "microseconds": timedelta(microseconds=500)}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_sort_key_in_another_shape(cloud: LocalCloud, jobs: Jobs, ledger: Ledger, shape: str) -> None:
    # GIVEN a job in the right bucket whose due time is written in another shape
    due = due_lately() + FRACTION.get(shape, timedelta(0))
    job_id = str(uuid.uuid4())
    put_item(cloud, keys.partition_key(due), f"{SHAPES[shape](due)}#{job_id}")
    ledger.scheduled = {job_id}

    # THEN it is re-filed under the canonical keys of the same instant (a fraction of a millisecond rounded up)
    fires_at = keys.parse_time(keys.format_time(due + timedelta(microseconds=999)))
    assert set(stored(cloud)) == {(keys.partition_key(due), keys.sort_key(fires_at, job_id))}
    # AND it does not fire early, and fires in the first run after its due time
    run(cloud, ledger, due - 2 * MINUTE)
    assert ledger.fired == []
    run(cloud, ledger, fires_at + SETTLED)
    settled(ledger, scheduled=1, published=1)


def test_a_due_time_that_cannot_be_read(cloud: LocalCloud, jobs: Jobs, ledger: Ledger) -> None:
    arrivals = cloud.client("lambda").get_function_configuration(FunctionName=cloud.names.rewind_function)
    assert "DEAD_LETTER_TABLE_NAME" in arrivals["Environment"]["Variables"], "wire rewind_environment's dead letter"
    # GIVEN jobs whose sort keys do not say when, without doubt: text, a day that does not exist, no time zone
    due = due_lately()
    typed = {
        "next tuesday at nine": "not an ISO 8601 date and time",
        f"{due.year}-02-30T10:00:00.000Z": "not a date and time that exists",
        f"{due:%Y-%m-%dT%H:%M:%S}.000": "has no time zone",
    }
    ids = {text: str(uuid.uuid4()) for text in typed}
    for text, job_id in ids.items():
        put_item(cloud, keys.partition_key(due), f"{text}#{job_id}")
    ledger.scheduled = set(ids.values())

    # THEN each is in the dead letter at once, with the reason, and nothing of them is left in the table
    reasons = {str(letter["sk"]).partition("#")[0]: letter["reason"] for letter in jobs.dead_letters()}
    assert set(reasons) == set(typed)
    for text, reason in typed.items():
        assert reason in reasons[text]
    assert stored(cloud) == {}
    # AND no run fires them
    run(cloud, ledger, due + SETTLED)
    settled(ledger, scheduled=3, published=0, dead=3)


def test_a_job_typed_years_in_the_past(cloud: LocalCloud, jobs: Jobs, ledger: Ledger) -> None:
    # GIVEN the dispatcher is running on time (both runs here in the same bucket, so that none is behind)
    now = keys.bucket_start(datetime.now(UTC)) + timedelta(seconds=1)
    run(cloud, ledger, now)
    on_time = cursor(cloud)
    assert on_time is not None
    # WHEN the README's own example item is typed today, and one dated in the year 1
    readme_id, ancient_id = str(uuid.uuid4()), str(uuid.uuid4())
    put_item(cloud, "j#2026-02-09T11:30", f"2026-02-09T11:33:00.000Z#{readme_id}")
    put_item(cloud, "j#0001-01-01T00:00", f"0001-01-01T00:00:00.000Z#{ancient_id}")
    ledger.scheduled = {readme_id, ancient_id}

    # THEN both wait at the start of the cursor's bucket, each keeping the due time it was typed with, and the
    # cursor has not moved
    start = keys.parse_time(on_time.removeprefix("j#") + ":00.000Z")
    filed = {(pk, sk): item["original_due"]["S"] for (pk, sk), item in stored(cloud).items()}
    assert filed == {
        (on_time, keys.sort_key(start, readme_id)): "2026-02-09T11:33:00.000Z",
        (on_time, keys.sort_key(start, ancient_id)): "0001-01-01T00:00:00.000Z",
    }
    assert cursor(cloud) == on_time
    # AND the next run fires both, with nothing to catch up: no walk through 84,000 empty buckets
    done = run(cloud, ledger, now + MINUTE)
    assert done.output["backlogBuckets"] == 0
    settled(ledger, scheduled=2, published=2)
