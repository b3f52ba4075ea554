"""Benchmark: scheduling 10,000 jobs with the batched API against one write a job, on the local cloud.

Both runs happen in one process, on the same local cloud, one after the other, so the ratio is what to read.

    .venv/bin/python benchmarks/schedule_10000.py [--jobs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta

from onthedot.client import JobRequest, Scheduler
from onthedot.local.cloud import LocalCloud, free_port
from onthedot.local.metering import count_api_calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    detail = {"recipient": "ada@example.com", "text": "x" * 100}

    with LocalCloud(port=free_port()) as cloud:
        scheduler = Scheduler(cloud.names.table, dynamodb=cloud.client("dynamodb"))
        requests = [
            JobRequest("benchmark", detail, delay=timedelta(hours=1, milliseconds=index)) for index in range(args.jobs)
        ]

        with count_api_calls() as batched_calls:
            started = time.perf_counter()
            batched = scheduler.schedule_many(requests)
            batched_seconds = time.perf_counter() - started

        with count_api_calls() as single_calls:
            started = time.perf_counter()
            single = [scheduler.schedule(r.detail_type, r.detail, delay=r.delay) for r in requests]
            single_seconds = time.perf_counter() - started

        stored = sum(
            page["Count"]
            for page in cloud.client("dynamodb")
            .get_paginator("scan")
            .paginate(TableName=cloud.names.table, Select="COUNT")
        )

    rows = {
        "jobs per run": args.jobs,
        "batched: seconds": round(batched_seconds, 2),
        "batched: BatchWriteItem requests": batched_calls["dynamodb:BatchWriteItem"],
        "one at a time: seconds": round(single_seconds, 2),
        "one at a time: write requests": single_calls["dynamodb:PutItem"] + single_calls["dynamodb:TransactWriteItems"],
        "speed-up (one at a time / batched)": round(single_seconds / batched_seconds, 1),
        "jobs stored": stored,
    }
    for name, value in rows.items():
        print(f"{name:>40}: {value}")
    print(f"{'reproduce':>40}: .venv/bin/python benchmarks/schedule_10000.py --jobs {args.jobs}")
    if len(batched) != args.jobs or len(single) != args.jobs or stored != 2 * args.jobs:
        print("FAILED: not every job was stored", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
