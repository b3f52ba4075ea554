"""Drills for a bucket spread over shards (issue #10), and for the limits a busy run keeps.

- Every job fires whatever shard it waits in, the original item format (shard 0) included.
- Fewer shards strand nothing: the first run after the change finds more shards on its cursor item than it
  queries and starts the sweep, which re-files the jobs of the shards gone.
- The largest page (1,000 keys) of recurring jobs stays under Step Functions' 256 KB at every step.
- A run starts no page after its phase's deadline; what is left fires in the next run, none lost or duplicated.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from onthedot.core import keys
from onthedot.core.occurrence import occurrence_item, series_key
from onthedot.deploy.settings import Settings
from onthedot.local.cloud import LocalCloud
from tests.support.dispatcher import SHARDS, Jobs, Ledger, deploy, due_lately, redeployed, run, settled, stored

STEP_FUNCTIONS_PAYLOAD_LIMIT = 256 * 1024


def put_in_shard(cloud: LocalCloud, due: datetime, shard: int, job_id: str | None = None) -> str:
    """A job in the original item format, in ``shard`` of its bucket, as a writer with that many shards puts it."""
    job_id = job_id or str(uuid.uuid4())
    cloud.client("dynamodb").put_item(
        TableName=cloud.names.table,
        Item={
            "pk": {"S": keys.partition_key(due, shard=shard)},
            "sk": {"S": keys.sort_key(due, job_id)},
            "detail": {"M": {"n": {"N": "1"}}},
            "detail_type": {"S": "reminder"},
        },
    )
    return job_id


def test_jobs_fire_from_every_shard(cloud: LocalCloud, jobs: Jobs, ledger: Ledger, sharded: Settings) -> None:
    # GIVEN jobs due a few minutes ago in each of the four shards of their bucket, and some typed in the original
    # format (shard 0 whatever the knob says)
    due = due_lately()
    ids = {put_in_shard(cloud, due + timedelta(milliseconds=n), n % SHARDS) for n in range(40)}
    ids |= {jobs.put(due + timedelta(seconds=1, milliseconds=n)) for n in range(5)}
    ledger.scheduled = ids
    assert {pk for pk, _ in stored(cloud)} == {keys.partition_key(due, shard=shard) for shard in range(SHARDS)}

    # WHEN the dispatcher runs
    done = run(cloud, ledger, due + timedelta(minutes=1))

    # THEN every job fired once and left the table; the run counts them as one bucket's
    assert done.output["published"] == done.output["deleted"] == 45
    assert stored(cloud) == {}
    settled(ledger, scheduled=45, published=45)


def test_fewer_shards_strand_no_job(cloud: LocalCloud, jobs: Jobs, ledger: Ledger, sharded: Settings) -> None:
    # GIVEN a dispatcher with four shards has run, and jobs wait in every shard, due in a few minutes' time
    now = datetime.now(UTC)
    run(cloud, ledger, now)
    due = now + timedelta(seconds=3)
    ids = {shard: put_in_shard(cloud, due, shard) for shard in range(SHARDS)}
    ledger.scheduled = set(ids.values())

    # WHEN the knob goes down to two shards, and the dispatcher runs: it finds four on its cursor item and starts
    # the sweep (run by the local cloud before it answers, where AWS queues it)
    deploy(cloud, dataclasses.replace(sharded, shards=2))
    run(cloud, ledger, now + timedelta(seconds=1))

    # THEN the jobs of shards 2 and 3 wait in shards the dispatcher queries, under their own sort keys
    assert {sk for _, sk in stored(cloud)} == {keys.sort_key(due, job_id) for job_id in ids.values()}
    assert all(keys.split_partition_key(pk)[1] < 2 for pk, _ in stored(cloud))
    # AND the next run fires every one of them
    run(cloud, ledger, due + timedelta(seconds=1))
    settled(ledger, scheduled=SHARDS, published=SHARDS)


def test_the_largest_page_of_recurring_jobs_stays_under_256_kb_at_every_step(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger
) -> None:
    # GIVEN 1,000 occurrences of recurring jobs due in one partition, with the longest detail-type and series id a
    # client may write, and the largest page the knobs allow
    with redeployed(cloud, pageSize=1000):
        due = due_lately()
        first = keys.new_job_id(due)
        dynamodb = cloud.client("dynamodb")
        series_id = "s" * 512
        detail_type = "t" * 128
        dynamodb.put_item(
            TableName=cloud.names.table,
            Item={
                **{name: {"S": value} for name, value in series_key(series_id).items()},
                "detail": {"M": {"n": {"N": "1"}}},
                "detail_type": {"S": detail_type},
                "rate": {"S": "1 day"},
                "tz": {"S": "UTC"},
                "starts_at": {"S": keys.format_time(due)},
                "fired": {"N": "0"},
                "current": {"S": keys.sort_key(due, first)},
            },
        )
        occurrences = [first, *(keys.new_job_id(due + timedelta(milliseconds=n)) for n in range(1, 1000))]
        items = [
            occurrence_item(
                keys.partition_key(due),
                keys.sort_key(keys.due_of(job_id), job_id),
                series_id=series_id,
                number=1,
                detail_type=detail_type,
                created_at=keys.format_time(due),
            )
            for job_id in occurrences
        ]
        for start in range(0, len(items), 25):
            dynamodb.batch_write_item(
                RequestItems={
                    cloud.names.table: [
                        {"PutRequest": {"Item": {name: _typed(value) for name, value in item.items()}}}
                        for item in items[start : start + 25]
                    ]
                }
            )
        ledger.scheduled = set(occurrences)

        # WHEN one run publishes them
        started = time.monotonic()
        done = run(cloud, ledger, due + timedelta(minutes=1))
        print(f"one run over 1,000 occurrences: {time.monotonic() - started:.1f} s")

        # THEN every one fired once (one series: one replaced it, the others found it moved on) ...
        assert done.output["published"] == 1000
        assert done.output["advanced"] == 1
        settled(ledger, scheduled=1000, published=1000)
        # ... and no state's input or output came near Step Functions' limit
        transitions, largest = cloud.history_stats(done.execution_arn)
        print(f"largest state payload of a page of 1,000 occurrences: {largest:,} bytes")
        assert transitions > 0
        assert 100 * 1000 > largest > 1000 * len("2026-01-01T00:00:00.000Z#") + 1000 * 36
        assert largest < STEP_FUNCTIONS_PAYLOAD_LIMIT // 2


def _typed(value: object) -> dict[str, str]:
    return {"N": str(value)} if isinstance(value, int) else {"S": str(value)}


def test_a_run_starts_no_page_after_its_deadline_and_the_next_run_fires_the_rest(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger
) -> None:
    # GIVEN 60 jobs due a few minutes ago, and a dispatcher that reads 10 a page with no time for its catch-up
    # (a budget of 0 ms: the first page of each partition, then nothing more)
    with redeployed(cloud, {"CatchUpBudgetMs": "0"}, pageSize=10):
        due = due_lately()
        ledger.scheduled = {jobs.put(due + timedelta(milliseconds=n)) for n in range(60)}

        # WHEN the dispatcher runs
        first = run(cloud, ledger, due + timedelta(minutes=1))

        # THEN it published one page and paused the partition, leaving the cursor where the jobs are
        assert first.output["published"] == 10
        assert first.output["paused"] == 1
        assert len(stored(cloud)) == 50
        assert json.dumps(first.output["byPartition"]).count('"paused": 1') == 1

    # AND the next runs, with time to spare, fire the rest: none lost, none twice
    second = run(cloud, ledger, due + timedelta(minutes=1, seconds=1))
    assert second.output["published"] == 50
    assert second.output["paused"] == 0
    settled(ledger, scheduled=60, published=60)
