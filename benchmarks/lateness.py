"""Benchmark: how late jobs fire, where a worker sees them, on the local cloud with the default knobs.

Jobs at random due times over several minutes: scheduled ahead through the client API, typed in the original
item format, and scheduled only 1-3 s before they are due. The dispatcher runs every minute as the rule starts
it; lateness is the time the worker queue received the event less the job's due time. Prints p50, p99 and max,
a text histogram and the cost model for the knobs in force (benchmarks/cost_model.py), writes a PNG histogram,
and exits 1 if a job fired early, twice, or not at all, or if p99 > 1 s or max > 2 s.

    make bench    # or: .venv/bin/python -m benchmarks.lateness [--jobs 300] [--minutes 5] [--png PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import cost_model
from onthedot.client import JobRequest, Scheduler
from onthedot.core import keys, lateness
from onthedot.core.jobs import due_time_of, job_id_of
from onthedot.deploy.settings import Settings, look_ahead_ms
from onthedot.local.cloud import LocalCloud, Run, Ticker, free_port
from onthedot.local.metering import count_api_calls

LEAD_IN = timedelta(seconds=15)  # the first due time, after start-up


class Worker(threading.Thread):
    """Reads the console worker's queue: each event with the time the queue received it."""

    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(daemon=True)
        self.cloud, self.stop = cloud, threading.Event()
        self.seen: list[tuple[str, datetime, datetime]] = []  # job id, due, received

    def run(self) -> None:
        sqs = self.cloud.client("sqs")
        while not self.stop.is_set():
            messages = sqs.receive_message(
                QueueUrl=self.cloud.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                AttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            for message in messages:
                event = json.loads(message["Body"])
                received = datetime.fromtimestamp(int(message["Attributes"]["SentTimestamp"]) / 1000, UTC)
                self.seen.append((job_id_of(event), due_time_of(event), received))
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=self.cloud.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )


def schedule(cloud: LocalCloud, scheduler: Scheduler, count: int, span: timedelta, seed: int) -> dict[str, str]:
    """Half through the API ahead of time, a quarter typed in the original item format, and a quarter 1-3 s before
    they are due (from a thread). The kind of each job, by id."""
    chance = random.Random(seed)
    start = datetime.now(UTC) + LEAD_IN
    dues = sorted(start + span * chance.random() for _ in range(count))
    kinds = [chance.choice(["api", "api", "typed", "late"]) for _ in dues]
    made: dict[str, str] = {}
    plan = list(enumerate(zip(dues, kinds, strict=True)))
    requests = [JobRequest("bench", {"n": n}, at=due) for n, (due, kind) in plan if kind == "api"]
    for job in scheduler.schedule_many(requests):
        made[job.id] = "api"
    dynamodb = cloud.client("dynamodb")
    for n, (due, kind) in plan:
        if kind == "typed":
            job_id = keys.new_job_id(due)
            dynamodb.put_item(
                TableName=cloud.names.table,
                Item={
                    "pk": {"S": keys.partition_key(due)},
                    "sk": {"S": keys.sort_key(due, job_id)},
                    "detail": {"M": {"n": {"N": str(n)}}},
                    "detail_type": {"S": "bench"},
                },
            )
            made[job_id] = "typed"
    late = [(due, n) for n, (due, kind) in plan if kind == "late"]

    def write_late() -> None:
        for due, n in late:
            lead = timedelta(seconds=chance.uniform(1, 3))
            time.sleep(max(0.0, (due - lead - datetime.now(UTC)).total_seconds()))
            made[scheduler.schedule("bench", {"n": n}, at=due).id] = "late"

    threading.Thread(target=write_late, daemon=True).start()
    for due, _ in late:  # reserve their places, so that the caller knows how many to wait for
        made[f"pending-{due.isoformat()}"] = "late"
    return made


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def text_histogram(values_ms: list[float]) -> list[str]:
    counts = lateness.histogram(values_ms)
    lines, low = [], 0
    widest = max(counts) or 1
    for edge, count in zip(lateness.EDGES_MS, counts, strict=True):
        if count:
            label = f"{low / 1000:g}-{edge / 1000:g} s" if edge < lateness.EDGES_MS[-1] else f">{low / 1000:g} s"
            lines.append(f"  {label:>12} {count:5} {'#' * max(1, round(40 * count / widest))}")
        low = edge
    return lines


