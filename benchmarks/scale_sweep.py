"""Benchmark: one dispatcher run over 250, 1,000, 4,000 and 10,000 due jobs on the local cloud, against a yardstick.

The yardstick is the same 1,000 jobs published and deleted one at a time with plain API calls (PutEvents of one
entry, DeleteItem) on the same local cloud, in the same process: the machines here are noisy, so the ratios
are the figures to read. Each point runs on a fresh local cloud; the best of ``--repeat`` measurements counts
(other work on the machine only ever slows one down). Draining the worker queue of what a run delivered is
timed too: it must grow linearly as well. CPU seconds (all threads of this process: moto, the interpreter and
the handlers run in it) are printed beside wall seconds, as they suffer less from other work on the machine.

    .venv/bin/python -m benchmarks.scale_sweep [--sizes 250 1000 4000 10000] [--detail-bytes B] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from benchmarks.dispatch_1000 import seed
from onthedot.core import keys
from onthedot.local.cloud import LocalCloud, free_port

# Issue 7's bar: a run over 1,000 jobs within 3 times the yardstick; linear growth beyond it.
TARGETS = {"yardstick": 3.0, 4000: 4.5, 10_000: 11.0}


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.timing = Timing(time.perf_counter() - self._wall, time.process_time() - self._cpu)


@dataclass(frozen=True)
class Point:
    jobs: int
    run: Timing
    drain: Timing
    published: int
    delivered: int
    left: int
    status: str


def _run_time(cloud: LocalCloud) -> datetime:
    """A run 4 minutes into the last whole bucket; the jobs are due over those 4 minutes. In the past, so that
    every job is due by the real clock as well as by the run's ``now``."""
    width = cloud.settings.bucketMinutes
    return keys.bucket_start(datetime.now(UTC) - timedelta(minutes=width), width) + timedelta(minutes=4)


def _jobs_left(cloud: LocalCloud) -> int:
    return int(
        cloud.client("dynamodb").scan(
            TableName=cloud.names.table,
            Select="COUNT",
            FilterExpression="begins_with(pk, :jobs)",
            ExpressionAttributeValues={":jobs": {"S": keys.PK_PREFIX}},
        )["Count"]
    )


def measure_run(jobs: int, detail_bytes: int) -> Point:
    with LocalCloud(port=free_port()) as cloud:
        now = _run_time(cloud)
        seed(cloud, now, jobs, detail_bytes, timedelta(minutes=4))
        with Stopwatch() as run_watch:
            run = cloud.dispatch(now=now)
        with Stopwatch() as drain_watch:
            delivered = len(cloud.receive_events())
        return Point(
            jobs,
            run_watch.timing,
            drain_watch.timing,
            run.output.get("published", 0),
            delivered,
            _jobs_left(cloud),
            run.status,
        )


def best(points: list[Point]) -> Point:
    """The fastest run and the fastest drain of repeated measurements: other work on the machine only slows."""
    fastest = min(points, key=lambda p: p.run.wall)
    drain = min((p.drain for p in points), key=lambda t: t.wall)
    failed = [p for p in points if p.status != "SUCCEEDED" or p.published != p.jobs or p.delivered != p.jobs or p.left]
    return replace(failed[0] if failed else fastest, run=fastest.run, drain=drain)


def measure_yardstick(jobs: int, detail_bytes: int) -> Timing:
    """The same jobs, each published with a PutEvents of one entry and deleted with a DeleteItem."""
    with LocalCloud(port=free_port()) as cloud:
        now = _run_time(cloud)
        seed(cloud, now, jobs, detail_bytes, timedelta(minutes=4))
        dynamodb, events = cloud.client("dynamodb"), cloud.client("events")
        pages = dynamodb.get_paginator("scan").paginate(TableName=cloud.names.table)
        items = [item for page in pages for item in page["Items"] if item["pk"]["S"].startswith(keys.PK_PREFIX)]
        with Stopwatch() as watch:
            for item in items:
                events.put_events(
                    Entries=[
                        {
                            "EventBusName": cloud.names.bus,
                            "Source": cloud.settings.eventSource,
                            "DetailType": item["detail_type"]["S"],
                            "Detail": json.dumps({"blob": item["detail"]["M"]["blob"]["S"]}),
                        }
                    ]
                )
                dynamodb.delete_item(TableName=cloud.names.table, Key={"pk": item["pk"], "sk": item["sk"]})
        delivered = len(cloud.receive_events())
        if delivered != jobs or _jobs_left(cloud):
            raise RuntimeError(f"yardstick: {delivered} of {jobs} delivered, {_jobs_left(cloud)} left")
        return watch.timing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 4000, 10_000])
    parser.add_argument("--detail-bytes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2, help="measure each point this many times; the best counts")
    args = parser.parse_args()
    sizes = sorted(set(args.sizes) | {1000})

    yardstick = min((measure_yardstick(1000, args.detail_bytes) for _ in range(args.repeat)), key=lambda t: t.wall)
    points = {jobs: best([measure_run(jobs, args.detail_bytes) for _ in range(args.repeat)]) for jobs in sizes}
    base = points[1000]

    print(
        f"yardstick, 1,000 jobs published and deleted one at a time: {yardstick.wall:.2f} s, {yardstick.cpu:.2f} s CPU"
    )
    print(
        f"{'jobs':>7} {'run s':>8} {'ms/job':>7} {'ratio':>7} {'CPU s':>7} {'ratio':>7}"
        f" {'drain s':>8} {'ms/event':>9} {'ratio':>7}  status    (ratio: to the 1,000-job point)"
    )
    for jobs, point in points.items():
        run, drain = point.run, point.drain
        print(
            f"{jobs:>7,} {run.wall:>8.2f} {1000 * run.wall / jobs:>7.2f} {run.wall / base.run.wall:>7.2f}"
            f" {run.cpu:>7.2f} {run.cpu / base.run.cpu:>7.2f}"
            f" {drain.wall:>8.2f} {1000 * drain.wall / max(point.delivered, 1):>9.2f}"
            f" {drain.wall / base.drain.wall:>7.2f}  {point.status}"
        )
    print()
    print(
        f"1,000-job run / yardstick: {base.run.wall / yardstick.wall:.2f} wall, {base.run.cpu / yardstick.cpu:.2f} CPU"
        f"  (target <= {TARGETS['yardstick']:g})"
    )
    for jobs in (4000, 10_000):
        if jobs in points:
            run = points[jobs].run
            print(
                f"{jobs:,}-job run / 1,000-job run: {run.wall / base.run.wall:.2f} wall,"
                f" {run.cpu / base.run.cpu:.2f} CPU"
                f"  (target <= {TARGETS[jobs]:g}; linear is {jobs / 1000:g})"
            )
    sizes_flag = " ".join(str(size) for size in args.sizes)
    print(
        f"reproduce: .venv/bin/python -m benchmarks.scale_sweep --sizes {sizes_flag} --detail-bytes {args.detail_bytes}"
        f" --repeat {args.repeat}"
    )

    failures = [
        f"{p.jobs} jobs: {p.status}, {p.published} published, {p.delivered} delivered, {p.left} left in the table"
        for p in points.values()
        if p.status != "SUCCEEDED" or p.published != p.jobs or p.delivered != p.jobs or p.left
    ]
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
