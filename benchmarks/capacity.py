"""Capacity model: how many jobs can be due in one minute and all be published within it, and which limit binds.

The model takes counts MEASURED on the local cloud, not typed in: one dispatcher run over ``--jobs`` jobs due in the
same second, with the knobs given on the command line. It combines them with the AWS figures in ``FIGURES`` (each
with its source; "assumed" where no AWS page states it) and prints, for the knobs in force, the jobs per second each
limit allows, the most jobs that can be due in one minute and all be published within that minute, and the limit
that binds.

    .venv/bin/python -m benchmarks.capacity [--jobs 2000] [--page-size 100] [--map-concurrency 2] [--shards 1]
        [-c knob=value ...] [--detail-bytes 200] [--region us-east-1] [--figures]
    .venv/bin/python -m benchmarks.capacity --table     # markdown table: default knobs and the burst setting

What is measured (one fresh local cloud per knob setting)
---------------------------------------------------------
Three replayed runs (``LocalCloud.dispatch(now=...)`` in the past, so that nothing waits for the real clock), one
second apart, on the same cloud: a first run (it records the knobs in the table, as on AWS, for writers to find),
an idle run, then the jobs are written with ``Scheduler.schedule_many`` (all due in the same second, just before the
third run's window: its catch-up drains them) and the loaded run. The idle and the loaded run have the same shape
(a window of one second after a run), so loaded minus idle is what the jobs cost (for the critical path, the one
empty visit the idle run paid each partition that now holds jobs is added back, so that those partitions count whole):

- API calls by kind (``onthedot.local.metering``): Query, Invoke, BatchGetItem, PutEvents, BatchWriteItem,
  TransactWriteItems, per 1,000 jobs;
- state transitions (``StateEntered`` events of the execution history), in all and per state name, and the largest
  state input or output in bytes (of the loaded run, whole);
- pages: the ``lambda:invoke`` Task of the page loop runs once per page that holds keys;
- the partitions (distinct ``pk``) that hold the jobs, and the size of a job item (DynamoDB's sizing rules);
- wall times: writing the jobs (``schedule_many``) and the loaded run, on this machine (printed, not modelled).

The critical path of one page (derivation)
------------------------------------------
The definition is read from the running cloud. The page loop is the Map whose iteration holds the publish
function's ``lambda:invoke`` Task (``Drain``); its iterations are partitions, drained one page after another, so a
partition's pages are strictly sequential, and ``min(MaxConcurrency, 40, partitions holding jobs)`` partitions are
drained at once (the "lanes"). Within one page, from the measured counts divided by the pages:

- each state of the loop visited per page is one sequential state transition; each Task among them is one round
  trip of its service (``Query due jobs``: about one Query a page, plus one to find a partition empty);
- a Map nested in the loop (``Delete published``, ``Advance series``) runs its iterations ``c = MaxConcurrency`` at a
  time: it adds ``ceil(iterations per page / c)`` rounds, each as deep as one iteration (its states, and its Tasks as
  round trips: ``Delete chunk`` is one BatchWriteItem);
- the Invoke is one round trip, and inside the function ``ceil(BatchGetItem per page / parallel reads)`` read rounds
  and ``ceil(PutEvents per page / PARALLEL_PUTS)`` put rounds follow one another (``functions/publish/publisher.py``).

So, for one-time jobs, round trips per page = Query + Invoke + ceil(gets / parallel reads) + ceil(puts / parallel puts)
+ ceil(batch writes / delete concurrency) (+ transaction rounds for recurring jobs). The page's latency is every
round trip at its service's latency plus every sequential state at the Express per-state overhead (``FIGURES``; a low
and a high figure, so every result is a range: fast .. slow). The model evaluates a FULL page (``pageSize`` jobs, as a
burst that matters fills every page): calls that scale with the jobs (gets, puts, deletes, nested iterations) are
scaled from the measured per-job rate, those per page (Query, Invoke, the loop's states) are kept as measured; a
measurement with part-filled pages therefore errs on the slow side. (moto answers a page that ends exactly at the
partition's last job without LastEvaluatedKey; DynamoDB may return one, and then one more empty Query follows.)

Limits (jobs per second)
------------------------
- DynamoDB per partition: a partition serves 1,000 write and 3,000 read units a second, or a linear combination;
  a job costs one delete (WRU by item size) and one strongly consistent read plus its share of the Query (RRU by
  item size): lanes / (WRU/1000 + RRU/3000). With shards the jobs of one bucket spread over ``shards`` partitions.
  Until the writers spread a bucket's jobs over the shards (the ``shards`` knob alone does not), shards are
  modelled: partitions holding jobs = measured x shards.
- DynamoDB table: 40,000 write and 40,000 read request units a second (on-demand, default table quota).
- EventBridge PutEvents: requests per second in the region x entries per request (measured).
- Lambda: concurrency x jobs per page / time the function is busy per page.
- Step Functions: lanes x jobs per page / page latency (the inline Map runs at most 40 iterations at once).
- A state payload at or over 256 KiB stops the partition: capacity 0.
The most jobs due in one minute = the lowest of these x (60 s - one page's latency: the last page must finish).
Not binding, printed: the 5-minute Express limit (jobs one run can publish), StartExecution (one a minute),
EventBridge target invocations (delivery to your rules is delayed, not refused, above it) and a new on-demand
table's initial throughput (4,000 writes a second until the table has scaled, or unless warm throughput is set).

Scheduling: jobs due in the same bucket are written to ``shards`` partitions: min(shards x 1,000 WCU / WRU per job,
40,000 / WRU per job) jobs per second; one writer sending BatchWriteItem requests one after another manages 25 jobs a
round trip.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

# -- AWS figures: every constant the model uses, with its source ---------------------------------------------------

DDB_PARTITION = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html; "
    "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb (or a linear combination of both)"
)
DDB_QUOTAS = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html (Throughput default quotas)"
)
DDB_ON_DEMAND = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html "
    "(Initial throughput; pre-warming-on-demand-capacity-mode.html)"
)
DDB_UNITS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html"
EB_QUOTAS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
SFN_QUOTAS = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
SFN_INLINE_MAP = "https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html"


@dataclass(frozen=True)
class Figure:
    """An AWS figure: ``low``..``high`` (equal for a quota), its unit, where it comes from, and whether an AWS page
    states it ("documented") or it is this model's assumption ("assumed")."""

    low: float
    high: float
    unit: str
    source: str
    status: str = "documented"
    regional: Mapping[str, float] = field(default_factory=dict)  # region -> value, "other" for the rest

    @property
    def value(self) -> float:
        return self.low

    def in_region(self, region: str) -> float:
        return self.regional.get(region, self.regional.get("other", self.low)) if self.regional else self.low


