"""The arrivals function against an in-process moto: what stays, what is re-filed, what is dead-lettered, and the
cursor, for each kind of key a stream record can bring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.publish.dead_letter import POISON, DeadLetters
from functions.rewind.arrivals import Arrivals, Verdict, judge, oldest_bucket
from onthedot.core import keys
from onthedot.core.jobs import ORIGINAL_DUE
from onthedot.deploy.settings import Settings, rewind_environment
from tests.support import REGION, Clock, create_job_tables
from tests.support.arrivals import World

JOBS = "Jobs"
DEAD = "DeadLetters"
NOW = datetime(2026, 2, 9, 11, 33, 20, 250000, tzinfo=UTC)  # the wall clock: which jobs are late
ID = "hand-typed-1"
WIDTH, CATCH_UP = 5, 12
CURSOR = datetime(2026, 2, 9, 11, 25, tzinfo=UTC)  # the previous bucket: the dispatcher is on time
OLDEST = datetime(2026, 2, 9, 10, 35, tzinfo=UTC)  # 10 buckets behind it: one run drains 10:35 ... 11:30


def insert(pk: str, sk: str, event_name: str = "INSERT") -> dict[str, Any]:
    """A stream record as the table's stream sends it: keys only."""
    return {"eventName": event_name, "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}}}


# -- judge: a pure function of the keys, the cursor and the knobs ------------------------------------------------


def verdict(pk: str, sk: str, cursor: datetime | None = CURSOR) -> Verdict:
    return judge(pk, sk, cursor=cursor, bucket_minutes=WIDTH, catch_up_buckets=CATCH_UP)


def test_canonical_keys_stay() -> None:
    assert verdict("j#2026-02-09T11:30", f"2026-02-09T11:33:00.000Z#{ID}") == Verdict(
        "j#2026-02-09T11:30", f"2026-02-09T11:33:00.000Z#{ID}"
    )


def test_keys_in_another_shape_get_their_canonical_keys() -> None:
    assert verdict("j#2026-02-09T12:47", f"2026-02-09 12:47:00+01:00#{ID}") == Verdict(
        "j#2026-02-09T11:45", f"2026-02-09T11:47:00.000Z#{ID}"
    )


def test_unreadable_keys_go_to_the_dead_letter_with_the_reason() -> None:
    refused = verdict("j#2026-02-09T11:30", f"2026-02-09T11:33:00#{ID}")
    assert refused.reason is not None
    assert refused.reason.startswith(POISON)
    assert "no time zone" in refused.reason


def test_one_run_drains_from_the_oldest_bucket_a_job_keeps_its_due_time_in() -> None:
    assert oldest_bucket(CURSOR, WIDTH, CATCH_UP) == OLDEST
    # a run drains CATCH_UP buckets: from the cursor moved back to OLDEST, up to the previous and the current one
    current = CURSOR + timedelta(minutes=WIDTH)
    assert (current - OLDEST) / timedelta(minutes=WIDTH) + 1 == CATCH_UP


def test_a_job_in_the_oldest_bucket_one_run_drains_keeps_its_due_time() -> None:
    sk = keys.sort_key(OLDEST, ID)
    assert verdict(keys.partition_key(OLDEST), sk) == Verdict(keys.partition_key(OLDEST), sk)


@pytest.mark.parametrize(
    "due",
    [OLDEST - timedelta(milliseconds=1), CURSOR - timedelta(days=300), datetime(1, 1, 1, tzinfo=UTC)],
)
def test_a_job_due_longer_ago_goes_into_the_cursors_bucket_keeping_its_due_time(due: datetime) -> None:
    assert verdict(keys.partition_key(due), keys.sort_key(due, ID)) == Verdict(
        "j#2026-02-09T11:25", f"2026-02-09T11:25:00.000Z#{ID}", original_due=keys.format_time(due)
    )


def test_before_the_dispatchers_first_run_a_job_keeps_its_due_time_however_old() -> None:
    sk = f"2020-01-01T00:00:00.000Z#{ID}"
    assert verdict("j#2020-01-01T00:00", sk, cursor=None) == Verdict("j#2020-01-01T00:00", sk)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 1, 1)),
    st.one_of(st.none(), st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1))),
    st.sampled_from([1, 5, 15, 60]),
    st.integers(min_value=2, max_value=288),
)
def test_wherever_a_job_goes_it_is_never_due_earlier_than_typed(
    typed: datetime, cursor: datetime | None, width: int, catch_up: int
) -> None:
    due = typed.replace(tzinfo=UTC)
    at = None if cursor is None else keys.bucket_start(cursor.replace(tzinfo=UTC), width)
    placed = judge(
        keys.partition_key(due, width),
        keys.sort_key(due, ID),
        cursor=at,
        bucket_minutes=width,
        catch_up_buckets=catch_up,
    )
    assert keys.canonical_keys(placed.pk, placed.sk, width) == (placed.pk, placed.sk)
    placed_due, job_id = keys.parse_sort_key(placed.sk)
    assert job_id == ID
    assert placed_due >= keys.parse_sort_key(keys.sort_key(due, ID))[0]
    if at is not None:  # and it waits where the next run drains
        assert placed_due >= keys.bucket_start(at, width) - (catch_up - 2) * timedelta(minutes=width)


