"""What onthedot costs on AWS, from counts measured on the local cloud and AWS's published prices.

Prices: US East (N. Virginia), on-demand, as published on the AWS pricing pages named beside each (read
2026-11); free tiers are left out, so the figures are what a busy account pays.

The model takes *measured* counts (``Profile``): what one idle run does per second of its window (a tick: its
Query calls, state transitions, execution-history bytes) and once per run, and what a dense run does per job
(Lambda invocations, item reads, PutEvents entries, deletes). Lambda duration cannot be measured offline; it is
the one assumption, stated with its figure.
"""

from __future__ import annotations

from dataclasses import dataclass

# https://aws.amazon.com/step-functions/pricing/ — Express: requests, and duration billed per 100 ms at the
# memory used, in 64-MB increments (a dispatcher run's data stays far inside the first one).
EXPRESS_PER_REQUEST = 1.00 / 1e6
EXPRESS_PER_GB_SECOND = 0.00001667
EXPRESS_MEMORY_GB = 64 / 1024
# https://aws.amazon.com/lambda/pricing/ — Arm.
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000133334
# https://aws.amazon.com/dynamodb/pricing/on-demand/ — per write and read request unit (1 KB / 4 KB; a strongly
# consistent read of up to 4 KB is one unit, a transactional write two).
DYNAMODB_PER_WRU = 0.625 / 1e6
DYNAMODB_PER_RRU = 0.125 / 1e6
# https://aws.amazon.com/eventbridge/pricing/ — custom events, per 64 KB chunk; Scheduler per invocation.
PUT_EVENTS_PER_EVENT = 1.00 / 1e6
EVENTBRIDGE_SCHEDULER_PER_INVOCATION = 1.00 / 1e6
# https://aws.amazon.com/cloudwatch/pricing/ — logs ingested (Express execution history at level ALL) and
# PutMetricData requests.
LOGS_PER_GB = 0.50
PUT_METRIC_DATA_PER_REQUEST = 0.01 / 1000

SECONDS_PER_MONTH = 30 * 24 * 3600
# The assumption: the publish function's duration for a page, and its memory (infra/publisher.py).
LAMBDA_SECONDS_PER_INVOKE = 0.4
LAMBDA_MEMORY_GB = 256 / 1024
# A log event per history event: CloudWatch counts the JSON line, with its envelope.
LOG_BYTES_PER_EVENT_OVERHEAD = 250


@dataclass(frozen=True)
class Profile:
    """Counts measured on the local cloud (see benchmarks/lateness.py)."""

    run_seconds: float  # how long a run lives: its look-ahead window and the catch-up before it
    runs_per_month: float
    per_tick_queries: float  # Query calls per tick of an idle window (one per partition it spans)
    per_tick_transitions: float
    per_tick_history_bytes: float
    per_tick_history_events: float
    per_run_reads: float  # GetItem, catch-up Query calls
    per_run_writes: float  # claim, cursor, run record
    per_run_transitions: float
    per_run_history_bytes: float
    per_run_history_events: float
    ticks_per_run: float
    # per job, from a dense run
    invokes_per_job: float
    item_reads_per_job: float  # BatchGetItem keys (strongly consistent, each under 4 KB)
    events_per_job: float
    deletes_per_job: float
    query_rru_per_job: float


def _logs(events: float, data_bytes: float) -> float:
    return (data_bytes + events * LOG_BYTES_PER_EVENT_OVERHEAD) / 1e9 * LOGS_PER_GB


def idle_per_month(profile: Profile, *, logging_all: bool = True) -> dict[str, float]:
    """Cost of a month with no jobs, by item."""
    runs = profile.runs_per_month
    ticks = profile.ticks_per_run * runs
    costs = {
        "Express requests": runs * EXPRESS_PER_REQUEST,
        "Express duration (64 MB)": runs * profile.run_seconds * EXPRESS_MEMORY_GB * EXPRESS_PER_GB_SECOND,
        "DynamoDB reads (ticks, catch-up)": (ticks * profile.per_tick_queries + runs * profile.per_run_reads)
        * DYNAMODB_PER_RRU,
        "DynamoDB writes (claim, cursor, run record)": runs * profile.per_run_writes * DYNAMODB_PER_WRU,
        "CloudWatch PutMetricData": runs * PUT_METRIC_DATA_PER_REQUEST,
    }
    if logging_all:
        events = ticks * profile.per_tick_history_events + runs * profile.per_run_history_events
        data = ticks * profile.per_tick_history_bytes + runs * profile.per_run_history_bytes
        costs["CloudWatch Logs (execution history, level ALL)"] = _logs(events, data)
    return costs


def per_million_jobs(profile: Profile) -> dict[str, float]:
    """What a million jobs add, by item: writing them (one unit each, up to 1 KB), publishing and deleting."""
    jobs = 1e6
    invokes = profile.invokes_per_job * jobs
    return {
        "DynamoDB write to schedule (1 WRU)": jobs * DYNAMODB_PER_WRU,
        "DynamoDB reads (query pages, item reads)": (profile.query_rru_per_job + profile.item_reads_per_job)
        * jobs
        * DYNAMODB_PER_RRU,
        "EventBridge PutEvents": profile.events_per_job * jobs * PUT_EVENTS_PER_EVENT,
        "DynamoDB deletes": profile.deletes_per_job * jobs * DYNAMODB_PER_WRU,
        "Lambda requests": invokes * LAMBDA_PER_REQUEST,
        f"Lambda duration ({LAMBDA_SECONDS_PER_INVOKE} s a page, assumed)": invokes
        * LAMBDA_SECONDS_PER_INVOKE
        * LAMBDA_MEMORY_GB
        * LAMBDA_PER_GB_SECOND,
    }


def report(profile: Profile) -> list[str]:
    lines = []
    for title, costs in (
        ("idle, per month (execution logging ALL)", idle_per_month(profile)),
        ("per million jobs", per_million_jobs(profile)),
    ):
        lines.append(f"{title}: ${sum(costs.values()):.2f}")
        lines += [f"    {name:<52} ${value:8.4f}" for name, value in costs.items()]
    quiet = sum(idle_per_month(profile, logging_all=False).values())
    lines.append(f"idle, per month with execution logging at ERROR: ${quiet:.2f}")
    lines.append(
        f"EventBridge Scheduler, for comparison: ${EVENTBRIDGE_SCHEDULER_PER_INVOCATION * 1e6:.2f} per million"
    )
    return lines
