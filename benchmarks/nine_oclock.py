"""The nine o'clock drill (issue #10): every job due in the same second, scheduled at once, published by one run.

For each ``--jobs`` count, on a fresh local cloud with the burst knobs given (``--shards``, ``--page-size``,
``--map-concurrency``):

1. a first run (replayed, so instant) records the layout in the cursor item, where the client reads the shards
   in force, as the first run on AWS does;
2. ``Scheduler.schedule_many`` writes N jobs all due at the same whole second T, spread over the shards by job id.
   T is chosen before the first write, far enough ahead for the writes to end before it (``lead_time``);
   printed: jobs per second written on this machine, and the modelled AWS ceiling for writing one bucket
   (``benchmarks/capacity.py``'s: min(partitions x 1,000 WCU, 40,000 WRU a table) / WRU per job);
3. ONE dispatcher run, in real time, is started as soon as the writes end, with a window that covers T
   (``LocalCloud.dispatch(until=T + 1 s)``): it waits inside the state machine for T and publishes every job;
4. every job is accounted for: the console worker's queue is drained completely (each event with the time the
   queue received it, SQS ``SentTimestamp``), the table must hold no job and the dead letter none.

Lateness of a job = the time the worker queue received its event less its due time (T): p50, p99 and max from
the events themselves, and p50/p99 (upper bin edges) and max from the run's own histogram (the time EventBridge
accepted the event). **Drain time** = the last job's lateness at the worker queue: from T until the last of the N
events was received. The issue asks that it grow linearly: the drain time at the largest count is at most 1.1 x
(count ratio) the drain time at the smallest, i.e. 10,000 jobs take at most 11 x the time of 1,000.

Also printed per count: the run's status and counts, the state transitions and the largest state payload
(``LocalCloud.history_stats``), and the API calls of the run by kind (``onthedot.local.metering``).

Exits 1 if a job is lost, duplicated, published early, left in the table or dead-lettered, if the run did not
publish every job itself, if the writes did not end before T, or if the drain time grows more than linearly (the
ratio above). A partition the run paused at its time budget (``paused``) and finished in its last look is printed,
not a failure: the one run still published every job.

The default knobs are the ones that drain fastest here: 16 shards hold 10,000 jobs in one page of at most 1,000
each, so that every partition's page starts at T (with 8 shards the second pages start after the run's budget, 30 s
past its window, and wait for its last look; the drain then takes longer than linearly). ``mapConcurrency`` is the
concurrency over buckets, and the jobs all sit in one; the shards of a bucket are drained all at once.

    .venv/bin/python -m benchmarks.nine_oclock [--jobs 1000 10000] [--shards 16] [--page-size 1000]
        [--map-concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.capacity import FIGURES, item_size
from onthedot.client import JobRequest, Scheduler
from onthedot.core import keys, lateness
from onthedot.core.jobs import job_id_of
from onthedot.deploy.settings import Settings
from onthedot.local.cloud import LocalCloud, Run, free_port
from onthedot.local.metering import count_api_calls

# T is chosen before the first write: this far ahead, plus the writes at a rate well under the ~1,000 jobs a
# second measured here (a shared 2-core machine), so that they end before it.
LEAD_SECONDS = 5.0
ASSUMED_WRITE_RATE = 500.0  # jobs per second
LINEAR_SLACK = 1.1  # drain(largest) <= 1.1 x (largest / smallest) x drain(smallest): 11 x for 10,000 over 1,000
RUN_KINDS = (  # the run's API calls, in the order of a page
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "awslambda:Invoke",
    "dynamodb:BatchGetItem",
    "events:PutEvents",
    "dynamodb:BatchWriteItem",
)


@dataclass(frozen=True)
class Knobs:
    shards: int
    page_size: int
    map_concurrency: int

    def settings(self) -> Settings:
        return Settings(shards=self.shards, pageSize=self.page_size, mapConcurrency=self.map_concurrency)

    def label(self) -> str:
        return f"shards={self.shards}, pageSize={self.page_size}, mapConcurrency={self.map_concurrency}"

    def flags(self) -> str:
        return f"--shards {self.shards} --page-size {self.page_size} --map-concurrency {self.map_concurrency}"


@dataclass
class Drill:
    """What one drill of ``jobs`` jobs measured."""

    jobs: int
    due: datetime
    write_seconds: float
    write_calls: dict[str, int]
    margin_seconds: float  # from the end of the writes to T
    partitions: int  # distinct partition keys the jobs were written to
    item_bytes: int  # a job item's size (median), by DynamoDB's sizing rules
    run: Run
    run_calls: dict[str, int]
    run_cpu_seconds: float  # CPU time of this process (the whole local cloud) while the run went
    transitions: int
    largest_payload: int
    received: dict[str, list[float]] = field(default_factory=dict)  # job id -> lateness at the queue (ms), each copy
    strangers: int = 0  # events that are not one of this drill's jobs
    left: int = 0  # jobs still in the table
    dead: int = 0  # jobs in the dead letter

    @property
    def write_rate(self) -> float:
        return self.jobs / self.write_seconds if self.write_seconds else math.inf

    @property
    def published(self) -> int:
        return len(self.received)

    @property
    def lost(self) -> int:
        return self.jobs - len(self.received)

    @property
    def duplicated(self) -> int:
        return sum(len(copies) - 1 for copies in self.received.values())

    @property
    def first(self) -> list[float]:
        """Each job's lateness at the worker queue (its first copy), in ms, in order."""
        return sorted(min(copies) for copies in self.received.values())

    @property
    def early(self) -> int:
        return sum(value < 0 for copies in self.received.values() for value in copies)

    @property
    def drain_ms(self) -> float:
        """From T until the last job's event was received by the worker queue."""
        return max(self.first, default=math.nan)

    def ceiling(self) -> tuple[float, str]:
        """The modelled AWS ceiling on writing these jobs (benchmarks/capacity.py), and its formula."""
        wru = max(1, math.ceil(self.item_bytes / FIGURES["dynamodb.write_unit_bytes"].value))
        wcu, table = FIGURES["dynamodb.partition_wcu"].value, FIGURES["dynamodb.table_wru"].value
        by_partitions, by_table = self.partitions * wcu / wru, table / wru
        formula = (
            f"min({self.partitions} partitions x {wcu:,.0f} WCU = {by_partitions:,.0f}, table {table:,.0f} WRU)"
            f" / {wru} WRU per job"
        )
        return min(by_partitions, by_table), formula


def percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else math.nan


def lead_time(jobs: int) -> timedelta:
    return timedelta(seconds=LEAD_SECONDS + jobs / ASSUMED_WRITE_RATE)


def drill(knobs: Knobs, jobs: int) -> Drill:
    """One fresh local cloud: the layout recorded, ``jobs`` jobs written for one second, one run publishes them."""
    with LocalCloud(port=free_port(), settings=knobs.settings()) as cloud:
        cloud.dispatch(now=datetime.now(UTC))  # replayed (a window of 1 ms): it records the layout, at once
        scheduler = Scheduler(cloud.names.table, dynamodb=cloud.client("dynamodb"))
        if scheduler.shards != knobs.shards:
            raise RuntimeError(f"the client reads {scheduler.shards} shards from the table, not {knobs.shards}")
        now = datetime.now(UTC)
        due = (now + lead_time(jobs)).replace(microsecond=0) + timedelta(seconds=1)  # a whole second, T
        requests = [JobRequest("nine-oclock", {"user": n, "text": "good morning"}, at=due) for n in range(jobs)]
        with count_api_calls() as write_calls:
            started = time.perf_counter()
            scheduled = scheduler.schedule_many(requests)
            write_seconds = time.perf_counter() - started
        margin = (due - datetime.now(UTC)).total_seconds()
        items = _job_items(cloud)
        sizes = sorted(item_size(item) for item in items)

        with count_api_calls() as run_calls:
            cpu = time.process_time()
            run = cloud.dispatch(until=due + timedelta(seconds=1))  # real time: it waits for T, then publishes
            cpu = time.process_time() - cpu
        transitions, largest = cloud.history_stats(run.execution_arn)
        done = Drill(
            jobs=jobs,
            due=due,
            write_seconds=write_seconds,
            write_calls=_by_kind(write_calls.counts),
            margin_seconds=margin,
            partitions=len({item["pk"]["S"] for item in items}),
            item_bytes=sizes[len(sizes) // 2] if sizes else 0,
            run=run,
            run_calls=_by_kind(run_calls.counts),
            run_cpu_seconds=cpu,
            transitions=transitions,
            largest_payload=largest,
        )
        ids = {job.id for job in scheduled}
        done.received = {job_id: [] for job_id in ids}
        for job_id, received in _drain_queue(cloud):
            if job_id in done.received:
                done.received[job_id].append((received - due) / timedelta(milliseconds=1))
            else:
                done.strangers += 1
        done.received = {job_id: copies for job_id, copies in done.received.items() if copies}
        done.left = len(_job_items(cloud))
        done.dead = _dead_letters(cloud)
    return done


def _by_kind(counts: Counter[tuple[str, str]]) -> dict[str, int]:
    return {f"{service}:{action}": count for (service, action), count in sorted(counts.items())}


def _job_items(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every job item in the table (the cursor and the run records stay by design)."""
    items: list[dict[str, Any]] = []
    for page in cloud.client("dynamodb").get_paginator("scan").paginate(TableName=cloud.names.table):
        items.extend(item for item in page["Items"] if item["pk"]["S"].startswith(keys.PK_PREFIX))
    return items


def _dead_letters(cloud: LocalCloud) -> int:
    scan = cloud.client("dynamodb").get_paginator("scan")
    return sum(
        item["pk"]["S"] == "dlq"
        for page in scan.paginate(TableName=cloud.names.dead_letter_table)
        for item in page["Items"]
    )


def _drain_queue(cloud: LocalCloud) -> list[tuple[str, datetime]]:
    """Every event in the console worker's queue, with the time the queue received it; until it is empty (the run
    has ended: EventBridge delivered each event before PutEvents answered)."""
    sqs = cloud.client("sqs")
    seen: list[tuple[str, datetime]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=cloud.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["SentTimestamp"]
        ).get("Messages", [])
        if not messages:  # once more with a wait, to be sure the queue is empty
            messages = sqs.receive_message(
                QueueUrl=cloud.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["SentTimestamp"]
            ).get("Messages", [])
            if not messages:
                return seen
        for message in messages:
            received = datetime.fromtimestamp(int(message["Attributes"]["SentTimestamp"]) / 1000, UTC)
            seen.append((job_id_of(json.loads(message["Body"])), received))
        sqs.delete_message_batch(
            QueueUrl=cloud.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


# -- Printing ------------------------------------------------------------------------------------------------------


def _seconds(ms: float | int | None) -> str:
    return "-" if ms is None or (isinstance(ms, float) and math.isnan(ms)) else f"{ms / 1000:.3f}"


def report(done: Drill) -> list[str]:
    output = done.run.output
    histogram = output.get("lateness") or []
    first = done.first
    ceiling, formula = done.ceiling()
    return [
        f"== {done.jobs:,} jobs due at {keys.format_time(done.due)} ==",
        f"  scheduling (schedule_many): {done.write_seconds:.2f} s = {done.write_rate:,.0f} jobs/s written locally "
        f"({done.write_calls.get('dynamodb:BatchWriteItem', 0)} BatchWriteItem); ended {done.margin_seconds:.1f} s "
        f"before T; {done.partitions} partitions, {done.item_bytes} bytes a job item",
        f"  modelled AWS ceiling for writing one bucket: {ceiling:,.0f} jobs/s = {formula} (benchmarks/capacity.py)",
        f"  run: {done.run.status} in {done.run.seconds:.1f} s ({done.run_cpu_seconds:.1f} CPU s); due "
        f"{output.get('due')}, published "
        f"{output.get('published')}, deleted {output.get('deleted')}, failed {output.get('failed')}, dead-lettered "
        f"{output.get('deadLettered')}, paused {output.get('paused')}, ticks {output.get('ticks')}"
        + (f"; error {done.run.error}" if done.run.error else ""),
        f"  account: {done.jobs} scheduled, {done.published} published, lost {done.lost}, duplicated "
        f"{done.duplicated}, early {done.early}, left in the table {done.left}, dead-lettered {done.dead}"
        + (f", {done.strangers} events of no job of this drill" if done.strangers else ""),
        f"  lateness at the worker queue (s): p50 {_seconds(percentile(first, 0.5))}, p99 "
        f"{_seconds(percentile(first, 0.99))}, max {_seconds(done.drain_ms)} (= drain time: T to the last receipt)",
        f"  lateness by the run's histogram (s, upper bin edges): p50 "
        f"{_seconds(lateness.percentile_ms(histogram, 0.5))}, p99 {_seconds(lateness.percentile_ms(histogram, 0.99))}"
        f", max {_seconds(output.get('latenessMaxMs'))} (EventBridge accepted)",
        f"  state transitions {done.transitions:,}, largest state payload {done.largest_payload:,} bytes",
        "  API calls of the run: "
        + ", ".join(f"{kind} {done.run_calls.get(kind, 0):,}" for kind in RUN_KINDS)
        + "".join(f", {kind} {count:,}" for kind, count in done.run_calls.items() if kind not in RUN_KINDS),
    ]


def table(drills: Sequence[Drill]) -> list[str]:
    columns = (
        "jobs",
        "written/s",
        "AWS ceiling/s",
        "run s",
        "p50 s",
        "p99 s",
        "max = drain s",
        "published",
        "lost",
        "duplicated",
        "early",
        "left",
        "dead",
        "transitions",
        "largest payload",
    )
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for done in drills:
        first = done.first
        cells = (
            f"{done.jobs:,}",
            f"{done.write_rate:,.0f}",
            f"{done.ceiling()[0]:,.0f}",
            f"{done.run.seconds:.1f}",
            _seconds(percentile(first, 0.5)),
            _seconds(percentile(first, 0.99)),
            _seconds(done.drain_ms),
            f"{done.published:,}",
            str(done.lost),
            str(done.duplicated),
            str(done.early),
            str(done.left),
            str(done.dead),
            f"{done.transitions:,}",
            f"{done.largest_payload:,} B",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def failures(drills: Sequence[Drill]) -> list[str]:
    found = []
    for done in drills:
        output = done.run.output
        name = f"{done.jobs:,} jobs"
        if done.lost or done.duplicated or done.early or done.left or done.dead:
            found.append(
                f"{name}: lost {done.lost}, duplicated {done.duplicated}, early {done.early}, left {done.left}, "
                f"dead-lettered {done.dead}"
            )
        if done.run.status != "SUCCEEDED" or output.get("published") != done.jobs:
            found.append(f"{name}: the run did not publish every job itself ({json.dumps(output)[:300]})")
        if done.margin_seconds <= 0:
            found.append(f"{name}: the writes ended {-done.margin_seconds:.1f} s after T: lateness is meaningless")
    smallest, largest = min(drills, key=lambda d: d.jobs), max(drills, key=lambda d: d.jobs)
    if largest.jobs > smallest.jobs:
        allowed = LINEAR_SLACK * largest.jobs / smallest.jobs
        ratio = largest.drain_ms / smallest.drain_ms
        if not ratio <= allowed:
            found.append(f"drain time grows more than linearly: {ratio:.2f} x for {largest.jobs / smallest.jobs:g} x")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 10_000], help="job counts, one drill each")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--map-concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    knobs = Knobs(args.shards, args.page_size, args.map_concurrency)
    print(f"knobs: {knobs.label()} (the other knobs at their defaults)")

    drills = []
    for jobs in args.jobs:
        done = drill(knobs, jobs)
        drills.append(done)
        print("\n".join(report(done)), flush=True)
    print()
    print("\n".join(table(drills)))
    smallest, largest = min(drills, key=lambda d: d.jobs), max(drills, key=lambda d: d.jobs)
    if largest.jobs > smallest.jobs:
        ratio = largest.drain_ms / smallest.drain_ms
        allowed = LINEAR_SLACK * largest.jobs / smallest.jobs
        print(
            f"\ndrain time (T to the last event received): {largest.jobs:,} jobs {_seconds(largest.drain_ms)} s, "
            f"{smallest.jobs:,} jobs {_seconds(smallest.drain_ms)} s: ratio {ratio:.2f} (allowed {allowed:g})"
        )
    jobs_flags = " ".join(str(jobs) for jobs in args.jobs)
    print(f"reproduce: .venv/bin/python -m benchmarks.nine_oclock --jobs {jobs_flags} {knobs.flags()}")
    found = failures(drills)
    for failure in found:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