# -- Arrivals: the table, the dead letter and the cursor -----------------------------------------------------------


@pytest.fixture
def world(aws: None) -> World:
    resource = boto3.resource("dynamodb", region_name=REGION)
    create_job_tables(resource, JOBS, DEAD)
    jobs, dead = resource.Table(JOBS), resource.Table(DEAD)
    clock = Clock(NOW)
    dead_letters = DeadLetters(jobs_table=jobs, dead_letter_table=dead, max_attempts=0, now=clock)
    return World(Arrivals(jobs, dead_letters, WIDTH, CATCH_UP, now=clock), jobs, dead)


def test_a_canonical_job_in_a_drained_bucket_moves_the_cursor_back(world: World) -> None:
    world.put("j#2026-02-09T11:00", f"2026-02-09T11:03:00.000Z#{ID}")
    outcome = world.receive(insert("j#2026-02-09T11:00", f"2026-02-09T11:03:00.000Z#{ID}"))
    assert (outcome.kept, outcome.rewound_to) == (1, "j#2026-02-09T11:00")
    assert world.cursor() == "j#2026-02-09T11:00"


def test_a_canonical_job_in_the_current_bucket_leaves_the_cursor(world: World) -> None:
    world.put("j#2026-02-09T11:30", f"2026-02-09T11:31:00.000Z#{ID}")
    outcome = world.receive(insert("j#2026-02-09T11:30", f"2026-02-09T11:31:00.000Z#{ID}"))
    assert (outcome.kept, outcome.rewound_to) == (1, None)
    assert world.cursor() is None


def test_a_job_in_the_previous_bucket_moves_the_cursor_back_to_it(world: World) -> None:
    # A run's catch-up may have moved the cursor on to the current bucket (the bucket of its cutoff)
    world.put("j#2026-02-09T11:25", f"2026-02-09T11:29:00.000Z#{ID}")
    outcome = world.receive(insert("j#2026-02-09T11:25", f"2026-02-09T11:29:00.000Z#{ID}"))
    assert (outcome.kept, outcome.rewound_to) == (1, "j#2026-02-09T11:25")
    assert world.cursor() == "j#2026-02-09T11:25"


def test_keys_in_another_shape_are_refiled_with_the_same_content(world: World) -> None:
    # GIVEN a job typed with an off-grid partition and an offset, which has already failed once
    typed = world.put("j#2026-02-09T12:03", f"2026-02-09T12:03:00+01:00#{ID}", attempts=Decimal(1), last_error="x")
    # WHEN its insert arrives
    outcome = world.receive(insert(typed["pk"], typed["sk"]))
    # THEN it is under its canonical keys only, everything else as it was, and the cursor went back to its bucket
    canonical = ("j#2026-02-09T11:00", f"2026-02-09T11:03:00.000Z#{ID}")
    assert world.items() == {canonical: {**typed, "pk": canonical[0], "sk": canonical[1]}}
    assert (outcome.refiled, outcome.rewound_to) == (1, "j#2026-02-09T11:00")
    assert world.cursor() == "j#2026-02-09T11:00"


def test_the_cursor_only_ever_receives_grid_keys(world: World) -> None:
    world.put("j#2026-02-09T10:47", f"2026-02-09T10:47:10.000Z#{ID}")
    world.receive(insert("j#2026-02-09T10:47", f"2026-02-09T10:47:10.000Z#{ID}"))
    assert world.cursor() == "j#2026-02-09T10:45"


def test_a_job_due_long_ago_goes_into_the_cursors_bucket(world: World) -> None:
    # GIVEN the dispatcher is on time, and a job arrives due two hours ago
    world.jobs.put_item(Item={"pk": "cursor", "sk": "dispatcher", "bucket": "j#2026-02-09T11:25"})
    typed = world.put("j#2026-02-09T09:30", f"2026-02-09T09:33:00.000Z#{ID}")
    outcome = world.receive(insert(typed["pk"], typed["sk"]))
    # THEN it waits at the start of the cursor's bucket, for the next run, and the cursor stays
    moved = ("j#2026-02-09T11:25", f"2026-02-09T11:25:00.000Z#{ID}")
    assert world.items() == {moved: {**typed, "pk": moved[0], "sk": moved[1], ORIGINAL_DUE: "2026-02-09T09:33:00.000Z"}}
    assert (outcome.refiled, outcome.rewound_to) == (1, None)
    assert world.cursor() == "j#2026-02-09T11:25"