FIGURES: dict[str, Figure] = {
    # Latencies (seconds): low..high of one round trip, warm, in the same region.
    "latency.query": Figure(0.005, 0.010, "s per Query", f"{DDB_ON_DEMAND} ('single-digit millisecond latency')"),
    "latency.batch_get": Figure(0.005, 0.010, "s per BatchGetItem (100 keys)", "assumed: as a Query", "assumed"),
    "latency.batch_write": Figure(0.005, 0.010, "s per BatchWriteItem (25)", "assumed: as a Query", "assumed"),
    "latency.transact": Figure(0.010, 0.025, "s per TransactWriteItems", "assumed: two-phase, slower", "assumed"),
    "latency.put_events": Figure(0.020, 0.040, "s per PutEvents (10 entries)", "assumed: no AWS figure", "assumed"),
    "latency.invoke": Figure(0.015, 0.030, "s Lambda invoke overhead, warm", "assumed: no AWS figure", "assumed"),
    "latency.state": Figure(0.002, 0.010, "s per Express state transition", "assumed: no AWS figure", "assumed"),
    # DynamoDB
    "dynamodb.partition_wcu": Figure(1000, 1000, "write units/s per partition", DDB_PARTITION),
    "dynamodb.partition_rcu": Figure(3000, 3000, "read units/s per partition", DDB_PARTITION),
    "dynamodb.table_wru": Figure(40_000, 40_000, "write request units/s per on-demand table", DDB_QUOTAS),
    "dynamodb.table_rru": Figure(40_000, 40_000, "read request units/s per on-demand table", DDB_QUOTAS),
    "dynamodb.new_table_wru": Figure(4000, 4000, "writes/s a new on-demand table sustains at first", DDB_ON_DEMAND),
    "dynamodb.new_table_rru": Figure(12_000, 12_000, "reads/s a new on-demand table sustains at first", DDB_ON_DEMAND),
    "dynamodb.write_unit_bytes": Figure(1024, 1024, "bytes per write unit", DDB_UNITS),
    "dynamodb.read_unit_bytes": Figure(4096, 4096, "bytes per strongly consistent read unit", DDB_UNITS),
    "dynamodb.batch_write_items": Figure(25, 25, "puts or deletes per BatchWriteItem", DDB_UNITS),
    # EventBridge (Custom Event Bus - Classic, the bus onthedot publishes to)
    "eventbridge.put_events_tps": Figure(
        400,
        400,
        "PutEvents requests/s per account and region (adjustable)",
        EB_QUOTAS,
        regional={
            "us-east-1": 10_000,
            "us-west-2": 10_000,
            "eu-west-1": 10_000,
            "us-east-2": 2400,
            "eu-central-1": 2400,
            "eu-south-2": 2400,
            "us-west-1": 1200,
            "ap-northeast-1": 1200,
            "ap-southeast-1": 1200,
            "ap-southeast-2": 1200,
            "eu-west-2": 1200,
            "other": 400,
        },
    ),
    "eventbridge.invocations_tps": Figure(
        750,
        750,
        "target invocations/s (an event matching a rule, sent to a target; throttled ones are delayed)",
        EB_QUOTAS,
        regional={
            "us-east-1": 18_750,
            "us-west-2": 18_750,
            "eu-west-1": 18_750,
            "us-east-2": 4500,
            "eu-central-1": 4500,
            "eu-south-2": 4500,
            "us-west-1": 2250,
            "ap-northeast-1": 2250,
            "ap-southeast-1": 2250,
            "ap-southeast-2": 2250,
            "eu-west-2": 2250,
            "other": 750,
        },
    ),
    "eventbridge.entries_per_put": Figure(10, 10, "entries per PutEvents request", EB_QUOTAS),
    # Lambda
    "lambda.concurrency": Figure(1000, 1000, "concurrent executions per region (adjustable)", LAMBDA_QUOTAS),
    # Step Functions, Express
    "sfn.inline_map_concurrency": Figure(40, 40, "concurrent iterations of an inline Map", SFN_INLINE_MAP),
    "sfn.express_seconds": Figure(300, 300, "s an Express execution may run", SFN_QUOTAS),
    "sfn.payload_bytes": Figure(262_144, 262_144, "bytes of a state's input or output (256 KiB)", SFN_QUOTAS),
    "sfn.express_start_rate": Figure(6000, 6000, "Express StartExecution/s (bucket 6,000, refill 6,000)", SFN_QUOTAS),
    # Express StateTransition throttling: "Unlimited" (SFN_QUOTAS), so no row for it.
}

