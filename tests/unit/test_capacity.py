"""The capacity model's arithmetic (benchmarks/capacity.py) on small made-up counts: no cloud runs here."""

from __future__ import annotations

import math

import pytest

from benchmarks import capacity
from benchmarks.capacity import Knobs, Latencies, Measurement, PagePath

# Round numbers, so that every figure below can be checked by hand.
LATENCY = Latencies(
    "test",
    {
        "latency.query": 0.01,
        "latency.batch_get": 0.01,
        "latency.batch_write": 0.01,
        "latency.transact": 0.02,
        "latency.put_events": 0.03,
        "latency.invoke": 0.02,
        "latency.state": 0.005,
    },
)

# A page loop as the definition has it: Query, a choice, the Invoke, a nested delete Map (10 at a time), a choice.
LOOP = {
    "Type": "Map",
    "MaxConcurrency": "{% 2 %}",
    "ItemProcessor": {
        "StartAt": "Open partition",
        "States": {
            "Open partition": {"Type": "Pass"},
            "Query due jobs": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:query"},
            "Any due?": {"Type": "Choice"},
            "Publish page": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"},
            "Delete published": {
                "Type": "Map",
                "MaxConcurrency": 10,
                "ItemProcessor": {
                    "StartAt": "Open chunk",
                    "States": {
                        "Open chunk": {"Type": "Pass"},
                        "Delete chunk": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:dynamodb:batchWriteItem",
                        },
                        "Chunk deleted": {"Type": "Pass"},
                    },
                },
            },
            "More pages?": {"Type": "Choice"},
        },
    },
}


def path_of_1000_jobs() -> PagePath:
    """10 pages of 100 jobs in one partition; the idle run had found that partition empty once."""
    added = {
        "Query due jobs": 9,  # 10 pages' queries, minus the idle run's empty one
        "Any due?": 9,
        "Publish page": 10,
        "Delete published": 10,
        "Open chunk": 40,
        "Delete chunk": 40,
        "Chunk deleted": 40,
        "More pages?": 9,
    }
    idle = {"Open partition": 3, "Query due jobs": 3, "Any due?": 3, "More pages?": 3}
    calls = {"BatchGetItem": 10, "PutEvents": 100}
    return capacity.page_path(LOOP, added, calls, 1000, idle=idle, partitions=1, parallel_reads=1, parallel_puts=10)


def test_page_path_adds_back_the_empty_visit_the_idle_run_made():
    path = path_of_1000_jobs()
    assert path.measured_jobs_per_page == 100
    assert path.trips["latency.query"] == pytest.approx(1.0)  # (9 + 1) / 10
    assert path.trips["latency.invoke"] == pytest.approx(1.0)
    # Open partition 0.1, Query 1, Any due? 1, Publish 1, the delete Map 1, More pages? 1
    assert path.states == pytest.approx(5.1)
    (stage,) = path.stages
    assert (stage.iterations_per_job, stage.concurrency, stage.states_per_iteration) == (0.04, 10, 3.0)
    assert stage.trips_per_iteration == {"latency.batch_write": 1.0}


def test_a_full_page_scales_the_per_job_counts_and_rounds_up():
    page = path_of_1000_jobs().at(1000)
    assert page.reads == (pytest.approx(10.0), 1, 10)  # 10 BatchGetItem one after another
    assert page.puts == (pytest.approx(100.0), 10, 10)  # 100 PutEvents, 10 at once
    assert page.stage_rounds["Delete published"] == (pytest.approx(40.0), 10, 4)
    # Query + Invoke + 10 read rounds + 10 put rounds + 4 delete rounds
    assert page.round_trips == pytest.approx(1 + 1 + 10 + 10 + 4)
    assert page.states == pytest.approx(5.1 + 4 * 3)
    busy = 0.02 + 10 * 0.01 + 10 * 0.03
    assert page.function_seconds(LATENCY) == pytest.approx(busy)
    assert page.seconds(LATENCY) == pytest.approx(17.1 * 0.005 + 0.01 + busy + 4 * 0.01)