def test_a_cursor_off_the_grid_is_read_as_the_bucket_holding_it(world: World) -> None:
    world.jobs.put_item(Item={"pk": "cursor", "sk": "dispatcher", "bucket": "j#2026-02-09T11:27"})
    typed = world.put("j#2026-02-09T09:30", f"2026-02-09T09:33:00.000Z#{ID}")
    world.receive(insert(typed["pk"], typed["sk"]))
    assert set(world.items()) == {("j#2026-02-09T11:25", f"2026-02-09T11:25:00.000Z#{ID}")}


def test_unreadable_keys_are_dead_lettered_with_the_reason_and_leave_the_table(world: World) -> None:
    typed = world.put("j#2026-02-09T11:30", f"next tuesday#{ID}", attempts=Decimal(2))
    outcome = world.receive(insert(typed["pk"], typed["sk"]))
    assert outcome.dead_lettered == 1
    assert world.items() == {}
    [letter] = world.dead_letters()
    assert letter["sk"] == typed["sk"]
    assert letter["job"] == typed
    assert letter["reason"] == f"{POISON}'next tuesday' is not an ISO 8601 date and time"
    assert letter["attempts"] == 2
    assert world.dead.get_item(Key={"pk": "meta", "sk": "size"})["Item"]["size"] == 1


def test_a_job_gone_before_it_is_read_is_not_brought_back(world: World) -> None:
    outcome = world.receive(
        insert("j#2026-02-09T12:03", f"2026-02-09T12:03:00+01:00#{ID}"), insert("j#2026-02-09T11:30", f"soon#{ID}")
    )
    assert (outcome.gone, outcome.refiled, outcome.dead_lettered) == (2, 0, 0)
    assert world.items() == {}
    assert world.dead_letters() == []


def test_a_job_published_between_the_read_and_the_move_is_not_brought_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the dispatcher publishes and deletes the job just after the arrivals function has read it
    typed = world.put("j#2026-02-09T11:30", f"2026-02-09T11:33:00Z#{ID}")
    read = Arrivals._read

    def read_then_dispatcher_deletes(self: Arrivals, pk: str, sk: str) -> dict[str, Any] | None:
        item = read(self, pk, sk)
        world.jobs.delete_item(Key={"pk": pk, "sk": sk})
        return item

    monkeypatch.setattr(Arrivals, "_read", read_then_dispatcher_deletes)
    # WHEN the move is attempted THEN the transaction writes nothing
    outcome = world.receive(insert(typed["pk"], typed["sk"]))
    assert (outcome.gone, outcome.refiled) == (1, 0)
    assert world.items() == {}


def test_a_job_typed_twice_in_two_shapes_is_kept_once_and_the_copy_dead_lettered(world: World) -> None:
    canonical = world.put("j#2026-02-09T11:30", f"2026-02-09T11:33:00.000Z#{ID}")
    copy = world.put("j#2026-02-09T11:30", f"2026-02-09T11:33:00Z#{ID}", detail={"other": True})
    outcome = world.receive(insert(copy["pk"], copy["sk"]))
    assert world.items() == {(canonical["pk"], canonical["sk"]): canonical}
    [letter] = world.dead_letters()
    assert letter["job"] == copy
    assert "already filed under j#2026-02-09T11:30 2026-02-09T11:33:00.000Z#" in letter["reason"]
    assert outcome.dead_lettered == 1


def test_a_record_delivered_again_changes_nothing(world: World) -> None:
    typed = world.put("j#2026-02-09T11:33", f"2026-02-09T11:33:00Z#{ID}")
    world.receive(insert(typed["pk"], typed["sk"]))
    before = world.items()
    again = world.receive(insert(typed["pk"], typed["sk"]))
    assert world.items() == before
    assert (again.gone, again.refiled) == (1, 0)