LATENCY_KINDS = {  # a Task's resource (suffix) -> the latency figure of its round trip, and the API call it makes
    "dynamodb:query": ("latency.query", "Query"),
    "lambda:invoke": ("latency.invoke", "Invoke"),
    "dynamodb:batchWriteItem": ("latency.batch_write", "BatchWriteItem"),
    "dynamodb:transactWriteItems": ("latency.transact", "TransactWriteItems"),
    "dynamodb:batchGetItem": ("latency.batch_get", "BatchGetItem"),
}
LATENCY_KINDS_BY_FIGURE = dict(LATENCY_KINDS.values())  # latency figure -> the API call's name
API_KINDS = {  # the API calls the model reports, as the metering counts them
    "Query": "dynamodb:Query",
    "Invoke": "awslambda:Invoke",
    "BatchGetItem": "dynamodb:BatchGetItem",
    "PutEvents": "events:PutEvents",
    "BatchWriteItem": "dynamodb:BatchWriteItem",
    "TransactWriteItems": "dynamodb:TransactWriteItems",
}
MINUTE = 60.0


@dataclass(frozen=True)
class Latencies:
    """Seconds per round trip (and per state transition): one end of the ``latency.*`` figures."""

    name: str
    seconds: Mapping[str, float]

    @classmethod
    def of(cls, end: str) -> Latencies:
        return cls(end, {k: getattr(f, end) for k, f in FIGURES.items() if k.startswith("latency.")})

    def __getitem__(self, key: str) -> float:
        return self.seconds[key]


FAST, SLOW = Latencies.of("low"), Latencies.of("high")


# -- The shape of one page (from the definition and the measured counts) -------------------------------------------


@dataclass(frozen=True)
class Stage:
    """A Map nested in the page loop: its iterations run ``concurrency`` at a time."""

    name: str
    iterations_per_job: float
    concurrency: int
    states_per_iteration: float
    trips_per_iteration: Mapping[str, float]  # latency figure -> round trips per iteration


@dataclass(frozen=True)
class PagePath:
    """What one page costs on its partition's critical path, measured; ``at(jobs)`` gives a page of ``jobs``."""

    measured_jobs_per_page: float
    states: float  # sequential state transitions per page in the loop itself (outside nested Maps)
    trips: Mapping[str, float]  # latency figure -> round trips per page (the loop's own Tasks)
    stages: tuple[Stage, ...]
    gets_per_job: float  # BatchGetItem requests the function makes per job
    puts_per_job: float  # PutEvents requests per job
    parallel_reads: int
    parallel_puts: int

    def at(self, jobs: float) -> Page:
        """A page of ``jobs`` jobs: per-job counts scaled, per-page counts as measured, rounds rounded up."""
        states = self.states
        trips: defaultdict[str, float] = defaultdict(float, self.trips)
        rounds: dict[str, tuple[float, int, int]] = {}
        for stage in self.stages:
            iterations = stage.iterations_per_job * jobs
            stage_rounds = _rounds(iterations, stage.concurrency)
            rounds[stage.name] = (iterations, stage.concurrency, stage_rounds)
            states += stage_rounds * stage.states_per_iteration
            for kind, count in stage.trips_per_iteration.items():
                trips[kind] += stage_rounds * count
        gets, puts = self.gets_per_job * jobs, self.puts_per_job * jobs
        reads = (gets, self.parallel_reads, _rounds(gets, self.parallel_reads))
        return Page(
            jobs, states, dict(trips), rounds, reads, (puts, self.parallel_puts, _rounds(puts, self.parallel_puts))
        )


def _rounds(requests: float, at_once: int) -> int:
    """Rounds of ``at_once`` requests for ``requests`` (a per-job rate times the jobs: a hair over a whole number from
    float error counts as that number)."""
    whole = math.ceil(requests - 1e-6) if requests > 0 else 0
    return math.ceil(whole / at_once)


@dataclass(frozen=True)
class Page:
    jobs: float
    states: float
    trips: Mapping[str, float]  # latency figure -> sequential round trips (the Invoke's inside not included)
    stage_rounds: Mapping[str, tuple[float, int, int]]  # stage -> (iterations, concurrency, rounds)
    reads: tuple[float, int, int]  # (BatchGetItem requests, in parallel, rounds) inside the function
    puts: tuple[float, int, int]  # (PutEvents requests, in parallel, rounds)

    @property
    def round_trips(self) -> float:
        return sum(self.trips.values()) + self.reads[2] + self.puts[2]

    def function_seconds(self, latency: Latencies) -> float:
        """How long the publish function is busy with the page (its invoke overhead included)."""
        return (
            latency["latency.invoke"]
            + self.reads[2] * latency["latency.batch_get"]
            + self.puts[2] * latency["latency.put_events"]
        )

    def seconds(self, latency: Latencies) -> float:
        """The page's latency on its partition's critical path."""
        trips = sum(count * latency[kind] for kind, count in self.trips.items() if kind != "latency.invoke")
        invokes = self.trips.get("latency.invoke", 0.0)
        return self.states * latency["latency.state"] + trips + invokes * self.function_seconds(latency)


def _concurrency(value: Any, default: int) -> int:
    """A Map's MaxConcurrency as rendered: a number, or a JSONata expression around one ("{% 10 %}"); 0 = no limit."""
    if isinstance(value, int):
        number = value
    else:
        found = re.search(r"\d+", str(value or ""))
        number = int(found.group()) if found else 0
    return number if number > 0 else default


def _latency_kind(state: Mapping[str, Any]) -> str | None:
    resource = str(state.get("Resource", ""))
    for suffix, (kind, _) in LATENCY_KINDS.items():
        if resource.endswith(suffix):
            return kind
    return None


