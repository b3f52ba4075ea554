"""The dead letter through the Python API and the CLI, against an in-process moto: list, size and redrive.

Dead letters are written here by ``functions/publish/dead_letter.py`` itself (the publish function's writer), from
the job item as the publish function reads it, and the job is then deleted from the jobs table as the dispatcher
deletes it: the shape the API reads is the shape the dispatcher writes.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from functions.publish.dead_letter import POISON, DeadLetters
from onthedot import cli
from onthedot.client import DeadLetter, InvalidJob, Job, JobNotFound, Scheduler
from onthedot.core.keys import due_of, partition_key, sort_key, with_due
from onthedot.deploy import target
from onthedot.deploy.target import LOCAL, Target, resolve
from tests.support import Clock, create_job_tables

REGION = "us-east-1"
JOBS = "Jobs"
DEAD = "DeadLetters"
SCHEDULED = datetime(2026, 2, 9, 11, 33, 20, 250000, tzinfo=UTC)
NOW = datetime(2026, 2, 9, 12, 47, 5, 678901, tzinfo=UTC)  # when the dead letters are read and redriven
NOW_MS = NOW.replace(microsecond=678000)
NO_TYPE = f"{POISON}'detail_type' must be a string of 1 to 128 characters"


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    create_job_tables(client, JOBS, DEAD)
    return client


@pytest.fixture
def clock() -> Clock:
    return Clock(SCHEDULED)


@pytest.fixture
def scheduler(dynamodb: Any, clock: Clock) -> Scheduler:
    return Scheduler(JOBS, dead_letter_table=DEAD, dynamodb=dynamodb, clock=clock)


class Dispatcher:
    """Dead-letters jobs the way the publish function and the dispatcher do."""

    def __init__(self, clock: Clock) -> None:
        resource = boto3.resource("dynamodb", region_name=REGION)
        self.jobs = resource.Table(JOBS)
        self.writer = DeadLetters(
            jobs_table=self.jobs, dead_letter_table=resource.Table(DEAD), max_attempts=3, now=clock
        )

    def write(self, item: dict[str, Any]) -> dict[str, Any]:
        """A job typed in by hand."""
        self.jobs.put_item(Item=item)
        return item

    def bury(self, sk: str, reason: str = NO_TYPE, *, failures: int = 0) -> None:
        """Fail the job ``failures`` times, then dead-letter it and delete it from the jobs table."""
        pk = partition_key(datetime.fromisoformat(sk.partition("#")[0]))
        for _ in range(failures):
            self.writer.count_failure({"pk": pk, "sk": sk}, "EventBridge said no")
        item = self.jobs.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True)["Item"]
        assert self.writer.bury(item, reason, int(item.get("attempts", 0)))
        self.writer.grow(1)
        self.jobs.delete_item(Key={"pk": pk, "sk": sk})


@pytest.fixture
def dispatcher(dynamodb: Any, clock: Clock) -> Dispatcher:
    return Dispatcher(clock)


def hand_written(due: datetime, job_id: str | None = None, **attributes: Any) -> dict[str, Any]:
    """A job in the original item format, with a UUIDv4 id as a person would type it."""
    job_id = job_id or str(uuid.uuid4())
    return {"pk": partition_key(due), "sk": sort_key(due, job_id), "detail": {"to": "ada@example.com"}} | attributes


def scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    deserializer = TypeDeserializer()
    items = [
        {name: deserializer.deserialize(value) for name, value in item.items()}
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
    ]
    return sorted(items, key=lambda item: (item["pk"], item["sk"]))


def everything(dynamodb: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return scan(dynamodb, JOBS), scan(dynamodb, DEAD)


def writes(dynamodb: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every write call the client makes from now on, with its parameters."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):

        def record(params: dict[str, Any], operation: str = operation, **_: Any) -> None:
            calls.append((operation, params))

        dynamodb.meta.events.register(f"provide-client-params.dynamodb.{operation}", record)
    return calls


# -- listing -------------------------------------------------------------------------------------------------------


def test_dead_letters_are_listed_in_due_order_with_why_and_when(
    scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock
) -> None:
    late = scheduler.schedule("invoice", {"order": 42}, at=SCHEDULED + timedelta(minutes=9))
    early = dispatcher.write(hand_written(SCHEDULED + timedelta(seconds=1), detail_type=""))
    middle = scheduler.schedule("reminder", {"to": "a@b.c", "n": 1.5}, at=SCHEDULED + timedelta(minutes=2))
    clock.now = SCHEDULED + timedelta(minutes=10)
    dispatcher.bury(sort_key(late.due, late.id), "3 attempts failed; the last: InternalFailure", failures=3)
    dispatcher.bury(early["sk"])
    dispatcher.bury(sort_key(middle.due, middle.id), f"{POISON}event is 262300 bytes, over EventBridge's 262144")
    clock.now = NOW

    page = scheduler.dead_letters()

    assert page.cursor is None
    assert [dead.job_id for dead in page.dead_letters] == [early["sk"].partition("#")[2], middle.id, late.id]
    first = page.dead_letters[0]
    assert first == DeadLetter(
        job_id=early["sk"].partition("#")[2],
        due=SCHEDULED + timedelta(seconds=1),
        detail_type="",
        detail={"to": "ada@example.com"},
        reason=NO_TYPE,
        attempts=0,
        dead_at=SCHEDULED + timedelta(minutes=10),
        sk=early["sk"],
    )
    assert page.dead_letters[1].detail == {"to": "a@b.c", "n": 1.5}
    assert (page.dead_letters[2].attempts, page.dead_letters[2].detail_type) == (3, "invoice")
    assert page.dead_letters[2].reason.startswith("3 attempts failed")
    assert json.loads(json.dumps(first.as_dict())) == first.as_dict()
    assert first.as_dict()["due"] == "2026-02-09T11:33:21.250Z"
    assert scheduler.dead_letter_size() == 3


def test_an_empty_dead_letter(scheduler: Scheduler) -> None:
    assert scheduler.dead_letters().dead_letters == []
    assert scheduler.dead_letters().cursor is None
    assert scheduler.dead_letter_size() == 0


@pytest.mark.parametrize(("count", "limit"), [(5, 2), (4, 2), (3, 1), (3, 3), (3, 100)])
def test_dead_letters_page_with_a_cursor(scheduler: Scheduler, dispatcher: Dispatcher, count: int, limit: int) -> None:
    sks = []
    for n in range(count):
        sks.append(dispatcher.write(hand_written(SCHEDULED + timedelta(seconds=n)))["sk"])
        dispatcher.bury(sks[-1])

    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        page = scheduler.dead_letters(limit=limit, cursor=cursor)
        pages += 1
        assert 0 < len(page.dead_letters) <= limit  # never an empty last page
        seen += [dead.sk for dead in page.dead_letters]
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == sks
    assert pages == -(-count // limit)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"cursor": "nonsense"}, "cursor")],
)
def test_bad_listing_arguments_name_the_field(scheduler: Scheduler, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidJob) as raised:
        scheduler.dead_letters(**kwargs)
    assert raised.value.field == field


def test_a_list_jobs_cursor_is_not_a_dead_letter_cursor(scheduler: Scheduler) -> None:
    for n in range(3):
        scheduler.schedule("reminder", {}, delay=timedelta(minutes=n))
    cursor = scheduler.list_jobs(limit=1).cursor
    assert cursor is not None
    with pytest.raises(InvalidJob, match="cursor"):
        scheduler.dead_letters(cursor=cursor)


# -- redrive -------------------------------------------------------------------------------------------------------


def test_redrive_by_job_id_puts_the_job_back_due_now(
    scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock, dynamodb: Any
) -> None:
    # GIVEN a job that failed its last attempt and was dead-lettered
    job = scheduler.schedule("reminder", {"to": "a@b.c"}, at=SCHEDULED + timedelta(minutes=1))
    clock.now = SCHEDULED + timedelta(minutes=3)
    dispatcher.bury(sort_key(job.due, job.id), "3 attempts failed; the last: InternalFailure", failures=3)
    clock.now = NOW
    calls = writes(dynamodb)

    # WHEN it is sent back by its id
    back = scheduler.redrive(job.id)

    # THEN it is due now, under its id moved to now, in the current bucket, with its attempts cleared
    assert back == Job(with_due(job.id, NOW_MS), NOW_MS, "reminder", {"to": "a@b.c"}, created_at=job.created_at)
    assert due_of(back.id) == NOW_MS
    jobs, dead = everything(dynamodb)
    assert jobs == [
        {
            "pk": "j#2026-02-09T12:45",
            "sk": f"2026-02-09T12:47:05.678Z#{back.id}",
            "detail": {"to": "a@b.c"},
            "detail_type": "reminder",
            "created_at": "2026-02-09T11:33:20.250Z",
        }
    ]
    assert scheduler.get(back.id) == back
    # AND the dead letter is gone and its size went down, all in one transaction across both tables
    assert dead == [{"pk": "meta", "sk": "size", "size": 0}]
    assert scheduler.dead_letter_size() == 0
    assert [operation for operation, _ in calls] == ["TransactWriteItems"]
    tables = [next(iter(op.values()))["TableName"] for op in calls[0][1]["TransactItems"]]
    assert tables == [JOBS, DEAD, DEAD]


def test_redrive_of_a_hand_written_job_keeps_its_id(
    scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock, dynamodb: Any
) -> None:
    job_id = str(uuid.uuid4())
    item = dispatcher.write(hand_written(SCHEDULED, job_id, detail_type="", created_at="yesterday"))
    dispatcher.bury(item["sk"])
    clock.now = NOW

    back = scheduler.redrive(job_id, detail_type="reminder")

    assert (back.id, back.due, back.detail_type, back.detail) == (job_id, NOW_MS, "reminder", {"to": "ada@example.com"})
    jobs, dead = everything(dynamodb)
    assert [(item["pk"], item["sk"], item["detail_type"]) for item in jobs] == [
        (partition_key(NOW), sort_key(NOW_MS, job_id), "reminder")
    ]
    assert jobs[0]["created_at"] == "yesterday"  # what the job held, it keeps
    assert dead == [{"pk": "meta", "sk": "size", "size": 0}]


def test_redrive_by_sort_key(scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock, dynamodb: Any) -> None:
    item = dispatcher.write(hand_written(SCHEDULED, detail_type="x" * 129))
    other = dispatcher.write(hand_written(SCHEDULED, detail_type=""))
    dispatcher.bury(item["sk"])
    dispatcher.bury(other["sk"])
    clock.now = NOW

    back = scheduler.redrive(item["sk"], detail_type="report")

    assert back.id == item["sk"].partition("#")[2]
    assert [dead.sk for dead in scheduler.dead_letters().dead_letters] == [other["sk"]]
    assert scheduler.dead_letter_size() == 1
    assert [job["detail_type"] for job in scan(dynamodb, JOBS)] == ["report"]


def test_the_fixes_are_applied(scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock, dynamodb: Any) -> None:
    item = dispatcher.write(hand_written(SCHEDULED, detail="not a map", detail_type=""))
    dispatcher.bury(item["sk"], f"{POISON}'detail' must be a map (a JSON object), got str")
    clock.now = NOW

    back = scheduler.redrive(item["sk"], detail_type="reminder", detail={"to": "b@c.d", "ratio": 0.5})

    assert (back.detail_type, back.detail) == ("reminder", {"to": "b@c.d", "ratio": 0.5})
    [stored] = scan(dynamodb, JOBS)
    assert (stored["detail_type"], stored["detail"]) == ("reminder", {"to": "b@c.d", "ratio": 0.5})
    assert not {"attempts", "last_error"} & stored.keys()


def test_attempts_and_the_last_error_are_cleared(
    scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock, dynamodb: Any
) -> None:
    job = scheduler.schedule("reminder", {}, at=SCHEDULED)
    dispatcher.bury(sort_key(job.due, job.id), "3 attempts failed", failures=3)
    [dead] = scheduler.dead_letters().dead_letters
    assert dead.attempts == 3
    clock.now = NOW

    scheduler.redrive(job.id)

    [stored] = scan(dynamodb, JOBS)
    assert not {"attempts", "last_error"} & stored.keys()


def test_a_key_that_named_the_job_names_it_again(
    scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock, dynamodb: Any
) -> None:
    job = scheduler.schedule("invoice", {"order": 42}, at=SCHEDULED, key="invoice-42")
    dispatcher.bury(sort_key(job.due, job.id), "3 attempts failed", failures=3)
    clock.now = NOW

    back = scheduler.redrive(job.id)

    assert scheduler.schedule("invoice", {"order": 42}, at=SCHEDULED, key="invoice-42") == back


@pytest.mark.parametrize(
    ("fixes", "field"),
    [
        ({}, "detail_type"),  # the job as it was dead-lettered: no detail-type
        ({"detail_type": ""}, "detail_type"),
        ({"detail_type": "x" * 129}, "detail_type"),
        ({"detail_type": "reminder", "detail": [1, 2]}, "detail"),
        ({"detail_type": "reminder", "detail": {"blob": "x" * (256 * 1024)}}, "detail"),
        ({"detail_type": "reminder", "detail": {"n": float("nan")}}, "detail"),
    ],
)
def test_a_bad_fix_is_refused_and_nothing_is_written(
    scheduler: Scheduler, dispatcher: Dispatcher, dynamodb: Any, fixes: dict[str, Any], field: str
) -> None:
    item = dispatcher.write(hand_written(SCHEDULED, detail_type=""))
    dispatcher.bury(item["sk"])
    before = everything(dynamodb)

    with pytest.raises(InvalidJob) as raised:
        scheduler.redrive(item["sk"], **fixes)

    assert raised.value.field == field
    assert everything(dynamodb) == before


def test_an_unfixed_poison_job_says_what_to_fix(scheduler: Scheduler, dispatcher: Dispatcher) -> None:
    item = dispatcher.write(hand_written(SCHEDULED, detail_type=""))
    dispatcher.bury(item["sk"])
    with pytest.raises(InvalidJob, match=r"^detail_type: .*send it back with a fixed detail-type"):
        scheduler.redrive(item["sk"])


@pytest.mark.parametrize(
    "wanted",
    [
        "0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",  # an onthedot id
        "5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10",  # a hand-typed id
        "2026-02-09T11:33:20.250Z#5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10",  # a sort key
        "5b7e7a4e",  # a prefix of a dead letter's id is not its id
    ],
)
def test_an_unknown_dead_letter_is_not_found(
    scheduler: Scheduler, dispatcher: Dispatcher, dynamodb: Any, wanted: str
) -> None:
    dispatcher.write(hand_written(SCHEDULED, "5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f1a", detail_type=""))
    dispatcher.bury(sort_key(SCHEDULED, "5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f1a"))
    before = everything(dynamodb)
    with pytest.raises(JobNotFound, match="no dead letter"):
        scheduler.redrive(wanted)
    assert everything(dynamodb) == before


def test_a_job_is_sent_back_once(scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock) -> None:
    job = scheduler.schedule("reminder", {}, at=SCHEDULED)
    dispatcher.bury(sort_key(job.due, job.id), "3 attempts failed", failures=3)
    clock.now = NOW
    scheduler.redrive(job.id)
    with pytest.raises(JobNotFound):
        scheduler.redrive(job.id)
    assert scheduler.dead_letter_size() == 0


def test_an_id_dead_lettered_twice_asks_for_the_sort_key(scheduler: Scheduler, dispatcher: Dispatcher) -> None:
    job_id = str(uuid.uuid4())
    for seconds in (0, 30):
        item = dispatcher.write(hand_written(SCHEDULED + timedelta(seconds=seconds), job_id, detail_type=""))
        dispatcher.bury(item["sk"])
    with pytest.raises(InvalidJob, match=f"2 dead letters have the id {job_id}: send one back by its sort key"):
        scheduler.redrive(job_id)


# -- occurrences of a recurring job --------------------------------------------------------------------------------


@pytest.fixture
def dead_occurrence(scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock) -> Job:
    """The first occurrence of a series, dead-lettered after its last attempt (its detail filled in from the
    series, as the publish function fills it in before publishing)."""
    series = scheduler.schedule_recurring("standup", {"room": "Ada"}, cron="0 12 * * *")
    assert series.next is not None
    occurrence = series.next
    sk = sort_key(occurrence.due, occurrence.id)
    dispatcher.jobs.update_item(
        Key={"pk": partition_key(occurrence.due), "sk": sk},
        UpdateExpression="SET detail = :detail",
        ExpressionAttributeValues={":detail": {"room": "Ada"}},
    )
    dispatcher.bury(sk, "3 attempts failed", failures=3)
    clock.now = NOW
    return occurrence


def test_an_occurrence_goes_back_as_the_series_pending_occurrence(
    scheduler: Scheduler, dead_occurrence: Job, dynamodb: Any
) -> None:
    assert dead_occurrence.series is not None
    assert scheduler.dead_letters().dead_letters[0].series == dead_occurrence.series

    back = scheduler.redrive(dead_occurrence.id)

    assert (back.id, back.due) == (with_due(dead_occurrence.id, NOW_MS), NOW_MS)
    assert (back.series, back.detail_type, back.detail) == (dead_occurrence.series, "standup", {"room": "Ada"})
    [stored] = [item for item in scan(dynamodb, JOBS) if item["pk"].startswith("j#")]
    assert stored == {
        "pk": partition_key(NOW),
        "sk": sort_key(NOW_MS, back.id),
        "detail_type": "standup",
        "series": dead_occurrence.series,
        "occurrence": 1,
        "created_at": "2026-02-09T11:33:20.250Z",
    }
    # the series waits on it again, so that the dispatcher moves the series on when it fires
    series = scheduler.get_series(dead_occurrence.series)
    assert series.next is not None
    assert series.next.id == back.id
    assert scheduler.get(back.id) == back
    assert scheduler.dead_letter_size() == 0


@pytest.mark.parametrize(
    ("fixes", "field"), [({"detail_type": "reminder"}, "detail_type"), ({"detail": {"room": "Bo"}}, "detail")]
)
def test_a_fix_to_an_occurrence_is_refused(
    scheduler: Scheduler, dead_occurrence: Job, dynamodb: Any, fixes: dict[str, Any], field: str
) -> None:
    before = everything(dynamodb)
    with pytest.raises(InvalidJob, match="fix the series instead") as raised:
        scheduler.redrive(dead_occurrence.id, **fixes)
    assert raised.value.field == field
    assert everything(dynamodb) == before


def test_an_occurrence_of_a_cancelled_series_cannot_go_back(
    scheduler: Scheduler, dead_occurrence: Job, dynamodb: Any
) -> None:
    assert dead_occurrence.series is not None
    scheduler.cancel_series(dead_occurrence.series)
    before = everything(dynamodb)
    with pytest.raises(InvalidJob, match="was cancelled or has moved on"):
        scheduler.redrive(dead_occurrence.id)
    assert everything(dynamodb) == before


# -- without a dead-letter table -------------------------------------------------------------------------------


def test_a_scheduler_without_a_dead_letter_table_says_so(dynamodb: Any) -> None:
    scheduler = Scheduler(JOBS, dynamodb=dynamodb)
    for call in (scheduler.dead_letters, scheduler.dead_letter_size, lambda: scheduler.redrive("x")):
        with pytest.raises(InvalidJob) as raised:
            call()
        assert raised.value.field == "dead_letter_table"


# -- the CLI ---------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_scheduler(
    monkeypatch: pytest.MonkeyPatch, dynamodb: Any, scheduler: Scheduler, dispatcher: Dispatcher, clock: Clock
) -> Scheduler:
    """``onthedot`` commands run against the moto tables; the dispatcher has dead-lettered one poison job."""
    local = Target(JOBS, "bus", "moto", dead_letter_table=DEAD)
    monkeypatch.setattr(cli, "connect", lambda _args: (scheduler, local))
    item = dispatcher.write(hand_written(SCHEDULED, "5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10", detail_type=""))
    dispatcher.bury(item["sk"])
    clock.now = NOW
    return scheduler


def test_dlq_list_shows_the_dead_letters_and_the_size(
    cli_scheduler: Scheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["dlq", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["JOB", "DUE", "TYPE", "ATTEMPTS", "REASON", "DEAD-LETTERED"]
    assert lines[1].startswith("5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10  2026-02-09T11:33:20.250Z  -     0  ")
    assert "poison job: 'detail_type' must be a string of 1 to 128 char…  2026-02-09T11:33:20.250Z" in lines[1]
    assert lines[2] == "1 dead-lettered job in all"

    assert cli.main(["dlq", "list", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["size"] == 1
    assert document["cursor"] is None
    assert document["dead_letters"][0]["reason"] == NO_TYPE


def test_dlq_redrive_prints_the_job_due_now(
    cli_scheduler: Scheduler, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    detail = tmp_path / "detail.json"
    detail.write_text('{"to": "b@c.d"}', encoding="utf-8")
    assert (
        cli.main(
            ["dlq", "redrive", "5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10", "--type", "reminder", "--detail", f"@{detail}"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("sent back: it fires on the next dispatcher run\njob ")
    assert "5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10" in out
    assert cli_scheduler.dead_letter_size() == 0
    assert cli.main(["dlq", "list"]) == 0
    assert capsys.readouterr().out == "no dead-lettered jobs\n"


@pytest.mark.parametrize("by_sort_key", [False, True])
def test_dlq_redrive_of_an_onthedot_job_prints_its_old_and_new_id(
    cli_scheduler: Scheduler,
    dispatcher: Dispatcher,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
    *,
    by_sort_key: bool,
) -> None:
    clock.now = SCHEDULED
    job = cli_scheduler.schedule("reminder", {}, at=SCHEDULED + timedelta(seconds=5))
    dispatcher.bury(sort_key(job.due, job.id), "3 attempts failed", failures=3)
    clock.now = NOW

    assert cli.main(["dlq", "redrive", sort_key(job.due, job.id) if by_sort_key else job.id]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == [f"was      {job.id}", f"job      {with_due(job.id, NOW_MS)}"]


@pytest.mark.parametrize(
    ("argv", "code", "stderr"),
    [
        (["dlq", "redrive", "5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10"], 2, "onthedot: detail_type: "),
        (["dlq", "redrive", "5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10", "--type", ""], 2, "onthedot: detail_type: "),
        (["dlq", "redrive", "5b7e7a4e-3f1c-4b9e-9a51-0c6f7d8e9f10", "--detail", "[1]"], 2, "onthedot: detail: "),
        (["dlq", "redrive", str(uuid.uuid4()), "--type", "reminder"], 1, "onthedot: no dead letter "),
        (["dlq", "list", "--cursor", "nonsense"], 2, "onthedot: cursor: "),
    ],
)
def test_dlq_exit_codes(
    cli_scheduler: Scheduler, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, stderr: str
) -> None:
    assert cli.main(argv) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(stderr)
    assert "\n" not in captured.err.rstrip("\n")
    assert cli_scheduler.dead_letter_size() == 1


def test_dlq_without_a_dead_letter_table_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(target, "listening", lambda _host, _port: pytest.fail("must not probe"))
    assert cli.main(["dlq", "list", "--table", "Jobs"]) == 1
    assert capsys.readouterr().err == (
        "onthedot: no dead-letter table known for table Jobs: give --dead-letter-table NAME "
        "(a stack names it in its DeadLetterTableName output)\n"
    )


@pytest.mark.parametrize("argv", [["dlq"], ["dlq", "redrive"], ["dlq", "list", "--limit", "0"], ["dlq", "purge"]])
def test_dlq_argument_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(argv)
    assert raised.value.code == 2
    assert "error: " in capsys.readouterr().err


# -- where the dead-letter table is found ----------------------------------------------------------------------


def test_the_local_dead_letter_table_mirrors_the_local_cloud() -> None:
    from onthedot.local.cloud import Names

    assert LOCAL.dead_letter_table == Names().dead_letter_table


def test_the_local_cloud_has_its_dead_letter_table() -> None:
    found = resolve(environ={}, probe=lambda _host, _port: True)
    assert found.dead_letter_table == LOCAL.dead_letter_table
    found = resolve(environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:4599"}, probe=lambda _host, _port: True)
    assert found.dead_letter_table == LOCAL.dead_letter_table
    assert resolve(port=4600, dead_letter_table="mine", probe=lambda _h, _p: True).dead_letter_table == "mine"


def test_a_named_table_has_the_dead_letter_table_named_with_it() -> None:
    assert resolve(table="Jobs").dead_letter_table is None
    assert resolve(table="Jobs", dead_letter_table="Dead").dead_letter_table == "Dead"
    assert resolve(table=LOCAL.table).dead_letter_table == LOCAL.dead_letter_table


def test_a_stack_names_its_dead_letter_table(aws: None) -> None:
    from botocore.stub import Stubber

    def stack(outputs: dict[str, str]) -> Any:
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        stubber = Stubber(cloudformation)
        described = {
            "StackName": "OnTheDot",
            "CreationTime": NOW,
            "StackStatus": "CREATE_COMPLETE",
            "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
        }
        stubber.add_response("describe_stacks", {"Stacks": [described]}, {"StackName": "OnTheDot"})
        stubber.activate()
        return cloudformation

    outputs = {"JobsTableName": "OnTheDot-Jobs1", "DeadLetterTableName": "OnTheDot-DeadLetters1"}
    assert resolve(stack="OnTheDot", cloudformation=stack(outputs)).dead_letter_table == "OnTheDot-DeadLetters1"
    found = resolve(stack="OnTheDot", dead_letter_table="Other", cloudformation=stack(outputs))
    assert found.dead_letter_table == "Other"
    assert resolve(stack="OnTheDot", cloudformation=stack({"JobsTableName": "T"})).dead_letter_table is None
