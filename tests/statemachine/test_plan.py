"""The planning JSONata of the definition against its Python twin (onthedot.core.plan), on vectors and on any input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onthedot.core import keys, plan
from onthedot.deploy.settings import DEFINITION_PATH, Settings, look_ahead_ms, render_definition, substitutions
from onthedot.local.cloud import LocalCloud
from onthedot.local.jsonata_engine import evaluate

VECTORS = [
    datetime(2026, 2, 9, 11, 33, 0, tzinfo=UTC),  # inside a bucket
    datetime(2026, 2, 9, 11, 35, 0, tzinfo=UTC),  # exactly on a bucket edge
    datetime(2026, 2, 9, 11, 34, 59, 999000, tzinfo=UTC),  # a millisecond before it
    datetime(2026, 2, 9, 12, 0, 0, tzinfo=UTC),  # hour boundary: previous bucket in the previous hour
    datetime(2026, 2, 10, 0, 2, 30, tzinfo=UTC),  # day boundary
    datetime(2026, 5, 1, 0, 0, 0, tzinfo=UTC),  # month boundary (30-day April)
    datetime(2027, 1, 1, 0, 4, 59, 999000, tzinfo=UTC),  # year boundary
    datetime(2028, 2, 29, 0, 0, 0, tzinfo=UTC),  # leap day, previous bucket on the 28th
    datetime(2028, 3, 1, 0, 1, 0, tzinfo=UTC),  # the day after a leap day
]
WIDTHS = st.sampled_from([1, 2, 5, 10, 15, 30, 60])
MOMENTS = st.integers(min_value=946_684_800_000, max_value=4_102_444_799_999)  # 2000-2099, in ms


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso(moment_ms: int) -> str:
    return keys.format_time(EPOCH + timedelta(milliseconds=moment_ms))


def state(name: str, knobs: Settings | None = None) -> dict[str, Any]:
    """A state of the definition file itself, substituted as for AWS."""
    values = substitutions(knobs or Settings(), table_name="t", publish_function_arn="f", arrivals_function_arn="a")
    return dict(json.loads(render_definition(values, DEFINITION_PATH))["States"][name])


def run_jsonata(template: str, **bindings: Any) -> Any:
    return evaluate(template.removeprefix("{%").removesuffix("%}"), bindings)


# -- Plan window -------------------------------------------------------------------------------------------------


def plan_window(knobs: Settings, started: int, **read: Any) -> dict[str, Any]:
    """The "Read the clock" state, then "Plan window"."""
    context = {"Execution": {"StartTime": iso(started)}}
    clock = run_jsonata(state("Read the clock", knobs)["Output"], states={"input": read, "context": context})
    return dict(run_jsonata(state("Plan window", knobs)["Output"], states={"input": clock}))


@settings(max_examples=200, deadline=None)
@given(
    now=MOMENTS,
    width=WIDTHS,
    precision=st.sampled_from(["second", "minute"]),
    last=st.one_of(st.none(), st.tuples(st.integers(-600_000, 600_000), st.integers(1, 200_000))),
)
def test_plan_window_agrees_with_python(now: int, width: int, precision: str, last: tuple[int, int] | None) -> None:
    knobs = Settings(bucketMinutes=width, scheduleMinutes=1, precision=precision)
    read = (
        {} if last is None else {"windowStartRead": iso(now + last[0] - last[1]), "windowEndRead": iso(now + last[0])}
    )

    output = plan_window(knobs, now, **read)

    expected = plan.window(
        now,
        width,
        look_ahead_ms(knobs),
        start_read=None if last is None else now + last[0] - last[1],
        end_read=None if last is None else now + last[0],
    )
    assert (output["windowStartMs"], output["untilMs"], output["cutoff"], output["claim"]) == (
        expected.start,
        expected.until,
        iso(expected.cutoff),
        expected.claimed,
    )


@pytest.mark.parametrize("now", VECTORS, ids=lambda moment: moment.isoformat())
def test_a_replayed_run_admits_jobs_due_at_now_and_not_a_millisecond_later(now: datetime) -> None:
    until = plan_window(Settings(), ms(now), now=keys.format_time(now))["untilMs"]

    assert keys.sort_key(now, "job") < iso(until)
    assert keys.sort_key(now + timedelta(milliseconds=1), "job") > iso(until)


def test_a_run_with_second_precision_looks_ahead_until_the_next_run_starts_and_a_little_more() -> None:
    now = ms(VECTORS[0])
    for minutes in (1, 2, 3):
        knobs = Settings(scheduleMinutes=minutes, bucketMinutes=15)
        output = plan_window(knobs, now)
        assert output["untilMs"] - now == (minutes * 60 + 10) * 1000
    assert plan_window(Settings(precision="minute"), now)["untilMs"] == now + 1


def test_a_second_start_of_the_same_run_finds_its_window_claimed() -> None:
    now = ms(VECTORS[0])
    first = plan_window(Settings(), now)
    duplicate = plan_window(
        Settings(), now, windowStartRead=iso(first["windowStartMs"]), windowEndRead=iso(first["untilMs"])
    )
    assert first["claim"] is True
    assert duplicate["claim"] is False


# -- Plan catch-up ----------------------------------------------------------------------------------------------

CURSORS = st.one_of(
    st.none(),
    MOMENTS.map(lambda moment: keys.PK_PREFIX + iso(moment)[:16]),  # on or off the grid of the width in force
    st.sampled_from(["j#2026-02-09T11:3", "j#not a time", "cursor", ""]),  # never written by us: ignored
)


@settings(max_examples=300, deadline=None)
@given(cutoff=MOMENTS, cursor=CURSORS, width=WIDTHS, catch_up=st.integers(2, 288), behind=st.integers(0, 400))
def test_plan_catch_up_agrees_with_python(
    cutoff: int, cursor: str | None, width: int, catch_up: int, behind: int
) -> None:
    if cursor is None and behind:  # a cursor some buckets behind the cutoff, on the grid
        cursor = plan.key(plan.floor(cutoff, width * 60_000) - behind * width * 60_000)
    knobs = Settings(bucketMinutes=width, catchUpBuckets=catch_up)
    read: dict[str, Any] = {"cutoff": iso(cutoff), "windowStartMs": cutoff}
    if cursor is not None:
        read["cursor"] = cursor

    backlog = run_jsonata(state("Find the backlog", knobs)["Output"], states={"input": read})
    output = run_jsonata(state("Plan catch-up", knobs)["Output"], states={"input": backlog})

    expected = plan.catch_up(cutoff, cursor, width, catch_up)
    assert {name: output[name] for name in expected} == expected
    assert len(output["partitions"]) <= catch_up


@pytest.mark.parametrize("now", VECTORS, ids=lambda moment: moment.isoformat())
def test_without_a_cursor_the_catch_up_drains_the_bucket_before_now_and_the_one_before_it(now: datetime) -> None:
    just_before = now - timedelta(milliseconds=1)
    assert plan.catch_up(ms(now), None, 5, 12)["partitions"] == keys.partitions_to_drain(just_before)


@pytest.mark.parametrize("now", VECTORS, ids=lambda moment: moment.isoformat())
@pytest.mark.usefixtures("jobs")  # an empty table: no cursor left behind by another run
def test_plan_matches_key_math_when_run_on_the_local_cloud(cloud: LocalCloud, now: datetime) -> None:
    run = cloud.dispatch(now=now)

    assert run.status == "SUCCEEDED", run.error
    expected = plan.catch_up(ms(now), None, 5, cloud.settings.catchUpBuckets)["partitions"]
    assert [partition["pk"] for partition in run.output["byPartition"]] == expected
    assert run.output["now"] == keys.format_time(now)
    assert run.output["ticks"] == 1  # a replay publishes what was due at now, in one tick


# -- the ticks -----------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    tick_from=MOMENTS,
    ahead=st.integers(-5_000, 300_000),
    late=st.integers(-1_500, 120_000),
    width=WIDTHS,
    offset=st.integers(-(10**9), 10**9),
)
def test_plan_tick_and_its_wait_agree_with_python(
    tick_from: int, ahead: int, late: int, width: int, offset: int
) -> None:
    until, clock = tick_from + abs(ahead) + 1, tick_from + late
    knobs = Settings(bucketMinutes=width)
    variables = {"untilMs": until, "tickFromMs": tick_from, "offsetMs": offset, "coveredMs": tick_from}
    context = {"State": {"EnteredTime": iso(clock - offset)}}  # a replay's clock is shifted by offset

    planned = run_jsonata(state("Plan tick", knobs)["Output"], states={"context": context}, **variables)
    woken = run_jsonata(state("Wait for due jobs", knobs)["Timestamp"], states={"context": context}, **variables)

    expected = plan.tick(tick_from, clock, until, width)
    assert (planned["coveredMs"], planned["partitions"]) == (expected["to"], expected["partitions"])
    assert planned["to"] == iso(expected["to"])
    assert woken == iso(plan.wake(tick_from, clock) - offset)


# -- Advance cursor ------------------------------------------------------------------------------------------------

PARTITION_RESULTS = st.fixed_dictionaries(
    {
        "failed": st.sampled_from([0, 0, 0, 1]),
        "undeleted": st.sampled_from([0, 0, 0, 2]),
        "notDue": st.sampled_from([0, 0, 0, 1]),
        "paused": st.sampled_from([0, 0, 0, 1]),
        "error": st.sampled_from([None, None, None, "States.TaskFailed"]),
    }
)


@settings(max_examples=200, deadline=None)
@given(
    start=MOMENTS, width=WIDTHS, results=st.lists(PARTITION_RESULTS, min_size=2, max_size=14), bound=st.integers(0, 16)
)
def test_advance_cursor_agrees_with_python(start: int, width: int, results: list[dict[str, Any]], bound: int) -> None:
    bucket_ms = width * 60_000
    first = plan.floor(start, bucket_ms)
    drained = []
    for index, result in enumerate(results):
        partition = {"pk": plan.key(first + index * bucket_ms), **{k: v for k, v in result.items() if v is not None}}
        drained.append(partition)
    cursor_bound = plan.key(first + bound * bucket_ms)
    planned = run_jsonata(
        state("Plan cursor", Settings(bucketMinutes=width))["Output"], catchUp=drained, cursorBound=cursor_bound
    )
    assert planned["next"] == plan.next_cursor(drained, cursor_bound, width)


@pytest.mark.usefixtures("jobs")
def test_the_run_start_time_is_used_when_no_now_is_given(cloud: LocalCloud) -> None:
    before = datetime.now(UTC)
    run = cloud.dispatch(until=before + timedelta(seconds=1))
    after = datetime.now(UTC)

    started = keys.parse_time(run.output["now"])
    assert before - timedelta(seconds=1) <= started <= after
    assert [p["pk"] for p in run.output["byPartition"]] in (plan.catch_up(ms(started), None, 5, 12)["partitions"],)


# -- Drain shards: the partition key of each shard ---------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(moment=MOMENTS, width=WIDTHS, shards=st.integers(1, 100), data=st.data())
def test_drain_shards_keys_agree_with_python(moment: int, width: int, shards: int, data: st.DataObject) -> None:
    drain_shards = state("Drain", Settings(bucketMinutes=width, shards=shards))["ItemProcessor"]["States"][
        "Drain shards"
    ]
    bucket = plan.key(plan.floor(moment, width * 60_000))
    shard = data.draw(st.integers(0, shards - 1))

    items = run_jsonata(drain_shards["Items"], states={"input": {}})
    pk = run_jsonata(
        drain_shards["ItemSelector"]["pk"],
        states={"input": {"bucket": bucket}, "context": {"Map": {"Item": {"Value": shard, "Index": shard}}}},
    )

    assert list(items) == list(range(shards))
    assert pk == keys.shard_key(bucket, shard)
    assert keys.split_partition_key(pk) == (bucket, shard)