def find_page_loop(states: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The Map whose iteration invokes the publish function directly: the page loop (``Drain``)."""
    for name, state in states.items():
        if state.get("Type") != "Map":
            continue
        inner = state.get("ItemProcessor") or state.get("Iterator") or {}
        if any(_latency_kind(s) == "latency.invoke" for s in inner.get("States", {}).values()):
            return name, state
        try:
            return find_page_loop(inner.get("States", {}))
        except LookupError:
            continue
    raise LookupError("no Map state invokes the publish function")


def _stage(name: str, state: Mapping[str, Any], entered: Mapping[str, float], jobs: float) -> Stage:
    inner = state.get("ItemProcessor") or state.get("Iterator") or {}
    inner_states: Mapping[str, Any] = inner.get("States", {})
    iterations = entered.get(inner.get("StartAt", ""), 0.0)
    states = sum(entered.get(n, 0.0) for n in inner_states) / iterations if iterations else 0.0
    trips: defaultdict[str, float] = defaultdict(float)
    for inner_name, inner_state in inner_states.items():
        kind = _latency_kind(inner_state)
        if kind and iterations:
            trips[kind] += entered.get(inner_name, 0.0) / iterations
    limit = int(FIGURES["sfn.inline_map_concurrency"].value)
    concurrency = min(_concurrency(state.get("MaxConcurrency"), limit), limit)
    return Stage(name, iterations / jobs if jobs else 0.0, concurrency, states, dict(trips))


def page_path(
    loop: Mapping[str, Any],
    entered: Mapping[str, float],
    calls: Mapping[str, float],
    jobs: float,
    *,
    idle: Mapping[str, float] | None = None,
    partitions: int = 0,
    parallel_reads: int,
    parallel_puts: int,
) -> PagePath:
    """The page loop's shape from the definition (``loop``: the page-loop Map) and what the jobs added: states
    entered (``entered``, by name) and API calls (``calls``, by kind), over ``jobs`` jobs.

    The idle run visited the ``partitions`` that now hold the jobs too, once each, and found them empty: loaded
    minus idle lacks that visit (its Query, its checks). It is added back from the idle run's states per iteration
    (``idle``), so that the loop's counts are those of the partitions with jobs, whole."""
    inner = loop.get("ItemProcessor") or loop.get("Iterator") or {}
    loop_states: Mapping[str, Any] = inner.get("States", {})
    idle = idle or {}
    idle_iterations = idle.get(inner.get("StartAt", ""), 0.0)

    def visited(name: str) -> float:
        empty = partitions * idle.get(name, 0.0) / idle_iterations if idle_iterations else 0.0
        return entered.get(name, 0.0) + empty

    pages = sum(visited(name) for name, s in loop_states.items() if _latency_kind(s) == "latency.invoke")
    if not pages:
        raise ValueError("the loaded run published no page")
    states = 0.0
    trips: defaultdict[str, float] = defaultdict(float)
    stages: list[Stage] = []
    for name, state in loop_states.items():
        visits = visited(name) / pages
        states += visits
        kind = _latency_kind(state)
        if kind:
            trips[kind] += visits
        if state.get("Type") == "Map":
            stages.append(_stage(name, state, entered, jobs))
    return PagePath(
        measured_jobs_per_page=jobs / pages,
        states=states,
        trips=dict(trips),
        stages=tuple(stages),
        gets_per_job=calls.get("BatchGetItem", 0.0) / jobs,
        puts_per_job=calls.get("PutEvents", 0.0) / jobs,
        parallel_reads=parallel_reads,
        parallel_puts=parallel_puts,
    )


# -- What a run measured -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Knobs:
    shards: int = 1
    page_size: int = 100
    map_concurrency: int = 2
    extra: tuple[tuple[str, str], ...] = ()  # any other knob, as -c name=value

    def flags(self) -> str:
        text = f"--page-size {self.page_size} --map-concurrency {self.map_concurrency} --shards {self.shards}"
        return text + "".join(f" -c {name}={value}" for name, value in self.extra)

    def label(self) -> str:
        extra = "".join(f", {name}={value}" for name, value in self.extra)
        return f"shards={self.shards}, pageSize={self.page_size}, mapConcurrency={self.map_concurrency}{extra}"


@dataclass(frozen=True)
class Measurement:
    knobs: Knobs
    jobs: int
    shards_native: bool  # Settings has the knob: the local run spread the jobs over the shards itself
    calls: Mapping[str, float]  # API calls the jobs added, by kind (API_KINDS)
    transitions: int  # state transitions the jobs added
    largest_payload: int  # bytes, the loaded run's largest state input or output
    partitions: int  # distinct pk holding the jobs, as written
    item_bytes: int  # a job item's size by DynamoDB's rules
    lanes_limit: int  # the page loop's MaxConcurrency, as rendered
    path: PagePath
    published: int
    left: int
    status: str
    run_seconds: float  # wall time of the loaded run on this machine
    write_seconds: float  # wall time of schedule_many on this machine
    write_calls: float  # BatchWriteItem requests schedule_many sent

    @property
    def modelled_partitions(self) -> int:
        """Partitions the jobs of one bucket occupy: measured, times the shards when the run could not shard."""
        return self.partitions if self.shards_native else self.partitions * self.knobs.shards

    def per_1000(self, count: float) -> float:
        return 1000 * count / self.jobs


def dynamodb_size(value: Any) -> int:
    """Bytes of an attribute value by DynamoDB's item size rules (close enough for capacity units)."""
    kind, inner = next(iter(value.items()))
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        digits = str(Decimal(str(inner)).normalize()).lstrip("-").replace(".", "")
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + dynamodb_size(v) + 1 for name, v in inner.items())
    if kind == "L":
        return 3 + sum(dynamodb_size(v) + 1 for v in inner)
    return sum(len(str(v).encode()) for v in inner)  # SS, NS, BS


def item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + dynamodb_size(value) for name, value in item.items())


# -- The model -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    name: str
    jobs_per_second: float  # math.inf: not a bound on the rate
    formula: str
    binding: bool = True  # False: printed, but no bound on publishing within the minute