def write_png(values_ms: list[float], path: Path, title: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -c constraints.txt -e '.[bench]'): no PNG written"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.hist([value / 1000 for value in values_ms], bins=40, color="#2a7ab0")
    axes.set_xlabel("lateness at the worker queue (s)")
    axes.set_ylabel("jobs")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return f"PNG histogram: {path}"


def measure_profile(cloud: LocalCloud, settings: Settings) -> cost_model.Profile:
    """Counts for the cost model, on a fresh table: a dense run, then an idle run of a few seconds against a
    replayed one (whose window is a millisecond)."""

    def measured(run: Run, calls: Any) -> dict[str, float]:
        history = cloud.client("stepfunctions").get_execution_history(executionArn=run.execution_arn, maxResults=1000)
        events = history["events"]
        return {
            "queries": calls["dynamodb:Query"],
            "reads": calls["dynamodb:GetItem"] + calls["dynamodb:Query"],
            "writes": calls["dynamodb:UpdateItem"] + calls["dynamodb:PutItem"],
            "transitions": sum(event["type"].endswith("StateEntered") for event in events),
            "bytes": sum(len(json.dumps(event, default=str)) for event in events),
            "events": len(events),
            "ticks": run.output["ticks"],
        }

    jobs, now = 1000, datetime.now(UTC)
    dynamodb = cloud.client("dynamodb")
    items: list[dict[str, Any]] = []
    for n in range(jobs):
        due = now - timedelta(seconds=60) * n / jobs
        item = {"pk": {"S": keys.partition_key(due)}, "sk": {"S": keys.sort_key(due, keys.new_job_id(due))}}
        items.append({**item, "detail": {"M": {"n": {"N": str(n)}}}, "detail_type": {"S": "bench"}})
    for start in range(0, jobs, 25):
        dynamodb.batch_write_item(
            RequestItems={cloud.names.table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        )
    with count_api_calls() as dense_calls:
        dense = cloud.dispatch(now=now)
    assert dense.output["published"] == jobs, dense.output
    with count_api_calls() as calls:
        short = measured(cloud.dispatch(now=datetime.now(UTC)), calls)
    with count_api_calls() as calls:
        idle = measured(cloud.dispatch(until=datetime.now(UTC) + timedelta(seconds=8)), calls)
    ticks = idle["ticks"] - short["ticks"]
    per_tick = {name: (idle[name] - short[name]) / ticks for name in idle}

    page_bytes = 4 * 1024
    key_bytes = len(keys.partition_key(now)) + len(keys.sort_key(now, keys.new_job_id(now)))
    seconds = look_ahead_ms(settings) / 1000
    return cost_model.Profile(
        run_seconds=seconds + 1,
        runs_per_month=cost_model.SECONDS_PER_MONTH / (settings.scheduleMinutes * 60),
        per_tick_queries=per_tick["queries"],
        per_tick_transitions=per_tick["transitions"],
        per_tick_history_bytes=per_tick["bytes"],
        per_tick_history_events=per_tick["events"],
        per_run_reads=short["reads"] - per_tick["queries"],
        per_run_writes=short["writes"],
        per_run_transitions=short["transitions"] - per_tick["transitions"],
        per_run_history_bytes=short["bytes"] - per_tick["bytes"],
        per_run_history_events=short["events"] - per_tick["events"],
        ticks_per_run=seconds,
        invokes_per_job=dense_calls["awslambda:Invoke"] / jobs,
        item_reads_per_job=1.0,
        events_per_job=1.0,
        deletes_per_job=dense.output["deleted"] / jobs,
        query_rru_per_job=dense_calls["dynamodb:Query"] * (settings.pageSize * key_bytes / page_bytes) / jobs,
    )


def run_jobs(settings: Settings, count: int, span: timedelta, seed: int) -> tuple[dict[str, str], Worker, list[Run]]:
    """The jobs scheduled, the worker that saw them fire and the dispatcher runs, on a cloud of their own."""
    runs: list[Run] = []
    with LocalCloud(port=free_port(), settings=settings) as cloud:
        scheduler = Scheduler(cloud.names.table, dynamodb=cloud.client("dynamodb"))
        worker = Worker(cloud)
        worker.start()
        every = settings.scheduleMinutes * 60
        ticker = Ticker(cloud, every, runs.append, lambda error: print(f"start failed: {error}"))
        ticker.start()
        made = schedule(cloud, scheduler, count, span, seed)
        print(f"{count} jobs due over {span.total_seconds() / 60:g} minutes from {LEAD_IN.seconds} s on; waiting …")
        deadline = time.monotonic() + (LEAD_IN + span).total_seconds() + 90
        while len({job for job, _, _ in worker.seen}) < count and time.monotonic() < deadline:
            time.sleep(1)
        ticker.stop()
        worker.stop.set()
        worker.join(timeout=5)
    return made, worker, runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--png", type=Path, default=Path("benchmarks/results/lateness.png"))
    args = parser.parse_args()
    settings = Settings()
    made, worker, runs = run_jobs(settings, args.jobs, timedelta(minutes=args.minutes), args.seed)

    fired = Counter(job for job, _, _ in worker.seen)
    first: dict[str, float] = {}
    for job, due, received in worker.seen:
        first.setdefault(job, (received - due) / timedelta(milliseconds=1))
    values = list(first.values())
    scheduled = {job for job in made if not job.startswith("pending-")}
    early = [value for value in values if value < 0]
    p50, p99, latest = percentile(values, 0.5), percentile(values, 0.99), max(values, default=float("nan"))
    print(f"{'jobs scheduled':>32}: {len(scheduled)} ({dict(Counter(made[j] for j in scheduled))})")
    print(f"{'jobs fired':>32}: {len(first)}, duplicates {sum(fired.values()) - len(fired)}")
    print(f"{'dispatcher runs':>32}: {len(runs)}, {sum(run.status == 'SUCCEEDED' for run in runs)} succeeded")
    print(f"{'lateness p50 / p99 / max (s)':>32}: {p50 / 1000:.3f} / {p99 / 1000:.3f} / {latest / 1000:.3f}")
    print(f"{'fired early':>32}: {len(early)}")
    slowest = sorted(first.items(), key=lambda item: item[1], reverse=True)[:5]
    print(f"{'latest jobs':>32}: " + ", ".join(f"{made.get(job, '?')} {late / 1000:.3f} s" for job, late in slowest))
    print("lateness at the worker queue:")
    print("\n".join(text_histogram(values)))
    print(write_png(values, args.png, f"{len(values)} jobs: p99 {p99 / 1000:.2f} s"))
    with LocalCloud(port=free_port(), settings=settings) as cloud:  # a fresh table: no window claimed yet
        profile = measure_profile(cloud, settings)
    print("cost model for the knobs in force (benchmarks/cost_model.py):")
    print("\n".join(f"  {line}" for line in cost_model.report(profile)))
    print(f"reproduce: .venv/bin/python -m benchmarks.lateness --jobs {args.jobs} --minutes {args.minutes:g}")

    failures = []
    if set(first) != scheduled:
        failures.append(f"{len(scheduled - set(first))} jobs did not fire")
    if early:
        failures.append(f"{len(early)} jobs fired early")
    if sum(fired.values()) != len(fired):
        failures.append("jobs fired twice without a fault")
    if values and (p99 > 1000 or latest > 2000):
        failures.append("p99 over 1 s or max over 2 s")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
