"""Benchmark: 1,000 jobs due in one dispatcher run on the local cloud.

Counts what is deterministic (API calls per 1,000 jobs, state transitions, largest state payload) besides the
wall time of the run, and exits 1 if a job is left behind or a budget is exceeded.

    make bench            # or: .venv/bin/python benchmarks/dispatch_1000.py [--jobs N] [--detail-bytes B]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from onthedot.core import keys
from onthedot.local.cloud import LocalCloud, free_port
from onthedot.local.metering import count_api_calls

# Per 1,000 jobs (issue #2). Each partition drained ends with one part-filled request of each kind, so a
# run over two partitions may take one more of each.
BUDGETS = {"events:PutEvents": 100, "dynamodb:BatchWriteItem": 40}


def seed(cloud: LocalCloud, now: datetime, count: int, detail_bytes: int, span: timedelta) -> None:
    """``count`` jobs due over ``span`` up to ``now``, in the original item format."""
    dynamodb = cloud.client("dynamodb")
    requests = []
    for index in range(count):
        due = now - span * (index + 1) / max(count, 1)  # all before now: the replayed run catches them up
        requests.append(
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": keys.partition_key(due)},
                        "sk": {"S": keys.sort_key(due, str(uuid.uuid4()))},
                        "detail": {"M": {"blob": {"S": "x" * detail_bytes}, "index": {"N": str(index)}}},
                        "detail_type": {"S": "benchmark"},
                    }
                }
            }
        )
    for start in range(0, len(requests), 25):
        dynamodb.batch_write_item(RequestItems={cloud.names.table: requests[start : start + 25]})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--detail-bytes", type=int, default=200)
    parser.add_argument(
        "--partitions",
        type=int,
        choices=(1, 2),
        default=1,
        help="spread the jobs over the current bucket only (1) or the previous one too (2)",
    )
    args = parser.parse_args()

    with LocalCloud(port=free_port()) as cloud:
        # A run 4 minutes into the previous bucket (in the past: the publish function sends no job before its due
        # time by the real clock); the jobs are due within that bucket, or over it and the one before.
        now = keys.bucket_start(datetime.now(UTC), cloud.settings.bucketMinutes) - timedelta(minutes=1)
        span = timedelta(minutes=4 if args.partitions == 1 else 8)
        seed(cloud, now, args.jobs, args.detail_bytes, span)
        with count_api_calls() as calls:
            started = time.perf_counter()
            run = cloud.dispatch(now=now)
            wall = time.perf_counter() - started
        transitions, largest = cloud.history_stats(run.execution_arn)
        delivered = len(cloud.receive_events())
        left = cloud.client("dynamodb").scan(  # jobs only: the cursor and the run record stay by design
            TableName=cloud.names.table,
            Select="COUNT",
            FilterExpression="begins_with(pk, :jobs)",
            ExpressionAttributeValues={":jobs": {"S": keys.PK_PREFIX}},
        )["Count"]

    per_1000 = 1000 / max(args.jobs, 1)
    figures: dict[str, Any] = {
        "jobs due": args.jobs,
        "published": run.output.get("published"),
        "deleted": run.output.get("deleted"),
        "delivered to the worker queue": delivered,
        "left in the table": left,
        "run status": run.status,
    }
    for name in (
        "dynamodb:Query",
        "lambda:Invoke",
        "dynamodb:BatchGetItem",
        "events:PutEvents",
        "dynamodb:BatchWriteItem",
    ):
        service, action = name.split(":")
        figures[f"{name} requests"] = calls[f"{'awslambda' if service == 'lambda' else service}:{action}"]
    figures["state transitions"] = transitions
    figures["largest state payload (bytes)"] = largest
    figures["wall time of the run on the local cloud (s)"] = round(wall, 2)
    for name, value in figures.items():
        print(f"{name:>45}: {value}")
    command = "benchmarks/dispatch_1000.py"
    print(
        f"{'reproduce':>45}: .venv/bin/python {command} --jobs {args.jobs} --detail-bytes {args.detail_bytes}"
        f" --partitions {args.partitions}"
    )

    failures = []
    if run.status != "SUCCEEDED" or run.output.get("published") != args.jobs or left:
        failures.append(f"not every job was published and deleted in the run ({json.dumps(run.output)[:300]})")
    for name, budget in BUDGETS.items():
        allowed = budget / per_1000 + (args.partitions - 1)
        if figures[f"{name} requests"] > allowed:
            failures.append(f"{name}: {figures[f'{name} requests']} requests, at most {allowed:.0f} allowed")
    if largest >= 256 * 1024:
        failures.append(f"a state payload of {largest} bytes reaches the 256 KB limit")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