@dataclass(frozen=True)
class Units:
    """Capacity units one job costs when it is dispatched (and written)."""

    write: float  # the delete: WRU
    read: float  # the item read (BatchGetItem, strongly consistent) and its share of the page's Query: RRU
    put: float  # writing it (schedule): WRU

    @classmethod
    def of(cls, measurement: Measurement, page: Page) -> Units:
        write_unit = FIGURES["dynamodb.write_unit_bytes"].value
        read_unit = FIGURES["dynamodb.read_unit_bytes"].value
        size = measurement.item_bytes
        item_writes = math.ceil(size / write_unit)
        item_reads = math.ceil(size / read_unit)
        queries = page.trips.get("latency.query", 0.0)
        query_units = queries * max(1, math.ceil(page.jobs * size / read_unit))  # a Query rounds its whole read up
        return cls(item_writes, item_reads + query_units / page.jobs, item_writes)


def lanes(measurement: Measurement) -> int:
    """Partitions drained at once: the page loop's MaxConcurrency, the inline Map's 40, the partitions with jobs."""
    inline = int(FIGURES["sfn.inline_map_concurrency"].value)
    return max(1, min(measurement.lanes_limit, inline, measurement.modelled_partitions))


def limits(measurement: Measurement, latency: Latencies, region: str) -> list[Limit]:
    page = measurement.path.at(measurement.knobs.page_size)
    units = Units.of(measurement, page)
    n = lanes(measurement)
    wcu, rcu = FIGURES["dynamodb.partition_wcu"].value, FIGURES["dynamodb.partition_rcu"].value
    tps = FIGURES["eventbridge.put_events_tps"].in_region(region)
    entries = measurement.jobs / measurement.calls["PutEvents"] if measurement.calls.get("PutEvents") else 0.0
    concurrency = FIGURES["lambda.concurrency"].value
    table_w, table_r = FIGURES["dynamodb.table_wru"].value, FIGURES["dynamodb.table_rru"].value
    payload_limit = FIGURES["sfn.payload_bytes"].value
    page_seconds, busy = page.seconds(latency), page.function_seconds(latency)
    return [
        Limit(
            "DynamoDB per partition",
            n / (units.write / wcu + units.read / rcu),
            f"{n} partitions at once / ({units.write:g} WRU/{wcu:,.0f} + {units.read:.3f} RRU/{rcu:,.0f}) per job",
        ),
        Limit("DynamoDB table writes", table_w / units.write, f"{table_w:,.0f} WRU/s / {units.write:g} WRU per job"),
        Limit("DynamoDB table reads", table_r / units.read, f"{table_r:,.0f} RRU/s / {units.read:.3f} RRU per job"),
        Limit(
            "EventBridge PutEvents",
            tps * entries if entries else math.inf,
            f"{tps:,.0f} requests/s ({region}) x {entries:.2f} entries per request",
        ),
        Limit(
            "Lambda concurrency",
            concurrency * page.jobs / busy,
            f"{concurrency:,.0f} x {page.jobs:,.0f} jobs / {busy:.3f} s busy per page",
        ),
        Limit(
            "Step Functions Map lanes",
            n * page.jobs / page_seconds,
            f"{n} lanes x {page.jobs:,.0f} jobs / {page_seconds:.3f} s per page",
        ),
        Limit(
            "State payload 256 KiB",
            0.0 if measurement.largest_payload >= payload_limit else math.inf,
            f"largest {measurement.largest_payload:,} bytes of {payload_limit:,.0f}",
        ),
    ]


@dataclass(frozen=True)
class Capacity:
    latency: str
    limits: list[Limit]
    page_seconds: float
    rate: float  # jobs/s: the lowest binding limit
    binding: str
    per_minute: float  # jobs due in one minute, all published within it
    per_run: float  # jobs one run can publish before Express's 5 minutes


def capacity(measurement: Measurement, latency: Latencies, region: str) -> Capacity:
    rows = limits(measurement, latency, region)
    bound = min((row for row in rows if row.binding), key=lambda row: row.jobs_per_second)
    page_seconds = measurement.path.at(measurement.knobs.page_size).seconds(latency)
    usable = max(0.0, MINUTE - page_seconds)
    express = FIGURES["sfn.express_seconds"].value
    return Capacity(
        latency.name,
        rows,
        page_seconds,
        bound.jobs_per_second,
        bound.name,
        bound.jobs_per_second * usable,
        bound.jobs_per_second * max(0.0, express - page_seconds),
    )


def notes(measurement: Measurement, rate: float, region: str) -> list[str]:
    """The limits that do not bound publishing within the minute, with their figures."""
    page = measurement.path.at(measurement.knobs.page_size)
    units = Units.of(measurement, page)
    invocations = FIGURES["eventbridge.invocations_tps"].in_region(region)
    new_w, new_r = FIGURES["dynamodb.new_table_wru"].value, FIGURES["dynamodb.new_table_rru"].value
    starts = FIGURES["sfn.express_start_rate"].value
    cold = min(new_w / units.write, new_r / units.read)
    return [
        f"EventBridge target invocations: {invocations:,.0f}/s ({region}) per rule target; at {rate:,.0f} jobs/s a "
        f"worker rule with one target is {'within it' if rate <= invocations else 'over it: delivery is delayed'}",
        f"a NEW on-demand table sustains {new_w:,.0f} WRU/s and {new_r:,.0f} RRU/s at first: {cold:,.0f} jobs/s "
        "until it has served twice that (or with warm throughput set before the burst)",
        f"StartExecution: one run a minute against {starts:,.0f}/s; Express state transitions are not throttled",
    ]


def delivered_in_minute(result: Capacity, region: str) -> float:
    """Of the jobs published within the minute, those EventBridge also delivers to one rule target within it."""
    invocations = FIGURES["eventbridge.invocations_tps"].in_region(region)
    return min(result.rate, invocations) * result.per_minute / result.rate if result.rate else 0.0