def measurement(*, shards: int = 1, native: bool = True, partitions: int = 1, payload: int = 8000) -> Measurement:
    return Measurement(
        knobs=Knobs(shards=shards, page_size=100, map_concurrency=40),
        jobs=1000,
        shards_native=native,
        calls={"Query": 10, "Invoke": 10, "BatchGetItem": 10, "PutEvents": 100, "BatchWriteItem": 40},
        transitions=500,
        largest_payload=payload,
        partitions=partitions,
        item_bytes=400,  # 1 WRU, 1 RRU; a page's Query: 100 x 400 bytes = 10 units over 100 jobs
        lanes_limit=40,
        path=path_of_1000_jobs(),
        published=1000,
        left=0,
        status="SUCCEEDED",
        run_seconds=1.0,
        write_seconds=1.0,
        write_calls=40,
    )


def by_name(rows: list[capacity.Limit]) -> dict[str, float]:
    return {row.name: row.jobs_per_second for row in rows}


def test_one_partition_binds_at_its_write_and_read_units():
    m = measurement()
    assert capacity.lanes(m) == 1
    rows = by_name(capacity.limits(m, LATENCY, "us-east-1"))
    per_job = 1 / 1000 + 1.1 / 3000  # 1 WRU; 1 RRU for the item + 0.1 for its share of the Query
    assert rows["DynamoDB per partition"] == pytest.approx(1 / per_job)
    assert rows["DynamoDB table writes"] == pytest.approx(40_000)
    assert rows["DynamoDB table reads"] == pytest.approx(40_000 / 1.1)
    assert rows["EventBridge PutEvents"] == pytest.approx(10_000 * 10)
    page = m.path.at(100)
    assert rows["Step Functions Map lanes"] == pytest.approx(100 / page.seconds(LATENCY))
    result = capacity.capacity(m, LATENCY, "us-east-1")
    assert result.binding == "DynamoDB per partition"
    assert result.per_minute == pytest.approx(1 / per_job * (60 - page.seconds(LATENCY)))


def test_modelled_shards_multiply_the_partitions_up_to_the_inline_map_limit():
    assert capacity.lanes(measurement(shards=32, native=False)) == 32
    assert capacity.lanes(measurement(shards=64, native=False)) == 40  # the inline Map runs 40 at once
    assert capacity.lanes(measurement(shards=64, native=True, partitions=1)) == 1  # measured: not spread
    wide = capacity.capacity(measurement(shards=64, native=False), LATENCY, "us-east-1")
    assert wide.binding == "DynamoDB per partition"
    assert wide.rate == pytest.approx(40 / (1 / 1000 + 1.1 / 3000))


def test_other_regions_and_a_payload_at_the_limit():
    rows = by_name(capacity.limits(measurement(shards=64, native=False), LATENCY, "ap-south-1"))
    assert rows["EventBridge PutEvents"] == pytest.approx(400 * 10)  # "each of the other regions": 400 a second
    stuck = capacity.capacity(measurement(payload=256 * 1024), LATENCY, "us-east-1")
    assert (stuck.binding, stuck.per_minute) == ("State payload 256 KiB", 0)
    assert math.isinf(by_name(capacity.limits(measurement(), LATENCY, "us-east-1"))["State payload 256 KiB"])


def test_writes_of_one_bucket_spread_over_its_shards():
    ceiling, _ = capacity.write_ceiling(measurement(shards=32, native=False))
    assert ceiling == pytest.approx(32_000)
    ceiling, _ = capacity.write_ceiling(measurement(shards=64, native=False))
    assert ceiling == pytest.approx(40_000)  # the table's default quota


def test_item_size_follows_dynamodb_rules():
    item = {"pk": {"S": "j#2026"}, "n": {"N": "123"}, "m": {"M": {"a": {"S": "xy"}}}}
    # pk: 2 + 6; n: 1 + (3 + 1) // 2 + 1; m: 1 + 3 + (1 + 2 + 1)
    assert capacity.item_size(item) == 8 + 4 + 8


def test_delivery_to_one_rule_target_is_capped_by_the_invocations_quota():
    wide = capacity.capacity(measurement(shards=64, native=False), LATENCY, "us-east-1")
    assert wide.rate > 18_750
    assert capacity.delivered_in_minute(wide, "us-east-1") == pytest.approx(18_750 * wide.per_minute / wide.rate)
    narrow = capacity.capacity(measurement(), LATENCY, "us-east-1")
    assert capacity.delivered_in_minute(narrow, "us-east-1") == pytest.approx(narrow.per_minute)
