"""Bad input, as a user types it, against moto: the CLI's ``main(argv)`` in-process and the Python API.

Every case ends the same way: no traceback, exit 2 (the API: ``InvalidJob``) naming the field, and both tables
exactly as they were. The sweep covers every option of every command, with values from the edges of what the
parsers accept: the ends of the calendar with an offset, numbers too big for a timedelta or an int, NaN and
infinities, nesting past any stack, blanks, control characters, text that is not UTF-8.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from onthedot import cli
from onthedot.client import InvalidJob, JobRequest, Scheduler
from onthedot.core.jobs import DEAD_PK, DETAIL, DETAIL_TYPE, JOB, REASON, SIZE, SIZE_PK, SIZE_SK
from onthedot.core.keys import job_key, new_job_id
from tests.support import create_job_tables

JOBS = "Jobs"
DEAD = "DeadLetters"
TARGET = ["--table", JOBS, "--dead-letter-table", DEAD]
FAR_ID = "ffffffff-ffff-7fff-bfff-ffffffffffff"  # a UUIDv7 whose time is in the year 10889
PLUS_ONE, MINUS_ONE = timezone(timedelta(hours=1)), timezone(timedelta(hours=-1))


def nested(depth: int, leaf: Any = 1) -> dict[str, Any]:
    value: dict[str, Any] = {"a": leaf}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


DEEP_JSON = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_job_tables(client, JOBS, DEAD)
    return client


@pytest.fixture
def seeded(dynamodb: Any) -> dict[str, str]:
    """A pending job, a series and a dead letter, so that every command has something to work on."""
    scheduler = Scheduler(JOBS, dead_letter_table=DEAD, dynamodb=dynamodb)
    job = scheduler.schedule("existing", {"n": 1}, delay=timedelta(hours=1), key="existing")
    series = scheduler.schedule_recurring("existing", {}, rate="1 hour")
    dead_id = new_job_id(datetime.now(UTC) - timedelta(hours=1))
    dead_sk = job_key(dead_id)[1]
    dynamodb.put_item(
        TableName=DEAD,
        Item={
            "pk": {"S": DEAD_PK},
            "sk": {"S": dead_sk},
            JOB: {"M": {DETAIL_TYPE: {"S": "reminder"}, DETAIL: {"M": {}}}},
            REASON: {"S": "poison job: testing"},
        },
    )
    dynamodb.put_item(TableName=DEAD, Item={"pk": {"S": SIZE_PK}, "sk": {"S": SIZE_SK}, SIZE: {"N": "1"}})
    return {"job": job.id, "series": series.id, "dead": dead_id}


def everything(dynamodb: Any) -> list[list[dict[str, Any]]]:
    """Both tables, every item as plain values, in key order."""
    deserialize = TypeDeserializer().deserialize
    tables = []
    for table in (JOBS, DEAD):
        items = [
            {name: deserialize(value) for name, value in item.items()}
            for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
            for item in page["Items"]
        ]
        tables.append(sorted(items, key=lambda item: (item["pk"], item["sk"])))
    return tables


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``onthedot ARGV`` in-process: its exit code (argparse's SystemExit too), stdout and stderr."""
    try:
        code = cli.main(argv)
    except SystemExit as stopped:
        code = stopped.code if isinstance(stopped.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def message(err: str) -> str:
    """The one line that says why, without its prefix: ``onthedot: `` or argparse's ``onthedot CMD: error: ``."""
    line = err.strip().splitlines()[-1]
    return line.split(": error: ", 1)[1] if ": error: " in line else line.removeprefix("onthedot: ")


def fill(arg: str, ids: dict[str, str]) -> str:
    """``arg`` with ``{job}``, ``{series}``, ``{dead}`` replaced by the seeded ids (JSON keeps its braces)."""
    for name, value in ids.items():
        arg = arg.replace("{" + name + "}", value)
    return arg


def with_target(argv: list[str]) -> list[str]:
    """The command words, then the table options, then the rest (dlq has two command words)."""
    if argv[0] == "local" or any(option in argv for option in ("--table", "--stack", "--port")):
        return argv
    words = 2 if argv[0] == "dlq" else 1
    return [*argv[:words], *TARGET, *argv[words:]]


# -- the CLI ----------------------------------------------------------------------------------------------------
# (id, argv with {job}/{series}/{dead} standing for the seeded ids, the field the message names)

SCHEDULE = ["schedule", "--type", "t"]
RECURRING = ["schedule", "--type", "t", "--rate", "1 day"]
CLI_CASES: list[tuple[str, list[str], str]] = [
    # due times
    ("at year 1 with an offset", [*SCHEDULE, "--at", "0001-01-01T00:00:00+01:00"], "at"),
    ("at year 9999 with an offset", [*SCHEDULE, "--at", "9999-12-31T23:59:59-01:00"], "at"),
    ("at empty", [*SCHEDULE, "--at", ""], "at"),
    ("at blank", [*SCHEDULE, "--at", "   "], "at"),
    ("at without a zone", [*SCHEDULE, "--at", "2026-03-01T09:00:00"], "at"),
    ("at 30 February", [*SCHEDULE, "--at", "2026-02-30T09:00:00Z"], "at"),
    ("at hour 25", [*SCHEDULE, "--at", "2026-03-01T25:00:00Z"], "at"),
    ("at a NUL", [*SCHEDULE, "--at", "\x00"], "at"),
    ("at words", [*SCHEDULE, "--at", "tomorrow"], "at"),
    ("at a six-digit year", [*SCHEDULE, "--at", "+10000-01-01T00:00:00Z"], "at"),
    ("at an offset of a day", [*SCHEDULE, "--at", "2026-03-01T09:00:00+24:00"], "at"),
    ("in 20 digits of days", [*SCHEDULE, "--in", "99999999999999999999d"], "--in"),
    ("in beyond timedelta", [*SCHEDULE, "--in", "1000000000d"], "--in"),
    ("in beyond int's digits", [*SCHEDULE, "--in", "1" * 5000 + "s"], "--in"),
    ("in beyond the calendar", [*SCHEDULE, "--in", "999999999d"], "delay"),
    ("in 0", [*SCHEDULE, "--in", "0s"], "--in"),
    ("in negative", [*SCHEDULE, "--in", "-5m"], "--in"),
    ("in empty", [*SCHEDULE, "--in", ""], "--in"),
    ("in without a unit", [*SCHEDULE, "--in", "5"], "--in"),
    ("in a fraction", [*SCHEDULE, "--in", "1.5h"], "--in"),
    ("in inf", [*SCHEDULE, "--in", "inf"], "--in"),
    ("in nan", [*SCHEDULE, "--in", "nan"], "--in"),
    ("in other digits", [*SCHEDULE, "--in", "\u0665m"], "--in"),
    ("in with a NUL", [*SCHEDULE, "--in", "5m\x00"], "--in"),
    # detail-types
    ("type empty", ["schedule", "--in", "5m", "--type", ""], "detail_type"),
    ("type blank", ["schedule", "--in", "5m", "--type", "   "], "detail_type"),
    ("type a tab", ["schedule", "--in", "5m", "--type", "\t"], "detail_type"),
    ("type a bell", ["schedule", "--in", "5m", "--type", "a\x07b"], "detail_type"),
    ("type an escape sequence", ["schedule", "--in", "5m", "--type", "a\x1b[31mred"], "detail_type"),
    ("type a line break", ["schedule", "--in", "5m", "--type", "a\nb"], "detail_type"),
    ("type a line separator", ["schedule", "--in", "5m", "--type", "a\u2028b"], "detail_type"),
    ("type a NUL", ["schedule", "--in", "5m", "--type", "a\x00b"], "detail_type"),
    ("type DEL", ["schedule", "--in", "5m", "--type", "\x7f"], "detail_type"),
    ("type a C1 control", ["schedule", "--in", "5m", "--type", "a\x9bb"], "detail_type"),
    ("type 129 characters", ["schedule", "--in", "5m", "--type", "x" * 129], "detail_type"),
    ("type a lone surrogate", ["schedule", "--in", "5m", "--type", "a\ud800"], "detail_type"),
    # details
    ("detail an empty key", [*SCHEDULE, "--in", "5m", "--detail", '{"": 1}'], "detail"),
    ("detail a nested empty key", [*SCHEDULE, "--in", "5m", "--detail", '{"a": [{"": 1}]}'], "detail"),
    ("detail 33 levels", [*SCHEDULE, "--in", "5m", "--detail", json.dumps(nested(33))], "detail"),
    ("detail 100,000 levels", [*SCHEDULE, "--in", "5m", "--detail", DEEP_JSON], "detail"),
    ("detail deep arrays", [*SCHEDULE, "--in", "5m", "--detail", '{"a": ' + "[" * 40 + "]" * 40 + "}"], "detail"),
    ("detail 1e400", [*SCHEDULE, "--in", "5m", "--detail", '{"a": 1e400}'], "detail"),
    ("detail NaN", [*SCHEDULE, "--in", "5m", "--detail", '{"a": NaN}'], "detail"),
    ("detail Infinity", [*SCHEDULE, "--in", "5m", "--detail", '{"a": Infinity}'], "detail"),
    ("detail -Infinity", [*SCHEDULE, "--in", "5m", "--detail", '{"a": [-Infinity]}'], "detail"),
    ("detail 2**63", [*SCHEDULE, "--in", "5m", "--detail", '{"a": 9223372036854775808}'], "detail"),
    ("detail -2**63-1", [*SCHEDULE, "--in", "5m", "--detail", '{"a": -9223372036854775809}'], "detail"),
    ("detail 5000 digits", [*SCHEDULE, "--in", "5m", "--detail", '{"a": ' + "1" * 5000 + "}"], "detail"),
    ("detail 39 digits", [*SCHEDULE, "--in", "5m", "--detail", '{"a": 1.' + "1" * 40 + "e100}"], "detail"),
    ("detail an array", [*SCHEDULE, "--in", "5m", "--detail", "[1, 2]"], "detail"),
    ("detail null", [*SCHEDULE, "--in", "5m", "--detail", "null"], "detail"),
    ("detail a string", [*SCHEDULE, "--in", "5m", "--detail", '"text"'], "detail"),
    ("detail unterminated", [*SCHEDULE, "--in", "5m", "--detail", "{"], "detail"),
    ("detail empty", [*SCHEDULE, "--in", "5m", "--detail", ""], "detail"),
    ("detail a lone surrogate", [*SCHEDULE, "--in", "5m", "--detail", '{"a": "\\ud800"}'], "detail"),
    ("detail over 256 KB", [*SCHEDULE, "--in", "5m", "--detail", json.dumps({"a": "x" * 300_000})], "detail"),
    ("detail a missing file", [*SCHEDULE, "--in", "5m", "--detail", "@/nonexistent/detail.json"], "detail"),
    ("detail an endless file", [*SCHEDULE, "--in", "5m", "--detail", "@/dev/zero"], "detail"),
    ("detail a directory", [*SCHEDULE, "--in", "5m", "--detail", "@/"], "detail"),
    ("detail a NUL in the path", [*SCHEDULE, "--in", "5m", "--detail", "@a\x00b"], "detail"),
    # idempotency keys
    ("key empty", [*SCHEDULE, "--in", "5m", "--key", ""], "key"),
    ("key blank", [*SCHEDULE, "--in", "5m", "--key", "   "], "key"),
    ("key a NUL", [*SCHEDULE, "--in", "5m", "--key", "\x00"], "key"),
    ("key a line break", [*SCHEDULE, "--in", "5m", "--key", "a\nb"], "key"),
    ("key 600 characters", [*SCHEDULE, "--in", "5m", "--key", "k" * 600], "key"),
    ("key of a series, for a job", [*SCHEDULE, "--in", "5m", "--key", "series-key"], "key"),
    # recurring jobs
    ("rate 23 digits", [*SCHEDULE, "--rate", "99999999999999999999999 minutes"], "rate"),
    ("rate 5000 digits", [*SCHEDULE, "--rate", "1" * 5000 + " minutes"], "rate"),
    ("rate 0", [*SCHEDULE, "--rate", "0 minutes"], "rate"),
    ("rate over ten years", [*SCHEDULE, "--rate", "3661 days"], "rate"),
    ("rate empty", [*SCHEDULE, "--rate", ""], "rate"),
    ("rate a unit unknown", [*SCHEDULE, "--rate", "5 fortnights"], "rate"),
    ("rate negative", [*SCHEDULE, "--rate", "-5 minutes"], "rate"),
    ("rate other digits", [*SCHEDULE, "--rate", "\u0665 minutes"], "rate"),
    ("cron empty", [*SCHEDULE, "--cron", ""], "cron"),
    ("cron 4 fields", [*SCHEDULE, "--cron", "* * * *"], "cron"),
    ("cron 6 fields", [*SCHEDULE, "--cron", "* * * * * *"], "cron"),
    ("cron 20 digits", [*SCHEDULE, "--cron", "99999999999999999999 * * * *"], "cron"),
    ("cron 30 February", [*SCHEDULE, "--cron", "0 0 30 2 *"], "cron"),
    ("cron hashed", [*SCHEDULE, "--cron", "H * * * *"], "cron"),
    ("cron step 0", [*SCHEDULE, "--cron", "*/0 * * * *"], "cron"),
    ("cron a NUL", [*SCHEDULE, "--cron", "\x00 * * * *"], "cron"),
    ("tz empty", [*RECURRING, "--tz", ""], "tz"),
    ("tz blank", [*RECURRING, "--tz", "   "], "tz"),
    ("tz unknown", [*RECURRING, "--tz", "Mars/Olympus_Mons"], "tz"),
    ("tz a path out", [*RECURRING, "--tz", "../../etc/passwd"], "tz"),
    ("tz absolute", [*RECURRING, "--tz", "/etc/localtime"], "tz"),
    ("tz too long for a file", [*RECURRING, "--tz", "x" * 5000], "tz"),
    ("tz a NUL", [*RECURRING, "--tz", "Europe/Berlin\x00"], "tz"),
    ("tz a line break", [*RECURRING, "--tz", "Europe/Berlin\n"], "tz"),
    ("ends year 1 with an offset", [*RECURRING, "--ends", "0001-01-01T00:00:00+01:00"], "ends_at"),
    ("ends year 9999 with an offset", [*RECURRING, "--ends", "9999-12-31T23:59:59-01:00"], "ends_at"),
    ("ends empty", [*RECURRING, "--ends", ""], "ends_at"),
    ("ends in the past", [*RECURRING, "--ends", "2000-01-01T00:00:00Z"], "ends_at"),
    ("count 0", [*RECURRING, "--count", "0"], "--count"),
    ("count over a billion", [*RECURRING, "--count", "99999999999"], "--count"),
    ("count negative", [*RECURRING, "--count", "-1"], "--count"),
    ("count 5000 digits", [*RECURRING, "--count", "1" * 5000], "--count"),
    ("count inf", [*RECURRING, "--count", "inf"], "--count"),
    ("tz for a one-off job", [*SCHEDULE, "--in", "5m", "--tz", "UTC"], "--tz"),
    ("an empty tz for a one-off job", [*SCHEDULE, "--in", "5m", "--tz", ""], "--tz"),
    ("an empty ends for a one-off job", [*SCHEDULE, "--in", "5m", "--ends", ""], "--ends"),
    ("count for a one-off job", [*SCHEDULE, "--in", "5m", "--count", "3"], "--count"),
    # ids
    ("get empty", ["get", ""], "id"),
    ("get not a UUID", ["get", "not-a-uuid"], "id"),
    ("get a NUL", ["get", "\x00"], "id"),
    ("get 10,000 characters", ["get", "x" * 10_000], "id"),
    ("get a UUIDv1", ["get", "c232ab00-9414-11ec-b3c8-9f6bdeced846"], "id"),
    ("get a job id past the year 9999", ["get", FAR_ID], "job_id"),
    ("cancel a job id past the year 9999", ["cancel", FAR_ID], "job_id"),
    ("cancel an escape sequence", ["cancel", "\x1b[2J"], "id"),
    ("reschedule to year 1", ["reschedule", "{job}", "--at", "0001-01-01T00:00:00+01:00"], "at"),
    ("reschedule to year 9999", ["reschedule", "{job}", "--at", "9999-12-31T23:59:59-01:00"], "at"),
    ("reschedule 20 digits later", ["reschedule", "{job}", "--in", "99999999999999999999d"], "--in"),
    ("reschedule past the calendar", ["reschedule", "{job}", "--in", "999999999d"], "delay"),
    ("reschedule a series", ["reschedule", "{series}", "--in", "5m"], "id"),
    ("reschedule a job id past 9999", ["reschedule", FAR_ID, "--in", "5m"], "job_id"),
    ("reschedule with an empty at", ["reschedule", "{job}", "--at", ""], "at"),
    # listing
    ("list from year 1 with an offset", ["list", "--from", "0001-01-01T00:00:00+01:00"], "start"),
    ("list to year 9999 with an offset", ["list", "--to", "9999-12-31T23:59:59-01:00"], "end"),
    ("list from empty", ["list", "--from", ""], "start"),
    ("list from without a zone", ["list", "--from", "2026-01-01T00:00:00"], "start"),
    ("list to before from", ["list", "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"], "end"),
    ("list limit 0", ["list", "--limit", "0"], "--limit"),
    ("list limit 1001", ["list", "--limit", "1001"], "limit"),
    ("list limit 20 digits", ["list", "--limit", "99999999999999999999"], "--limit"),
    ("list limit negative", ["list", "--limit", "-1"], "--limit"),
    ("list cursor empty", ["list", "--cursor", ""], "cursor"),
    ("list cursor not base64", ["list", "--cursor", "!!!"], "cursor"),
    ("list cursor of the dead letter", ["list", "--cursor", "eyJkZWFkX2FmdGVyIjoieCJ9"], "cursor"),
    (
        "list cursor with a bad time",
        ["list", "--cursor", base64.urlsafe_b64encode(b'{"start":"x","end":"y","bucket":"z","after":null}').decode()],
        "cursor",
    ),
    ("dlq list limit 0", ["dlq", "list", "--limit", "0"], "--limit"),
    ("dlq list cursor", ["dlq", "list", "--cursor", "%%"], "cursor"),
    ("redrive empty", ["dlq", "redrive", ""], "job_id"),
    ("redrive blank", ["dlq", "redrive", "   "], "job_id"),
    ("redrive with an empty type", ["dlq", "redrive", "{dead}", "--type", ""], "detail_type"),
    ("redrive with a control type", ["dlq", "redrive", "{dead}", "--type", "a\x07"], "detail_type"),
    ("redrive with an empty key", ["dlq", "redrive", "{dead}", "--detail", '{"": 1}'], "detail"),
    ("redrive with an array", ["dlq", "redrive", "{dead}", "--detail", "[1]"], "detail"),
    ("redrive with deep detail", ["dlq", "redrive", "{dead}", "--detail", DEEP_JSON], "detail"),
    # where the table is
    ("table empty", ["list", "--table", ""], "table_name"),
    ("table with a space", ["list", "--table", "my jobs"], "table_name"),
    ("table too short", ["list", "--table", "ab"], "table_name"),
    ("table too long", ["list", "--table", "t" * 300], "table_name"),
    ("table a control", ["list", "--table", "jobs\x1b"], "table_name"),
    ("dead-letter table empty", ["dlq", "list", "--table", JOBS, "--dead-letter-table", ""], "dead_letter_table"),
    ("stack with a space", ["list", "--stack", "On The Dot"], "stack"),
    ("stack empty", ["list", "--stack", ""], "stack"),
    ("table and stack", ["list", "--table", JOBS, "--stack", "OnTheDot"], "--table"),
    ("port 0", ["list", "--port", "0"], "--port"),
    ("port 65536", ["list", "--port", "65536"], "--port"),
    ("port other digits", ["list", "--port", "\u0664\u0665\u0666\u0666"], "--port"),
    ("bucket minutes 7", ["list", "--bucket-minutes", "7"], "--bucket-minutes"),
    ("bucket minutes 0", ["list", "--bucket-minutes", "0"], "--bucket-minutes"),
    ("bucket minutes empty", ["list", "--bucket-minutes", ""], "--bucket-minutes"),
    ("bucket minutes not the table's", [*SCHEDULE, "--in", "5m", "--bucket-minutes", "15"], "bucket_minutes"),
    # the local cloud's flags: refused before anything starts
    ("local every inf", ["local", "--every", "inf"], "--every"),
    ("local every nan", ["local", "--every", "nan"], "--every"),
    ("local every 1e309", ["local", "--every", "1e309"], "--every"),
    ("local every negative", ["local", "--every", "-1"], "--every"),
    ("local every 0", ["local", "--every", "0"], "--every"),
    ("local every a year", ["local", "--every", "31536000"], "--every"),
    ("local exit-after inf", ["local", "--exit-after", "inf"], "--exit-after"),
    ("local exit-after nan", ["local", "--exit-after", "nan"], "--exit-after"),
    ("local exit-after empty", ["local", "--exit-after", ""], "--exit-after"),
    ("local port 99999", ["local", "--port", "99999"], "--port"),
    ("local knob unknown", ["local", "-c", "noSuchKnob=1"], "-c"),
    ("local knob without a value", ["local", "-c", "pageSize"], "-c"),
    ("local knob not a number", ["local", "-c", "pageSize=abc"], "pageSize"),
    ("local knob inf", ["local", "-c", "pageSize=inf"], "pageSize"),
    ("local bucket minutes 7", ["local", "-c", "bucketMinutes=7"], "bucketMinutes"),
]


@pytest.mark.parametrize(("argv", "field"), [case[1:] for case in CLI_CASES], ids=[case[0] for case in CLI_CASES])
def test_the_cli_refuses_bad_input_with_exit_2_naming_the_field_and_writes_nothing(
    dynamodb: Any, seeded: dict[str, str], capsys: pytest.CaptureFixture[str], argv: list[str], field: str
) -> None:
    # GIVEN a table with a job, a series and a dead letter
    if "series-key" in argv:
        Scheduler(JOBS, dynamodb=dynamodb).schedule_recurring("t", {}, rate="1 day", key="series-key")
    dynamodb.put_item(  # the dispatcher's cursor, recording 5-minute buckets
        TableName=JOBS, Item={"pk": {"S": "cursor"}, "sk": {"S": "dispatcher"}, "bucket_minutes": {"N": "5"}}
    )
    before = everything(dynamodb)

    # WHEN the user types the command
    code, out, err = run_cli(with_target([fill(arg, seeded) for arg in argv]), capsys)

    # THEN it is refused: exit 2, one message naming the field, no traceback, nothing written
    assert code == 2, f"exit {code}\n{out}\n{err}"
    assert "Traceback" not in out + err
    assert re.match(rf"(argument |context ')?{re.escape(field)}\b", message(err)), err
    assert everything(dynamodb) == before


# -- the Python API --------------------------------------------------------------------------------------------

LATER = datetime.now(UTC) + timedelta(hours=2)
SELF_REFERENTIAL: dict[str, Any] = {}
SELF_REFERENTIAL["me"] = SELF_REFERENTIAL

API_CASES: list[tuple[str, Callable[[Scheduler, dict[str, str]], object], str]] = [
    ("type None", lambda s, ids: s.schedule(None, {}, at=LATER), "detail_type"),  # type: ignore[arg-type]
    ("type a number", lambda s, ids: s.schedule(5, {}, at=LATER), "detail_type"),  # type: ignore[arg-type]
    ("type blank", lambda s, ids: s.schedule(" \t ", {}, at=LATER), "detail_type"),
    ("type a NUL", lambda s, ids: s.schedule("a\x00", {}, at=LATER), "detail_type"),
    ("type a paragraph separator", lambda s, ids: s.schedule("a\u2029", {}, at=LATER), "detail_type"),
    ("detail an empty key", lambda s, ids: s.schedule("t", {"": 1}, at=LATER), "detail"),
    ("detail a number key", lambda s, ids: s.schedule("t", {1: "a"}, at=LATER), "detail"),  # type: ignore[dict-item]
    ("detail 33 levels", lambda s, ids: s.schedule("t", nested(33), at=LATER), "detail"),
    ("detail 10,000 levels", lambda s, ids: s.schedule("t", nested(10_000), at=LATER), "detail"),
    ("detail holds itself", lambda s, ids: s.schedule("t", SELF_REFERENTIAL, at=LATER), "detail"),
    ("detail nan", lambda s, ids: s.schedule("t", {"a": float("nan")}, at=LATER), "detail"),
    ("detail -inf", lambda s, ids: s.schedule("t", {"a": [float("-inf")]}, at=LATER), "detail"),
    ("detail Decimal NaN", lambda s, ids: s.schedule("t", {"a": Decimal("NaN")}, at=LATER), "detail"),
    ("detail Decimal sNaN", lambda s, ids: s.schedule("t", {"a": Decimal("sNaN")}, at=LATER), "detail"),
    ("detail Decimal Infinity", lambda s, ids: s.schedule("t", {"a": Decimal("Infinity")}, at=LATER), "detail"),
    ("detail 2**63", lambda s, ids: s.schedule("t", {"a": 2**63}, at=LATER), "detail"),
    ("detail 10**200", lambda s, ids: s.schedule("t", {"a": Decimal("1E+200")}, at=LATER), "detail"),
    ("detail a set", lambda s, ids: s.schedule("t", {"a": {1, 2}}, at=LATER), "detail"),
    ("detail bytes", lambda s, ids: s.schedule("t", {"a": b"\x00"}, at=LATER), "detail"),
    ("detail a datetime", lambda s, ids: s.schedule("t", {"a": LATER}, at=LATER), "detail"),
    ("detail an object", lambda s, ids: s.schedule("t", {"a": object()}, at=LATER), "detail"),
    ("detail a lone surrogate", lambda s, ids: s.schedule("t", {"a": "\udc00"}, at=LATER), "detail"),
    ("detail a surrogate key", lambda s, ids: s.schedule("t", {"\udc00": 1}, at=LATER), "detail"),
    ("detail None", lambda s, ids: s.schedule("t", None, at=LATER), "detail"),  # type: ignore[arg-type]
    ("at year 1 +01:00", lambda s, ids: s.schedule("t", {}, at=datetime(1, 1, 1, tzinfo=PLUS_ONE)), "at"),
    (
        "at year 9999 -01:00",
        lambda s, ids: s.schedule("t", {}, at=datetime(9999, 12, 31, 23, 59, tzinfo=MINUS_ONE)),
        "at",
    ),
    ("at the text of year 1", lambda s, ids: s.schedule("t", {}, at="0001-01-01T00:00:00+01:00"), "at"),
    ("at a number", lambda s, ids: s.schedule("t", {}, at=1767225600), "at"),  # type: ignore[arg-type]
    ("at True", lambda s, ids: s.schedule("t", {}, at=True), "at"),  # type: ignore[arg-type]
    ("delay the largest", lambda s, ids: s.schedule("t", {}, delay=timedelta.max), "delay"),
    ("delay seconds as int", lambda s, ids: s.schedule("t", {}, delay=30), "delay"),  # type: ignore[arg-type]
    ("delay negative", lambda s, ids: s.schedule("t", {}, delay=timedelta(seconds=-1)), "delay"),
    ("key blank", lambda s, ids: s.schedule("t", {}, at=LATER, key="  "), "key"),
    ("key a control", lambda s, ids: s.schedule("t", {}, at=LATER, key="k\x1b"), "key"),
    ("key a number", lambda s, ids: s.schedule("t", {}, at=LATER, key=5), "key"),  # type: ignore[arg-type]
    (
        "a bad request after good ones",
        lambda s, ids: s.schedule_many([JobRequest("t", {}, at=LATER)] * 30 + [JobRequest("t", {"": 1}, at=LATER)]),
        "requests[30].detail",
    ),
    (
        "a control type in a batch",
        lambda s, ids: s.schedule_many([JobRequest("ok", {}, at=LATER), JobRequest("a\x07", {}, at=LATER)]),
        "requests[1].detail_type",
    ),
    ("rate 23 digits", lambda s, ids: s.schedule_recurring("t", {}, rate="9" * 23 + " minutes"), "rate"),
    ("rate not text", lambda s, ids: s.schedule_recurring("t", {}, rate=5), "rate"),  # type: ignore[arg-type]
    ("tz empty", lambda s, ids: s.schedule_recurring("t", {}, rate="1 day", tz=""), "tz"),
    ("tz None", lambda s, ids: s.schedule_recurring("t", {}, rate="1 day", tz=None), "tz"),  # type: ignore[arg-type]
    ("tz too long", lambda s, ids: s.schedule_recurring("t", {}, rate="1 day", tz="x" * 5000), "tz"),
    (
        "starts at the last second",
        lambda s, ids: s.schedule_recurring("t", {}, cron="0 0 1 1 *", starts_at="9999-12-31T23:59:59Z"),
        "cron",
    ),
    (
        "starts year 9999 -01:00",
        lambda s, ids: s.schedule_recurring("t", {}, rate="1 day", starts_at="9999-12-31T23:59:59-01:00"),
        "starts_at",
    ),
    (
        "ends year 1 +01:00",
        lambda s, ids: s.schedule_recurring("t", {}, rate="1 day", ends_at="0001-01-01T00:00:00+01:00"),
        "ends_at",
    ),
    ("limit a trillion", lambda s, ids: s.schedule_recurring("t", {}, rate="1 day", limit=10**12), "limit"),
    ("limit True", lambda s, ids: s.schedule_recurring("t", {}, rate="1 day", limit=True), "limit"),
    ("limit 1.5", lambda s, ids: s.schedule_recurring("t", {}, rate="1 day", limit=1.5), "limit"),  # type: ignore[arg-type]
    ("series type blank", lambda s, ids: s.schedule_recurring(" ", {}, rate="1 day"), "detail_type"),
    ("series detail deep", lambda s, ids: s.schedule_recurring("t", nested(40), rate="1 day"), "detail"),
    ("get a job id past 9999", lambda s, ids: s.get(FAR_ID), "job_id"),
    ("get None", lambda s, ids: s.get(None), "job_id"),  # type: ignore[arg-type]
    ("cancel bytes", lambda s, ids: s.cancel(b"id"), "job_id"),  # type: ignore[arg-type]
    ("reschedule to year 1", lambda s, ids: s.reschedule(ids["job"], at="0001-01-01T00:00:00+01:00"), "at"),
    ("reschedule by the most", lambda s, ids: s.reschedule(ids["job"], delay=timedelta.max), "delay"),
    ("series id empty", lambda s, ids: s.get_series(""), "series_id"),
    ("series id 3,000 characters", lambda s, ids: s.cancel_series("s" * 3000), "series_id"),
    ("requests a number", lambda s, ids: s.schedule_many(5), "requests"),  # type: ignore[arg-type]
    ("requests a string", lambda s, ids: s.schedule_many("reminder"), "requests"),  # type: ignore[arg-type]
    ("requests a mapping", lambda s, ids: s.schedule_many({"detail_type": "t"}), "requests"),  # type: ignore[dict-item]
    ("list from year 1 +01:00", lambda s, ids: s.list_jobs(start="0001-01-01T00:00:00+01:00"), "start"),
    ("list to year 9999 -01:00", lambda s, ids: s.list_jobs(end="9999-12-31T23:59:59-01:00"), "end"),
    ("list limit True", lambda s, ids: s.list_jobs(limit=True), "limit"),
    ("list limit 10**20", lambda s, ids: s.list_jobs(limit=10**20), "limit"),
    ("list cursor a number", lambda s, ids: s.list_jobs(cursor=5), "cursor"),  # type: ignore[arg-type]
    ("list cursor empty", lambda s, ids: s.list_jobs(cursor=""), "cursor"),
    ("dead letters limit 0", lambda s, ids: s.dead_letters(limit=0), "limit"),
    ("redrive empty", lambda s, ids: s.redrive(""), "job_id"),
    ("redrive a number", lambda s, ids: s.redrive(5), "job_id"),  # type: ignore[arg-type]
    ("redrive with a blank type", lambda s, ids: s.redrive(ids["dead"], detail_type="\n"), "detail_type"),
    ("redrive with an empty key", lambda s, ids: s.redrive(ids["dead"], detail={"": 0}), "detail"),
]


@pytest.mark.parametrize(("call", "field"), [case[1:] for case in API_CASES], ids=[case[0] for case in API_CASES])
def test_the_api_refuses_bad_input_naming_the_field_and_writes_nothing(
    dynamodb: Any, seeded: dict[str, str], call: Callable[[Scheduler, dict[str, str]], object], field: str
) -> None:
    scheduler = Scheduler(JOBS, dead_letter_table=DEAD, dynamodb=dynamodb)
    before = everything(dynamodb)

    with pytest.raises(InvalidJob) as caught:
        call(scheduler, seeded)

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert everything(dynamodb) == before


CONSTRUCTOR_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("table empty", {"table_name": ""}, "table_name"),
    ("table None", {"table_name": None}, "table_name"),
    ("table with a space", {"table_name": "my jobs"}, "table_name"),
    ("table with a NUL", {"table_name": "jobs\x00"}, "table_name"),
    ("dead-letter table empty", {"dead_letter_table": ""}, "dead_letter_table"),
    ("bucket minutes 7", {"bucket_minutes": 7}, "bucket_minutes"),
    ("bucket minutes 0", {"bucket_minutes": 0}, "bucket_minutes"),
    ("bucket minutes True", {"bucket_minutes": True}, "bucket_minutes"),
    ("bucket minutes text", {"bucket_minutes": "5"}, "bucket_minutes"),
    ("bucket minutes 5.0", {"bucket_minutes": 5.0}, "bucket_minutes"),
    ("clock not callable", {"clock": datetime.now(UTC)}, "clock"),
    ("sleep not callable", {"sleep": 0.1}, "sleep"),
]


