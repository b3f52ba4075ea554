"""Wait states keep time as on AWS, in any time zone, and Express runs stop at their time limit.

Each test runs a small throwaway state machine on the local cloud. The timed assertions are the precision the
dispatcher relies on (a Wait ends within 50 ms of its instant); everything else counts, not times.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from onthedot.local import jsonata_engine
from onthedot.local.cloud import LocalCloud, Run

PRECISION = 0.05  # seconds


def run_machine(cloud: LocalCloud, definition: dict[str, Any], execution_input: Any = None) -> Run:
    """Create an Express state machine, run it once and delete it."""
    sfn = cloud.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"wait-test-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::123456789012:role/{cloud.names.role}",
        type="EXPRESS",
    )["stateMachineArn"]
    try:
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input or {}))
        return cloud.wait_for(execution["executionArn"], timeout=60)
    finally:
        sfn.delete_state_machine(stateMachineArn=arn)


def whole_seconds_ahead(seconds: int) -> datetime:
    return datetime.fromtimestamp(math.ceil(time.time()) + seconds, UTC)


def entered(run: Run, name: str = "entered") -> datetime:
    return datetime.fromisoformat(run.output[name].replace("Z", "+00:00"))


# A Wait until the input's "at", then a state that reports when it was entered.
WAIT_UNTIL_JSONATA = {
    "QueryLanguage": "JSONata",
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Timestamp": "{% $states.input.at %}", "Next": "Report"},
        "Report": {"Type": "Pass", "Output": {"entered": "{% $states.context.State.EnteredTime %}"}, "End": True},
    },
}


@pytest.fixture(params=["UTC", "Asia/Kolkata", "America/Los_Angeles"])
def time_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The process's local time zone (what a naive ``datetime.now()`` reads) set to the parameter."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        expected = datetime.now(ZoneInfo(request.param)).utcoffset()
        assert datetime.now().astimezone().utcoffset() == expected, "the time zone did not take effect"
        yield request.param
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


def test_a_wait_to_a_timestamp_ends_on_it_in_any_time_zone(cloud: LocalCloud, time_zone: str) -> None:
    # GIVEN a timestamp 2 s ahead, written as $fromMillis writes it (UTC, milliseconds)
    at = whole_seconds_ahead(2)
    # WHEN a JSONata Wait waits for it, with the process in another time zone
    run = run_machine(cloud, WAIT_UNTIL_JSONATA, {"at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z")})
    # THEN the next state starts on it, in UTC
    assert run.status == "SUCCEEDED", run.error
    assert 0 <= (entered(run) - at).total_seconds() <= PRECISION, (time_zone, entered(run), at)


def test_a_timestamp_counts_whole_seconds_as_aws_does(cloud: LocalCloud) -> None:
    # AWS: "Step Functions considers the time value up to seconds and truncates milliseconds".
    at = whole_seconds_ahead(2)
    text = (at + timedelta(milliseconds=900)).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    run = run_machine(cloud, WAIT_UNTIL_JSONATA, {"at": text})

    assert 0 <= (entered(run) - at).total_seconds() <= PRECISION, (text, entered(run))


def test_a_timestamp_in_the_past_does_not_wait(cloud: LocalCloud) -> None:
    started = datetime.now(UTC)
    run = run_machine(cloud, WAIT_UNTIL_JSONATA, {"at": "2001-01-01T00:00:00Z"})
    assert run.status == "SUCCEEDED"
    assert (entered(run) - started).total_seconds() < 1


def test_a_timestamp_that_is_not_one_fails_the_run(cloud: LocalCloud) -> None:
    run = run_machine(cloud, WAIT_UNTIL_JSONATA, {"at": "2026-13-01T00:00:00Z"})
    assert run.status == "FAILED"
    assert run.error is not None
    assert run.error.startswith("States.Runtime")


# JSONPath: the paths of the input, and a second Wait in seconds after the first.
WAIT_PATHS_JSONPATH = {
    "StartAt": "Until",
    "States": {
        "Until": {"Type": "Wait", "TimestampPath": "$.at", "Next": "Mark"},
        "Mark": {
            "Type": "Pass",
            "Parameters": {"seconds.$": "$.seconds", "until.$": "$$.State.EnteredTime"},
            "Next": "For",
        },
        "For": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Report"},
        "Report": {
            "Type": "Pass",
            "Parameters": {"until.$": "$.until", "entered.$": "$$.State.EnteredTime"},
            "End": True,
        },
    },
}


def test_timestamp_path_and_seconds_path_wait_until_their_instant(cloud: LocalCloud) -> None:
    at = whole_seconds_ahead(1)
    run = run_machine(cloud, WAIT_PATHS_JSONPATH, {"at": at.isoformat().replace("+00:00", "Z"), "seconds": 1})

    assert run.status == "SUCCEEDED", run.error
    assert 0 <= (entered(run, "until") - at).total_seconds() <= PRECISION
    assert 1 <= (entered(run) - entered(run, "until")).total_seconds() <= 1 + PRECISION


def test_a_loop_waiting_for_the_next_whole_second_runs_once_a_second(cloud: LocalCloud) -> None:
    # GIVEN a loop: wait until the next whole second ($millis() at the Wait), count, repeat for 5 s
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Pass",
                "Assign": {"count": 0, "endMs": "{% $toMillis($states.context.State.EnteredTime) + 5000 %}"},
                "Next": "Next second",
            },
            "Next second": {
                "Type": "Wait",
                "Timestamp": "{% $fromMillis(($floor($millis() / 1000) + 1) * 1000) %}",
                "Next": "Count",
            },
            "Count": {"Type": "Pass", "Assign": {"count": "{% $count + 1 %}"}, "Next": "Again?"},
            "Again?": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $millis() < $endMs and $count < 100 %}", "Next": "Next second"}],
                "Default": "Done",
            },
            "Done": {"Type": "Pass", "Output": {"count": "{% $count %}"}, "End": True},
        },
    }
    # WHEN it runs
    run = run_machine(cloud, definition)
    # THEN it went round about once a second, not thousands of times
    assert run.status == "SUCCEEDED", run.error
    assert 4 <= run.output["count"] <= 6, run.output


def test_millis_and_now_read_the_clock_of_each_evaluation() -> None:
    first = jsonata_engine.evaluate("$millis()", {})
    jsonata_engine.evaluate(f"{uuid.uuid4().int % 1000} + 1", {})  # compiles another expression meanwhile
    time.sleep(0.05)
    assert jsonata_engine.evaluate("$millis()", {}) >= first + 50
    now = datetime.fromisoformat(jsonata_engine.evaluate("$now()", {}).replace("Z", "+00:00"))
    assert abs((now - datetime.now(UTC)).total_seconds()) < 1


@pytest.fixture
def short_express_limit(cloud: LocalCloud) -> Iterator[float]:
    saved = cloud.express_limit
    cloud.express_limit = 1.0
    yield cloud.express_limit
    cloud.express_limit = saved


def test_an_express_run_past_its_limit_fails_with_states_timeout(cloud: LocalCloud, short_express_limit: float) -> None:
    # GIVEN an Express limit of 1 s, and a run that would take 30 s
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Linger",
        "States": {"Linger": {"Type": "Wait", "Seconds": 30, "End": True}},
    }
    # WHEN it runs
    run = run_machine(cloud, definition)
    # THEN it fails as AWS fails it, at the limit
    assert run.status == "FAILED"
    assert run.error is not None
    assert run.error.startswith("States.Timeout")
    assert run.seconds < 10


def test_the_express_limit_is_aws_s_by_default(cloud: LocalCloud) -> None:
    assert LocalCloud().express_limit == 300
    assert cloud.express_limit == 300
