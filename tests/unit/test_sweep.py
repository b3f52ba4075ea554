"""The sweep: after the bucket width changed (5 -> 15 minutes here), every job waiting on the old grid is settled as
if it had just arrived, in legs that each stop well inside the function's time and hand on the scan's position."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from functions.publish.dead_letter import POISON, DeadLetters
from functions.rewind.arrivals import Arrivals, Sweep
from onthedot.core import keys
from onthedot.core.jobs import ORIGINAL_DUE
from onthedot.deploy.settings import Settings, rewind_environment
from tests.support import REGION, Clock, create_job_tables
from tests.support.arrivals import World

JOBS = "Jobs"
DEAD = "DeadLetters"
OLD, NEW = 5, 15  # the width the jobs were filed under, and the width in force
NOW = datetime(2026, 2, 9, 11, 33, 20, tzinfo=UTC)  # current bucket j#11:30 on the new grid


def key(due: str, job_id: str, width: int = OLD) -> tuple[str, str]:
    moment = keys.parse_time(due)
    return keys.partition_key(moment, width), keys.sort_key(moment, job_id)


@pytest.fixture
def world(aws: None) -> World:
    resource = boto3.resource("dynamodb", region_name=REGION)
    create_job_tables(resource, JOBS, DEAD)
    jobs, dead = resource.Table(JOBS), resource.Table(DEAD)
    clock = Clock(NOW)
    dead_letters = DeadLetters(jobs_table=jobs, dead_letter_table=dead, max_attempts=0, now=clock)
    return World(Arrivals(jobs, dead_letters, NEW, 12, now=clock), jobs, dead)


def sweep_all(world: World, page_size: int) -> list[Sweep]:
    """Every leg of one sweep, each stopping after one page, each going on from where the last stopped."""
    legs = [world.arrivals.sweep(None, out_of_time=lambda: True, page_size=page_size)]
    while legs[-1].next_start is not None:
        assert len(legs) < 1000, "the sweep does not end"
        legs.append(world.arrivals.sweep(legs[-1].next_start, out_of_time=lambda: True, page_size=page_size))
    return legs


def test_jobs_on_the_old_grid_move_to_the_new_one_and_nothing_else_changes(world: World) -> None:
    # GIVEN jobs filed under 5-minute buckets, the dispatcher's cursor on that grid, and items that are not jobs
    world.jobs.put_item(Item={"pk": "cursor", "sk": "dispatcher", "bucket": "j#2026-02-09T11:25"})
    world.jobs.put_item(Item={"pk": "series#s1", "sk": "series", "current": "x"})
    world.jobs.put_item(Item={"pk": "run", "sk": "2026-02-09T11:30:00.000Z"})
    behind = world.put(*key("2026-02-09T11:07:00.000Z", "behind"), attempts=Decimal(1))
    also_behind = world.put(*key("2026-02-09T11:12:30.000Z", "also-behind"))
    on_both_grids = world.put(*key("2026-02-09T11:16:00.000Z", "on-both"))
    later = world.put(*key("2026-02-09T12:21:00.000Z", "later"))
    unreadable = world.put("j#2026-02-09T11:05", "half past eleven#unreadable")
    others = {(i["pk"], i["sk"]) for i in world.jobs.scan()["Items"] if not i["pk"].startswith("j#")}

    # WHEN the sweep runs under the 15-minute width
    [leg] = sweep_all(world, page_size=100)

    # THEN each job waits in its 15-minute bucket with all it had, the unreadable one is in the dead letter
    assert world.items() == {
        ("j#2026-02-09T11:00", behind["sk"]): {**behind, "pk": "j#2026-02-09T11:00"},
        ("j#2026-02-09T11:00", also_behind["sk"]): {**also_behind, "pk": "j#2026-02-09T11:00"},
        ("j#2026-02-09T12:15", later["sk"]): {**later, "pk": "j#2026-02-09T12:15"},
        (on_both_grids["pk"], on_both_grids["sk"]): on_both_grids,
    }
    [letter] = world.dead_letters()
    assert letter["job"] == unreadable
    assert letter["reason"].startswith(POISON)
    # AND the cursor went back to the oldest bucket re-filed behind it, a key on the new grid
    assert world.cursor() == "j#2026-02-09T11:00"
    # AND the items that are not jobs are as they were
    assert {(i["pk"], i["sk"]) for i in world.jobs.scan()["Items"] if not i["pk"].startswith("j#")} == others
    assert leg.as_dict() == {
        "pages": 1,
        "scanned": 8,
        "jobs": 5,
        "misfiled": 4,
        "kept": 0,
        "refiled": 3,
        "deadLettered": 1,
        "gone": 0,
        "rewoundTo": "j#2026-02-09T11:00",
        "finished": True,
    }


def test_a_job_further_behind_than_one_run_catches_up_waits_in_the_cursors_bucket(world: World) -> None:
    world.jobs.put_item(Item={"pk": "cursor", "sk": "dispatcher", "bucket": "j#2026-02-09T11:25"})
    typed = world.put(*key("2026-02-09T06:07:00.000Z", "ancient"))
    sweep_all(world, page_size=10)
    # the cursor's 5-minute key read on the 15-minute grid: j#11:15
    assert world.items() == {
        ("j#2026-02-09T11:15", "2026-02-09T11:15:00.000Z#ancient"): {
            **typed,
            "pk": "j#2026-02-09T11:15",
            "sk": "2026-02-09T11:15:00.000Z#ancient",
            ORIGINAL_DUE: "2026-02-09T06:07:00.000Z",
        }
    }


def test_a_sweep_in_many_legs_moves_every_job_once(world: World) -> None:
    # GIVEN 40 jobs on the old grid among 20 already on the new one, a day of them, in no order the scan knows
    start = datetime(2026, 2, 10, tzinfo=UTC)
    due = [start + timedelta(minutes=37 * n) for n in range(60)]
    for n, moment in enumerate(due):
        world.put(*key(keys.format_time(moment), f"job-{n}"))
    on_old_grid = {f"job-{n}" for n, moment in enumerate(due) if keys.bucket_start(moment, OLD).minute % NEW}
    assert len(on_old_grid) == 40

    # WHEN the sweep goes a page of 7 keys a leg
    legs = sweep_all(world, page_size=7)

    # THEN it took many legs, each moved a job at most once, and all of them exactly once
    assert len(legs) > 8
    assert sum(leg.outcome.refiled for leg in legs) == 40
    assert sum(leg.misfiled for leg in legs) == 40
    assert sum(leg.outcome.kept + leg.outcome.gone + leg.outcome.dead_lettered for leg in legs) == 0
    assert world.items().keys() == {key(keys.format_time(moment), f"job-{n}", NEW) for n, moment in enumerate(due)}
    # AND a sweep run again finds nothing to do
    again = sweep_all(world, page_size=100)
    assert sum(leg.misfiled for leg in again) == 0


def test_an_occurrence_on_the_old_grid_moves_with_its_sort_key_where_its_series_finds_it(world: World) -> None:
    # GIVEN a series whose pending occurrence the dispatcher wrote under 5-minute buckets
    pk, sk = key("2026-02-09T12:05:00.000Z", "occurrence-3")
    world.jobs.put_item(Item={"pk": "series#s1", "sk": "series", "current": sk})
    occurrence = world.put(pk, sk, series="s1", occurrence=Decimal(3))
    on_both_grids = world.put(*key("2026-02-09T12:15:00.000Z", "occurrence-9"), series="s2", occurrence=Decimal(9))
    sweep_all(world, page_size=100)
    # THEN it is in its 15-minute bucket under the same sort key (the series' current), the other left alone
    assert world.items() == {
        ("j#2026-02-09T12:00", sk): {**occurrence, "pk": "j#2026-02-09T12:00"},
        (on_both_grids["pk"], on_both_grids["sk"]): on_both_grids,
    }
    assert world.jobs.get_item(Key={"pk": "series#s1", "sk": "series"})["Item"]["current"] == sk
    assert world.dead_letters() == []


# -- the handler: the event, the time check and the next leg -------------------------------------------------------


@dataclass
class Context:
    """A Lambda context whose remaining time the test sets."""

    remaining_ms: int
    function_name: str = "onthedot-rewind"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:onthedot-rewind"
    aws_request_id: str = "7d2b7a4e-0000-4000-8000-000000000003"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Invokes:
    """Stands in for the Lambda client: records each invocation."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **call: Any) -> dict[str, Any]:
        self.calls.append(call)
        return {"StatusCode": 202}