def write_ceiling(measurement: Measurement) -> tuple[float, str]:
    """Jobs per second that can be written (scheduled) for one bucket: its partitions, and the table."""
    page = measurement.path.at(measurement.knobs.page_size)
    units = Units.of(measurement, page)
    wcu, table = FIGURES["dynamodb.partition_wcu"].value, FIGURES["dynamodb.table_wru"].value
    partitions = measurement.modelled_partitions
    by_partition, by_table = partitions * wcu / units.put, table / units.put
    formula = (
        f"min({partitions} partitions x {wcu:,.0f} WCU / {units.put:g} WRU = {by_partition:,.0f}, "
        f"table {table:,.0f} / {units.put:g} = {by_table:,.0f})"
    )
    return min(by_partition, by_table), formula


# -- Measuring on the local cloud ----------------------------------------------------------------------------------


def _parallel_reads(publisher: Any) -> int:
    """BatchGetItem requests the publish function keeps in flight (1 while it reads one after another)."""
    for name in ("PARALLEL_READS", "PARALLEL_GETS", "READ_CONCURRENCY", "PARALLEL_BATCH_GETS"):
        if isinstance(getattr(publisher, name, None), int):
            return int(getattr(publisher, name))
    return 1


def _settings(knobs: Knobs) -> tuple[Any, bool]:
    from onthedot.deploy.settings import Settings

    names = Settings.knob_names()
    # logLevel WARNING: the publish function's line per page would drown the report (and counts nothing).
    context: dict[str, Any] = {"pageSize": knobs.page_size, "mapConcurrency": knobs.map_concurrency}
    if "logLevel" in names:
        context["logLevel"] = "WARNING"
    native = "shards" in names
    if native:
        context["shards"] = knobs.shards
    for name, value in knobs.extra:
        if name not in names:
            raise SystemExit(f"unknown knob {name!r}; knobs: {', '.join(names)}")
        context[name] = value
    return Settings.from_context({k: str(v) if not isinstance(v, str) else v for k, v in context.items()}), native


def _history(cloud: Any, execution_arn: str) -> Counter[str]:
    entered: Counter[str] = Counter()
    history = cloud.client("stepfunctions").get_paginator("get_execution_history")
    for page in history.paginate(executionArn=execution_arn):
        for event in page["events"]:
            details = event.get("stateEnteredEventDetails")
            if event["type"].endswith("StateEntered") and details:
                entered[details["name"]] += 1
    return entered


def _job_items(cloud: Any) -> list[dict[str, Any]]:
    from onthedot.core import keys

    paginator = cloud.client("dynamodb").get_paginator("scan")
    pages = paginator.paginate(
        TableName=cloud.names.table,
        FilterExpression="begins_with(pk, :jobs)",
        ExpressionAttributeValues={":jobs": {"S": keys.PK_PREFIX}},
    )
    return [item for page in pages for item in page["Items"]]


def _bucket_of(pk: str) -> str:
    """The bucket (shard 0) key of a partition key, whatever its shard."""
    from onthedot.core import keys

    split = getattr(keys, "split_partition_key", None)
    try:
        return str(split(pk)[0]) if split else pk
    except ValueError:
        return pk


def _kinds(calls: Any) -> dict[str, float]:
    return {kind: float(calls[key]) for kind, key in API_KINDS.items()}


