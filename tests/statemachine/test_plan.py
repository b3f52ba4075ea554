"""The Plan state's JSONata against the Python key math (onthedot.keys), on the same vectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onthedot import keys
from onthedot.local.cloud import LocalCloud
from onthedot.local.jsonata_engine import evaluate
from onthedot.settings import DEFINITION_PATH, Settings, render_definition, substitutions

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


def plan_output(now: datetime, bucket_minutes: int = 5) -> dict[str, object]:
    """Evaluate the Plan state of the definition file itself, substituted as for AWS."""
    values = substitutions(Settings(bucketMinutes=bucket_minutes), table_name="t", publish_function_arn="f")
    plan = json.loads(render_definition(values, DEFINITION_PATH))["States"]["Plan"]
    expression = plan["Output"].removeprefix("{%").removesuffix("%}")
    states = {"input": {}, "context": {"Execution": {"StartTime": keys.format_time(now)}}}
    return evaluate(expression, {"states": states})


@pytest.mark.parametrize("now", VECTORS, ids=lambda moment: moment.isoformat())
@pytest.mark.usefixtures("jobs")  # an empty table: no cursor left behind by another run
def test_plan_matches_key_math_when_run_on_the_local_cloud(cloud: LocalCloud, now: datetime) -> None:
    run = cloud.dispatch(now=now)

    assert run.status == "SUCCEEDED", run.error
    assert [partition["pk"] for partition in run.output["byPartition"]] == keys.partitions_to_drain(now)
    assert run.output["now"] == keys.format_time(now)


@pytest.mark.parametrize("now", VECTORS, ids=lambda moment: moment.isoformat())
def test_cutoff_admits_jobs_due_at_now_and_not_a_millisecond_later(now: datetime) -> None:
    cutoff = str(plan_output(now)["cutoff"])

    assert keys.sort_key(now, "job") < cutoff
    assert keys.sort_key(now + timedelta(milliseconds=1), "job") > cutoff


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)),
    bucket_minutes=st.sampled_from([1, 2, 5, 10, 15, 30, 60]),
)
def test_plan_jsonata_agrees_with_python_everywhere(now: datetime, bucket_minutes: int) -> None:
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # both work in milliseconds

    assert plan_output(now, bucket_minutes)["partitions"] == keys.partitions_to_drain(now, bucket_minutes)


@pytest.mark.usefixtures("jobs")
def test_the_run_start_time_is_used_when_no_now_is_given(cloud: LocalCloud) -> None:
    before = datetime.now(UTC)
    run = cloud.dispatch()
    after = datetime.now(UTC)

    started = keys.parse_time(run.output["now"])
    assert before - timedelta(seconds=1) <= started <= after
    assert [p["pk"] for p in run.output["byPartition"]] in (
        keys.partitions_to_drain(before),
        keys.partitions_to_drain(after),
    )