def test_only_inserts_of_jobs_are_looked_at(world: World) -> None:
    world.put("j#2026-02-09T11:33", f"2026-02-09T11:33:00Z#{ID}")
    outcome = world.receive(
        insert("j#2026-02-09T11:33", f"2026-02-09T11:33:00Z#{ID}", event_name="MODIFY"),
        insert("j#2026-02-09T11:33", f"2026-02-09T11:33:00Z#{ID}", event_name="REMOVE"),
        insert("cursor", "dispatcher"),
        insert("series#abc", "series"),
    )
    assert outcome.as_dict() == {"kept": 0, "refiled": 0, "deadLettered": 0, "gone": 0, "rewoundTo": None}
    assert set(world.items()) == {("j#2026-02-09T11:33", f"2026-02-09T11:33:00Z#{ID}")}


def test_without_the_dead_letter_table_an_unreadable_job_fails_the_batch_loudly(world: World) -> None:
    world.arrivals.dead_letters = None
    world.put("j#2026-02-09T11:30", f"soon#{ID}")
    with pytest.raises(RuntimeError, match="DEAD_LETTER_TABLE_NAME"):
        world.receive(insert("j#2026-02-09T11:30", f"soon#{ID}"))
    assert len(world.items()) == 1  # still there: the stream delivers the batch again


# -- the handler, imported as Lambda imports it ----------------------------------------------------------------


@dataclass(frozen=True)
class FakeLambdaContext:
    function_name: str = "onthedot-rewind"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:onthedot-rewind"
    aws_request_id: str = "7d2b7a4e-0000-4000-8000-000000000002"


@pytest.fixture
def app(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``functions.rewind.app`` under the function's environment: read, and its clients made, at its first call."""
    for name, value in rewind_environment(Settings(), JOBS, dead_letter_table_name=DEAD).items():
        monkeypatch.setenv(name, value)
    from functions.rewind import app

    forget(app)
    yield app
    forget(app)


def forget(app: Any) -> None:
    """Drop what the handler read and created on its first call, as a new Lambda runtime would start."""
    for cached in (app.config, app.arrivals, app.lambda_client):
        cached.cache_clear()


def test_the_handler_judges_every_insert_of_its_batch(world: World, app: Any) -> None:
    due = datetime.now(UTC) + timedelta(hours=1)
    shapes = {
        "canonical": keys.sort_key(due, "a"),
        "offset": due.astimezone().isoformat() + "#b",
        "text": "in an hour#c",
    }
    for sk in shapes.values():
        world.put("j#typed", sk)
    event = {"Records": [insert("j#typed", sk) for sk in shapes.values()]}

    response = app.handler(event, FakeLambdaContext())

    assert response == {"kept": 0, "refiled": 2, "deadLettered": 1, "gone": 0, "rewoundTo": None}
    assert json.loads(json.dumps(response)) == response
    assert {pk for pk, _ in world.items()} == {keys.partition_key(due)}


def test_the_configuration_is_the_environment_the_settings_make(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in rewind_environment(Settings(shards=3), JOBS, dead_letter_table_name=DEAD).items():
        monkeypatch.setenv(name, value)
    assert app.config() == app.Config(
        table_name=JOBS,
        bucket_minutes=Settings().bucketMinutes,
        catch_up_buckets=Settings().catchUpBuckets,
        dead_letter_table_name=DEAD,
        shards=3,
    )


def test_without_its_table_the_function_fails_its_first_call_naming_the_variable(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOBS_TABLE_NAME")
    with pytest.raises(RuntimeError, match=r"JOBS_TABLE_NAME is not set .*rewind_environment"):
        app.handler({"Records": []}, FakeLambdaContext())


def test_an_occurrence_long_past_stays_where_its_series_points_and_the_cursor_goes_back(world: World) -> None:
    # GIVEN the dispatcher, back from an outage, wrote the next occurrence of a series: two hours ago
    world.jobs.put_item(Item={"pk": "cursor", "sk": "dispatcher", "bucket": "j#2026-02-09T11:25"})
    occurrence = world.put("j#2026-02-09T09:30", f"2026-02-09T09:30:00.000Z#{ID}", series="s1", occurrence=Decimal(3))
    outcome = world.receive(insert(occurrence["pk"], occurrence["sk"]))
    assert world.items() == {(occurrence["pk"], occurrence["sk"]): occurrence}
    assert (outcome.kept, outcome.rewound_to) == (1, "j#2026-02-09T09:30")
    assert world.cursor() == "j#2026-02-09T09:30"


def test_an_occurrence_under_keys_of_another_shape_is_dead_lettered(world: World) -> None:
    occurrence = world.put("j#2026-02-09T11:33", f"2026-02-09T11:33:00Z#{ID}", series="s1")
    outcome = world.receive(insert(occurrence["pk"], occurrence["sk"]))
    assert outcome.dead_lettered == 1
    assert world.items() == {}
    assert "series s1" in world.dead_letters()[0]["reason"]