def measure(knobs: Knobs, jobs: int, detail_bytes: int) -> Measurement:
    """One fresh local cloud: a first run, an idle run, the jobs written, the loaded run (see the module's doc)."""
    from functions.publish import publisher
    from onthedot.client import JobRequest, Scheduler
    from onthedot.core import keys
    from onthedot.local.cloud import LocalCloud, free_port
    from onthedot.local.metering import count_api_calls

    settings, knob = _settings(knobs)
    # Counts are the point, not the clock: a large run must not be cut by the 5-minute limit on a slow machine.
    with LocalCloud(port=free_port(), settings=settings, express_limit=3600) as cloud:
        width = cloud.settings.bucketMinutes
        base = keys.bucket_start(datetime.now(UTC) - timedelta(minutes=2 * width), width)
        due = base + timedelta(minutes=1, seconds=30)  # the same second for every job, in the past by the real clock
        first, idle_at, loaded_at = (base + timedelta(minutes=2, seconds=s) for s in (0, 1, 2))
        cloud.dispatch(now=first)
        with count_api_calls() as idle_calls:
            idle = cloud.dispatch(now=idle_at)
        idle_entered = _history(cloud, idle.execution_arn)
        idle_transitions, _ = cloud.history_stats(idle.execution_arn)

        scheduler = Scheduler(
            cloud.names.table, dynamodb=cloud.client("dynamodb"), clock=lambda: due - timedelta(minutes=1)
        )
        requests = [JobRequest("capacity", {"index": i, "blob": "x" * detail_bytes}, at=due) for i in range(jobs)]
        with count_api_calls() as write_calls:
            started = time.perf_counter()
            scheduler.schedule_many(requests)
            write_seconds = time.perf_counter() - started
        items = _job_items(cloud)
        partition_keys = {item["pk"]["S"] for item in items}
        buckets = {_bucket_of(pk) for pk in partition_keys}
        sizes = sorted(item_size(item) for item in items)

        with count_api_calls() as calls:
            started = time.perf_counter()
            run = cloud.dispatch(now=loaded_at)
            run_seconds = time.perf_counter() - started
        entered = _history(cloud, run.execution_arn)
        transitions, largest = cloud.history_stats(run.execution_arn)
        left = len(_job_items(cloud))
        described = cloud.client("stepfunctions").describe_state_machine(stateMachineArn=cloud.state_machine_arn)
        definition = json.loads(described["definition"])

    added_calls = {kind: count - _kinds(idle_calls)[kind] for kind, count in _kinds(calls).items()}
    added_states = {name: float(entered[name] - idle_entered[name]) for name in entered | idle_entered}
    _, loop = find_page_loop(definition["States"])
    path = page_path(
        loop,
        added_states,
        added_calls,
        jobs,
        idle={name: float(count) for name, count in idle_entered.items()},
        partitions=len(partition_keys),
        parallel_reads=_parallel_reads(publisher),
        parallel_puts=int(publisher.PARALLEL_PUTS),
    )
    return Measurement(
        knobs=knobs,
        jobs=jobs,
        # Native only when the writers spread the jobs over the shards (the knob alone shards nothing).
        shards_native=knob and (knobs.shards <= 1 or len(partition_keys) > len(buckets)),
        calls=added_calls,
        transitions=transitions - idle_transitions,
        largest_payload=largest,
        partitions=len(partition_keys),
        item_bytes=sizes[len(sizes) // 2] if sizes else 0,
        lanes_limit=_concurrency(loop.get("MaxConcurrency"), int(FIGURES["sfn.inline_map_concurrency"].value)),
        path=path,
        published=int(run.output.get("published", 0)),
        left=left,
        status=run.status,
        run_seconds=run_seconds,
        write_seconds=write_seconds,
        write_calls=float(write_calls["dynamodb:BatchWriteItem"]),
    )


# -- Printing ------------------------------------------------------------------------------------------------------


def _rate(value: float) -> str:
    return "unbounded" if math.isinf(value) else f"{value:,.0f}"


def describe(measurement: Measurement) -> list[str]:
    m, page = measurement, measurement.path.at(measurement.knobs.page_size)
    calls = ", ".join(f"{kind} {m.per_1000(count):,.1f}" for kind, count in m.calls.items())
    shards = "" if m.shards_native else " (the jobs were not spread over shards locally: shards are modelled)"
    stages = " + ".join(
        f"{rounds} {name} round(s) ({iterations:,.1f} iterations / {concurrency} at once)"
        for name, (iterations, concurrency, rounds) in page.stage_rounds.items()
        if rounds
    )
    loop_trips = " + ".join(
        f"{count:.2f} {LATENCY_KINDS_BY_FIGURE[kind]}" for kind, count in m.path.trips.items() if count
    )
    reads, puts = page.reads, page.puts
    units = Units.of(m, page)
    write_rate = m.jobs / m.write_seconds if m.write_seconds else 0.0
    return [
        f"knobs: {m.knobs.label()}{shards}",
        f"measured on the local cloud: {m.jobs:,} jobs due in the same second; run {m.status}, published "
        f"{m.published:,}, left in the table {m.left:,}",
        f"  wall time: the run {m.run_seconds:.1f} s ({1000 * m.run_seconds / m.jobs:.2f} ms a job); writing the jobs "
        f"(schedule_many) {m.write_seconds:.1f} s = {write_rate:,.0f} jobs/s locally, "
        f"{m.per_1000(m.write_calls):,.1f} BatchWriteItem per 1,000 jobs",
        f"  API calls per 1,000 jobs: {calls}",
        f"  state transitions: {m.transitions:,} ({m.per_1000(m.transitions):,.0f} per 1,000 jobs); largest state "
        f"payload {m.largest_payload:,} bytes",
        f"  pages: {m.jobs / m.path.measured_jobs_per_page:,.0f} of {m.path.measured_jobs_per_page:,.1f} jobs; "
        f"partitions holding the jobs: {m.partitions}"
        + ("" if m.shards_native else f" (x {m.knobs.shards} shards = {m.modelled_partitions} modelled)")
        + f"; lanes (partitions drained at once): {lanes(m)}",
        f"  a job item: {m.item_bytes} bytes -> {units.write:g} WRU to delete, {units.read:.3f} RRU to read "
        f"(item and its share of the Query)",
        f"critical path of a full page ({page.jobs:,.0f} jobs): {page.round_trips:.2f} round trips one after another = "
        f"{loop_trips} [inside the Invoke: {reads[2]} BatchGetItem round(s) ({reads[0]:,.1f} requests / {reads[1]} "
        f"at once) + {puts[2]} PutEvents round(s) ({puts[0]:,.1f} / {puts[1]} at once)]"
        + (f" + {stages}" if stages else "")
        + f"; {page.states:.1f} state transitions",
        f"  page latency {page.seconds(FAST):.3f} s (fast) .. {page.seconds(SLOW):.3f} s (slow); the function busy "
        f"{page.function_seconds(FAST):.3f} .. {page.function_seconds(SLOW):.3f} s",
    ]


def report(measurement: Measurement, region: str) -> list[str]:
    fast, slow = capacity(measurement, FAST, region), capacity(measurement, SLOW, region)
    lines = describe(measurement)
    lines.append(f"limits in jobs per second ({region}; slow latencies, fast in brackets):")
    for row_slow, row_fast in zip(slow.limits, fast.limits, strict=True):
        mark = " <- binds" if row_slow.name == slow.binding else ""
        lines.append(
            f"  {row_slow.name:<26} {_rate(row_slow.jobs_per_second):>12} ({_rate(row_fast.jobs_per_second)})"
            f"  {row_slow.formula}{mark}"
        )
    lines.append(
        f"  {'Express 5 minutes':<26} a run can publish {slow.per_run:,.0f} ({fast.per_run:,.0f}) jobs before "
        "it is stopped: not a rate; the minute is the stricter bound"
    )
    lines += [f"  not binding: {note}" for note in notes(measurement, slow.rate, region)]
    lines.append(
        f"MOST JOBS DUE IN ONE MINUTE, ALL PUBLISHED WITHIN IT: {slow.per_minute:,.0f} (slow latencies) .. "
        f"{fast.per_minute:,.0f} (fast); binding: {slow.binding}"
        + ("" if fast.binding == slow.binding else f" (fast: {fast.binding})")
    )
    delivered = delivered_in_minute(slow, region)
    lines.append(
        f"delivered within the minute to a worker rule with one target (EventBridge invocations quota, "
        f"{FIGURES['eventbridge.invocations_tps'].in_region(region):,.0f}/s): {delivered:,.0f}"
        + (" (throttled invocations are delayed, not lost)" if delivered < slow.per_minute else "")
    )
    ceiling, formula = write_ceiling(measurement)
    single = FIGURES["dynamodb.batch_write_items"].value
    lines.append(
        f"scheduling (jobs due in one bucket): AWS ceiling {ceiling:,.0f} jobs/s = {formula}; one writer sending "
        f"BatchWriteItem one after another: {single / SLOW['latency.batch_write']:,.0f}..."
        f"{single / FAST['latency.batch_write']:,.0f} jobs/s"
    )
    return lines


def markdown(measurements: Sequence[tuple[str, Measurement]], region: str) -> list[str]:
    heads = [f"{title} ({m.knobs.label()})" for title, m in measurements]
    rows: list[tuple[str, list[str]]] = []

    def row(name: str, values: list[str]) -> None:
        rows.append((name, values))

    results = [(m, capacity(m, SLOW, region), capacity(m, FAST, region)) for _, m in measurements]
    for kind in API_KINDS:
        row(f"{kind} per 1,000 jobs (measured)", [f"{m.per_1000(m.calls[kind]):,.1f}" for m, _, _ in results])
    row("state transitions per 1,000 jobs", [f"{m.per_1000(m.transitions):,.0f}" for m, _, _ in results])
    row("largest state payload", [f"{m.largest_payload:,} bytes" for m, _, _ in results])
    row("partitions drained at once", [str(lanes(m)) for m, _, _ in results])
    row(
        "round trips per page, one after another",
        [f"{m.path.at(m.knobs.page_size).round_trips:.1f}" for m, _, _ in results],
    )
    row("page latency (fast .. slow)", [f"{f.page_seconds:.3f} .. {s.page_seconds:.3f} s" for _, s, f in results])
    for index, limit in enumerate(results[0][1].limits):
        row(
            f"{limit.name}, jobs/s",
            [
                f"{_rate(s.limits[index].jobs_per_second)} ({_rate(f.limits[index].jobs_per_second)})"
                for _, s, f in results
            ],
        )
    row(
        "**jobs due in one minute, all published in it** (slow .. fast)",
        [f"**{s.per_minute:,.0f}** .. {f.per_minute:,.0f}" for _, s, f in results],
    )
    row("**binding limit**", [f"**{s.binding}**" for _, s, _ in results])
    row(
        "delivered in the minute to one rule target (slow)",
        [f"{delivered_in_minute(s, region):,.0f}" for _, s, _ in results],
    )
    row("scheduling ceiling, jobs/s", [f"{write_ceiling(m)[0]:,.0f}" for m, _, _ in results])
    row("local wall time of the run", [f"{m.run_seconds:.1f} s for {m.jobs:,} jobs" for m, _, _ in results])
    lines = [f"| ({region}; limits: slow latencies, fast in brackets) | " + " | ".join(heads) + " |"]
    lines.append("| --- |" + " --- |" * len(heads))
    lines += [f"| {name} | " + " | ".join(values) + " |" for name, values in rows]
    return lines


def figures_table() -> list[str]:
    lines = ["| figure | value | unit | status | source |", "| --- | --- | --- | --- | --- |"]
    for name, figure in FIGURES.items():
        value = f"{figure.low:g}" if figure.low == figure.high else f"{figure.low:g} .. {figure.high:g}"
        if figure.regional:
            value = ", ".join(f"{region}: {v:,.0f}" for region, v in figure.regional.items())
        lines.append(f"| {name} | {value} | {figure.unit} | {figure.status} | {figure.source} |")
    return lines


def _knob(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name, value


DEFAULT = Knobs()
BURST = Knobs(shards=32, page_size=1000, map_concurrency=40)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs due in the same second (default 2,000)")
    parser.add_argument("--page-size", type=int, default=DEFAULT.page_size)
    parser.add_argument("--map-concurrency", type=int, default=DEFAULT.map_concurrency)
    parser.add_argument("--shards", type=int, default=DEFAULT.shards)
    parser.add_argument("-c", "--knob", type=_knob, action="append", default=[], help="any other knob: name=value")
    parser.add_argument("--detail-bytes", type=int, default=200, help="size of each job's detail blob")
    parser.add_argument("--region", default="us-east-1", help="whose EventBridge quotas apply (default us-east-1)")
    parser.add_argument("--table", action="store_true", help="markdown table: the default and the burst knobs")
    parser.add_argument("--figures", action="store_true", help="print the AWS figures and their sources too")
    args = parser.parse_args(argv)

    command = f".venv/bin/python -m benchmarks.capacity --jobs {args.jobs} --detail-bytes {args.detail_bytes}"
    command += f" --region {args.region}"
    if args.table:
        measured = [
            (title, measure(knobs, args.jobs, args.detail_bytes))
            for title, knobs in (("default", DEFAULT), ("burst", BURST))
        ]
        for title, measurement in measured:
            print(f"== {title} ==")
            print("\n".join(report(measurement, args.region)))
            print()
        print("\n".join(markdown(measured, args.region)))
        print(f"\nreproduce: {command} --table")
    else:
        knobs = Knobs(args.shards, args.page_size, args.map_concurrency, tuple(args.knob))
        measured = [("", measure(knobs, args.jobs, args.detail_bytes))]
        print("\n".join(report(measured[0][1], args.region)))
        print(f"reproduce: {command} {knobs.flags()}")
    if args.figures:
        print()
        print("\n".join(figures_table()))
    failures = [
        f"{m.knobs.label()}: {m.status}, {m.published} of {m.jobs} published, {m.left} left in the table"
        for _, m in measured
        if m.status != "SUCCEEDED" or m.published != m.jobs or m.left
    ]
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