def test_a_clock_that_gives_a_naive_time_is_named(dynamodb: Any) -> None:
    scheduler = Scheduler(JOBS, dynamodb=dynamodb, clock=lambda: datetime(2026, 2, 9, 12))
    with pytest.raises(InvalidJob) as caught:
        scheduler.schedule("t", {}, delay=timedelta(minutes=1))
    assert caught.value.field == "clock"
    assert everything(dynamodb) == [[], []]


@pytest.mark.parametrize(
    ("arguments", "field"), [case[1:] for case in CONSTRUCTOR_CASES], ids=[case[0] for case in CONSTRUCTOR_CASES]
)
def test_a_scheduler_with_bad_arguments_names_them(dynamodb: Any, arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        Scheduler(**{"table_name": JOBS, "dynamodb": dynamodb, **arguments})
    assert caught.value.field == field


def test_the_sweep_has_at_least_100_cases() -> None:
    assert len(CLI_CASES) + len(API_CASES) + len(CONSTRUCTOR_CASES) >= 100


# -- what the CLI prints of stored data --------------------------------------------------------------------------


@pytest.fixture
def hostile_job(dynamodb: Any) -> str:
    """A job typed by hand whose detail-type and detail carry terminal escapes, line breaks and C1 controls."""
    due = datetime.now(UTC) + timedelta(minutes=30)
    job_id = new_job_id(due)
    pk, sk = job_key(job_id)
    dynamodb.put_item(
        TableName=JOBS,
        Item={
            "pk": {"S": pk},
            "sk": {"S": sk},
            DETAIL_TYPE: {"S": "evil\x1b[2J\x07\nFORGED ROW\u2028\x9b"},
            DETAIL: {"M": {"k\x1b": {"S": "v\x7f\x9b"}}},
        },
    )
    return job_id


@pytest.mark.parametrize(
    "argv",
    [["list"], ["get", "{job}"], ["status"], ["list", "--json"], ["get", "{job}", "--json"], ["status", "--json"]],
)
def test_control_characters_in_stored_data_reach_the_terminal_escaped(
    dynamodb: Any, hostile_job: str, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run_cli(with_target([fill(arg, {"job": hostile_job}) for arg in argv]), capsys)

    assert code == 0, err
    assert "evil" in out
    assert not any(c in out for c in "\x1b\x07\x7f\x9b\u2028")
    assert "FORGED ROW" not in [line.strip() for line in out.splitlines()]  # no line of its own
    if "--json" in argv:
        text = json.dumps(json.loads(out))
        assert "evil\\u001b[2J\\u0007\\nFORGED ROW\\u2028\\u009b" in text  # the data is whole, only escaped
    else:
        assert "evil\\x1b[2J\\x07\\nFORGED ROW\\u2028\\x9b" in out


def test_dead_letters_are_listed_escaped(dynamodb: Any, seeded: dict[str, str], capsys: pytest.CaptureFixture[str]):
    dynamodb.update_item(
        TableName=DEAD,
        Key={"pk": {"S": DEAD_PK}, "sk": {"S": job_key(seeded["dead"])[1]}},
        UpdateExpression="SET #reason = :reason",
        ExpressionAttributeNames={"#reason": REASON},
        ExpressionAttributeValues={":reason": {"S": "bad\x1b]0;title\x07"}},
    )
    code, out, err = run_cli(with_target(["dlq", "list"]), capsys)
    assert code == 0, err
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "bad\\x1b]0;title\\x07" in out


def test_error_messages_are_escaped_too(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(with_target(["schedule", "--in", "5m", "--type", "t", "--key", "\x1b[2J"]), capsys)
    assert code == 2
    assert "\x1b" not in err
    assert "\\x1b[2J" in err


# -- listing a wide range is paged ----------------------------------------------------------------------------------


def count_queries(dynamodb: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    dynamodb.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **_: calls.append(params))
    return calls


def test_listing_the_whole_calendar_is_paged_not_a_million_queries(dynamodb: Any) -> None:
    # GIVEN a job due in three days
    scheduler = Scheduler(JOBS, dynamodb=dynamodb)
    scheduler.schedule("t", {}, delay=timedelta(days=3))
    queries = count_queries(dynamodb)

    # WHEN the user lists from the year 1 to the year 9999
    page = scheduler.list_jobs(start="0001-01-01T00:00:00Z", end="9999-12-31T23:59:59.999Z")

    # THEN one call makes a bounded number of queries and hands back a cursor for the rest
    assert len(queries) <= 300
    assert page.jobs == []
    assert page.cursor is not None


def test_following_the_cursor_of_a_wide_range_finds_every_job(dynamodb: Any) -> None:
    # GIVEN jobs due in one hour and in three days: more buckets apart than one call reads
    scheduler = Scheduler(JOBS, dynamodb=dynamodb)
    soon = scheduler.schedule("t", {}, delay=timedelta(hours=1))
    later = scheduler.schedule("t", {}, delay=timedelta(days=3))

    # WHEN the range is listed page by page
    found, cursor, pages = [], None, 0
    end = datetime.now(UTC) + timedelta(days=4)
    while True:
        page = scheduler.list_jobs(end=end, cursor=cursor) if cursor else scheduler.list_jobs(end=end)
        found += page.jobs
        pages += 1
        if page.cursor is None:
            break
        cursor = page.cursor

    # THEN both are found, in due order, over several bounded pages
    assert [job.id for job in found] == [soon.id, later.id]
    assert pages > 1


def test_the_cli_says_there_is_more_after_an_empty_part_of_a_wide_range(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        with_target(["list", "--from", "2026-01-01T00:00:00Z", "--to", "2036-01-01T00:00Z"]), capsys
    )
    assert code == 0, err
    assert "no pending jobs in this part of the range" in out
    assert "more: onthedot list --cursor " in out


# -- one definition: what the client refuses, the publish function refuses, for the same reason -------------------

SAME_RULES: list[tuple[str, Any, Any, str | None]] = [
    ("blank type", "   ", {}, "detail_type"),
    ("control type", "a\x07", {}, "detail_type"),
    ("line separator type", "a\u2028", {}, "detail_type"),
    ("long type", "x" * 129, {}, "detail_type"),
    ("empty key", "t", {"a": {"": 1}}, "detail"),
    ("33 levels", "t", nested(33), "detail"),
    ("wide integer", "t", {"n": Decimal(2**63)}, "detail"),
    ("infinite", "t", {"n": Decimal("Infinity")}, "detail"),
    ("over 256 KB", "t", {"s": "x" * 270_000}, "detail"),
    ("not a map", "t", ["a"], "detail"),
    ("fine", "reminder · ü", {"a": [{"b": Decimal("1.5")}], "n": Decimal(2**63 - 1)}, None),
    ("32 levels", "t", nested(31), None),
]


@pytest.mark.parametrize(
    ("detail_type", "detail", "field"), [case[1:] for case in SAME_RULES], ids=[case[0] for case in SAME_RULES]
)
def test_the_client_and_the_publish_function_apply_the_same_rules(
    dynamodb: Any, detail_type: Any, detail: Any, field: str | None
) -> None:
    from onthedot.core.jobs import PoisonJob, event_entry

    item = {"sk": job_key(new_job_id(LATER))[1], DETAIL_TYPE: detail_type, DETAIL: detail}
    scheduler = Scheduler(JOBS, dynamodb=dynamodb)
    if field is None:
        event_entry(item, source="onthedot", bus_name="onthedot")
        assert scheduler.get(scheduler.schedule(detail_type, detail, at=LATER).id).detail_type == detail_type
        return
    with pytest.raises(PoisonJob) as poison:
        event_entry(item, source="onthedot", bus_name="onthedot")
    with pytest.raises(InvalidJob) as invalid:
        scheduler.schedule(detail_type, detail, at=LATER)
    assert poison.value.field == invalid.value.field == field
    assert invalid.value.reason == poison.value.reason