@pytest.fixture
def app(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``functions.rewind.app`` under the function's environment with the 15-minute width, its Lambda client
    recording the legs it starts."""
    for name, value in rewind_environment(Settings(bucketMinutes=NEW), JOBS, dead_letter_table_name=DEAD).items():
        monkeypatch.setenv(name, value)
    from functions.rewind import app

    forget(app)
    invokes = Invokes()
    monkeypatch.setattr(app, "lambda_client", lambda: invokes)
    yield app
    forget(app)


def forget(app: Any) -> None:
    """Drop what the handler read and created on its first call, as a new Lambda runtime would start."""
    app.config.cache_clear()
    app.arrivals.cache_clear()


def test_with_time_to_spare_one_leg_sweeps_everything(world: World, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(30):
        world.put(*key(f"2099-01-01T10:{n:02d}:00.000Z", f"job-{n}"))
    monkeypatch.setattr(app, "SWEEP_PAGE_SIZE", 4)
    result = app.handler({"sweep": {"start": None}}, Context(remaining_ms=25_000))
    assert result["finished"] is True
    assert result["pages"] >= 30 // 4
    assert result["refiled"] == 20  # the jobs in 10:05, 10:10, 10:20 and 10:25
    assert app.lambda_client().calls == []  # one leg: no other started


def test_short_of_time_a_leg_invokes_the_next_asynchronously_until_the_scan_ends(
    world: World, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(30):
        world.put(*key(f"2099-01-01T10:{n:02d}:00.000Z", f"job-{n}"))
    monkeypatch.setattr(app, "SWEEP_PAGE_SIZE", 4)
    # GIVEN a function that, after its first page, has less time left than the sweep keeps in reserve
    context = Context(remaining_ms=app.SWEEP_RESERVE_MS - 1)
    event: dict[str, Any] | None = {"sweep": {"start": None}}
    results: list[dict[str, Any]] = []
    while event is not None:
        assert len(results) < 100, "the sweep does not end"
        results.append(app.handler(event, context))
        invokes = app.lambda_client()
        calls, invokes.calls = invokes.calls, []
        if results[-1]["finished"]:
            assert calls == []
            event = None
        else:
            # THEN it invokes itself, asynchronously, by name, with where the scan stopped
            [call] = calls
            assert (call["FunctionName"], call["InvocationType"]) == ("onthedot-rewind", "Event")
            event = json.loads(call["Payload"])
            assert set(event["sweep"]["start"]) == {"pk", "sk"}
    # AND the legs together moved every job on the old grid once, a page each
    assert all(result["pages"] == 1 for result in results)
    assert len(results) >= 30 // 4
    assert sum(result["refiled"] for result in results) == 20
    assert {pk for pk, _ in world.items()} == {"j#2099-01-01T10:00", "j#2099-01-01T10:15"}


def test_a_sweep_event_of_another_shape_is_refused(app: Any) -> None:
    with pytest.raises(ValueError, match="ExclusiveStartKey"):
        app.handler({"sweep": {"start": "j#2099-01-01T10:00"}}, Context(remaining_ms=25_000))
