"""The console over HTTP (Starlette's TestClient) against an in-process moto: what each page shows, that user
data stays inert text, that writes need the console's own page, and that they go through the client API with
the CLI's validation and errors."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from starlette.testclient import TestClient

from onthedot import cli
from onthedot.client import JobNotFound, Scheduler
from onthedot.core import keys
from onthedot.core.lateness import EDGES_MS
from onthedot.deploy.target import Target
from onthedot.ui.app import create_app
from tests.support.console import DEAD, JOBS, ORIGIN

SCRIPT = "<script>alert(1)</script>"
CONTROL = "bell\x07 escape\x1b[31m nul\x00 rtl\u202eevil"


def put(dynamodb: Any, table: str, item: dict[str, Any]) -> None:
    serialize = TypeSerializer().serialize
    dynamodb.put_item(TableName=table, Item={name: serialize(value) for name, value in item.items()})


def hand_written(due: datetime, detail_type: Any, detail: Any) -> dict[str, Any]:
    """A job typed in by hand, in the original item format: any detail-type and detail."""
    return {
        "pk": keys.partition_key(due),
        "sk": keys.sort_key(due, str(uuid.uuid4())),
        "detail_type": detail_type,
        "detail": detail,
    }


def dead_letter(dynamodb: Any, job: dict[str, Any], reason: str, attempts: int = 0) -> str:
    """A dead letter as the publish function writes it (the format onthedot.client documents); its sort key."""
    put(
        dynamodb,
        DEAD,
        {
            "pk": "dlq",
            "sk": job["sk"],
            "job": job,
            "reason": reason,
            "attempts": attempts,
            "dead_at": keys.format_time(datetime.now(UTC)),
        },
    )
    dynamodb.update_item(
        TableName=DEAD,
        Key={"pk": {"S": "meta"}, "sk": {"S": "size"}},
        UpdateExpression="ADD #size :one",
        ExpressionAttributeNames={"#size": "size"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    return str(job["sk"])


def token_of(page: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', page)
    assert match, "the confirmation page carries a token"
    return match.group(1)


def confirm_and_post(client: TestClient, action: str, job_id: str, token: str | None = None, **fields: str) -> Any:
    """Open the confirmation page as a person does, then send its form from it (with ``token``: send it
    as a page left open would, for a job that went away meanwhile)."""
    if token is None:
        page = client.get(f"/confirm/{action}", params={"id": job_id})
        assert page.status_code == 200
        token = token_of(page.text)
    form = {"token": token, "id": job_id, **fields}
    return client.post(f"/actions/{action}", data=form, headers={"Origin": ORIGIN})


# -- pages ------------------------------------------------------------------------------------------------------


def test_every_page_answers_with_its_live_part(client: TestClient) -> None:
    for path in ("/", "/series", "/runs", "/backlog", "/dead-letters"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert re.search(r'data-live data-every="(3.0|30.0)"', page.text)
        live = client.get(path, params={"part": "live"})
        assert live.status_code == 200
        assert "<html" not in live.text
        assert "<header" not in live.text


def test_upcoming_jobs_are_listed_in_due_order_and_searchable(client: TestClient, scheduler: Scheduler) -> None:
    later = scheduler.schedule("report", {"name": "daily"}, delay=timedelta(minutes=20))
    sooner = scheduler.schedule("Reminder", {"to": "ada"}, delay=timedelta(minutes=5))
    far = scheduler.schedule("report", {}, delay=timedelta(hours=3))

    page = client.get("/").text
    assert page.index(sooner.id) < page.index(later.id)
    assert far.id not in page  # beyond the default hour
    assert far.id in client.get("/", params={"horizon": "6h"}).text

    by_type = client.get("/", params={"q": "REMINDER"}).text
    assert sooner.id in by_type
    assert later.id not in by_type
    by_id = client.get("/", params={"q": later.id[-12:]}).text
    assert later.id in by_id
    assert sooner.id not in by_id
    assert "1 pending job matching" in by_id


def test_series_show_their_next_occurrences(client: TestClient, scheduler: Scheduler) -> None:
    series = scheduler.schedule_recurring("tick", {"n": 1}, rate="15 minutes")

    page = client.get("/series").text
    assert series.id in page
    assert series.next is not None
    dues = [series.next.due + timedelta(minutes=15 * step) for step in range(5)]
    for due in dues:
        assert keys.format_time(due) in page
    assert "every 15 minutes in UTC" in page


def test_runs_show_counts_and_lateness_percentiles(client: TestClient, dynamodb: Any) -> None:
    now = datetime.now(UTC)
    fast = [0] * len(EDGES_MS)
    fast[0] = 98  # < 100 ms
    fast[4] = 2  # < 1 s
    for index, counts in enumerate((fast, fast)):
        run = {"pk": "run", "sk": keys.format_time(now - timedelta(seconds=60 * index)), "due": 100, "published": 100}
        put(dynamodb, JOBS, run | {"lateness": counts, "latenessMaxMs": 900 - index, "failed": 0})
    put(dynamodb, JOBS, {"pk": "run", "sk": keys.format_time(now - timedelta(minutes=5)), "due": 3, "published": 3})
    put(dynamodb, JOBS, {"pk": "run", "sk": "not a time", "lateness": ["x"], "latenessMaxMs": "soon"})

    page = client.get("/runs").text
    assert re.search(r'id="p50">100 ms<', page)
    assert re.search(r'id="p99">1.00 s<', page)
    assert re.search(r'id="max">900 ms<', page)
    assert "<polyline" in page
    assert "<rect" in page
    assert page.count("<tr") == 1 + 4  # the header and every run, the odd one too


def test_backlog_counts_pending_jobs_by_bucket(client: TestClient, scheduler: Scheduler, dynamodb: Any) -> None:
    scheduler.schedule("now", {}, at=datetime.now(UTC))  # in the current bucket, whatever the time
    scheduler.schedule("later", {}, delay=timedelta(minutes=30))
    dead_letter(dynamodb, hand_written(datetime.now(UTC), "x", {}), "poison")

    page = client.get("/backlog").text
    assert re.search(r'id="draining">1<', page)
    assert page.count('class="ahead"><td') >= 1
    assert ">1</span></div>" in page  # one dead letter


def test_dead_letters_show_their_reasons(client: TestClient, dynamodb: Any) -> None:
    job = hand_written(datetime.now(UTC) - timedelta(minutes=3), "invoice", {"n": 7})
    dead_letter(dynamodb, job, "EventBridge said no: ValidationException", attempts=5)

    page = client.get("/dead-letters").text
    assert "EventBridge said no: ValidationException" in page
    assert "1 dead-lettered job in all" in page
    assert "/confirm/redrive?id=" in page


def test_no_dead_letter_table_is_said_plainly(scheduler: Scheduler) -> None:
    app = create_app(scheduler, Target(JOBS, None, "table Jobs"))
    with TestClient(app, base_url=ORIGIN) as client:
        page = client.get("/dead-letters")
    assert page.status_code == 200
    assert "no dead-letter table known for table Jobs" in page.text


# -- user data stays inert text ---------------------------------------------------------------------------------


def test_hostile_jobs_show_as_text(client: TestClient, dynamodb: Any) -> None:
    due = datetime.now(UTC) + timedelta(minutes=2)
    put(dynamodb, JOBS, hand_written(due, SCRIPT, {"html": "<img src=x onerror=alert(2)>", "c": CONTROL}))
    put(dynamodb, JOBS, hand_written(due, CONTROL, {"big": "x" * 200_000}))

    for query in ({}, {"q": "<script>"}):
        page = client.get("/", params=query).text
        assert SCRIPT not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "\x1b" not in page
        assert "\x00" not in page
        assert "\u202e" not in page
        assert "\x07" not in page
        assert r"escape\u001b[31m nul\u0000 rtl\u202eevil" in page
    page = client.get("/").text
    assert len(page) < 60_000  # the 200 KB detail is cut, with what was left out counted
    assert "more characters)" in page


def test_hostile_dead_letters_show_as_text(client: TestClient, dynamodb: Any) -> None:
    poison = hand_written(datetime.now(UTC), SCRIPT, "<b>not a map</b>" + "y" * 200_000)
    dead_letter(dynamodb, poison, f"poison: {SCRIPT} {CONTROL}")

    for path, query in (("/dead-letters", {}), ("/confirm/redrive", {"id": poison["sk"]})):
        page = client.get(path, params=query).text
        assert SCRIPT not in page
        assert "<b>not a map" not in page
        assert "\x1b" not in page
        assert "\u202e" not in page
        assert "&lt;script&gt;" in page
        assert len(page) < 80_000


def test_pages_forbid_inline_script_and_framing(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


# -- writes come from the console's own page --------------------------------------------------------------------


def test_cancel_needs_the_token_and_the_origin(client: TestClient, scheduler: Scheduler) -> None:
    job = scheduler.schedule("reminder", {}, delay=timedelta(minutes=5))
    token = token_of(client.get("/confirm/cancel", params={"id": job.id}).text)

    refused = [
        client.post("/actions/cancel", data={"id": job.id}, headers={"Origin": ORIGIN}),
        client.post("/actions/cancel", data={"id": job.id, "token": "guess"}, headers={"Origin": ORIGIN}),
        client.post("/actions/cancel", data={"id": job.id, "token": token}, headers={"Origin": "http://evil.example"}),
        client.post("/actions/cancel", data={"id": job.id, "token": token}),  # no Origin, no Referer
        client.post("/actions/cancel", data={"id": job.id, "token": token}, headers={"Origin": "null"}),
    ]
    assert [response.status_code for response in refused] == [403] * 5
    assert client.get("/actions/cancel", params={"id": job.id, "token": token}).status_code == 405
    assert scheduler.get(job.id) == job  # nothing was written

    same_page = client.post(
        "/actions/cancel", data={"id": job.id, "token": token}, headers={"Referer": f"{ORIGIN}/confirm/cancel"}
    )
    assert same_page.status_code == 200
    assert '<h1 id="done">cancelled</h1>' in same_page.text
    with pytest.raises(JobNotFound):
        scheduler.get(job.id)


def test_a_rebound_host_name_gets_no_answer(client: TestClient) -> None:
    assert client.get("/", headers={"Host": "evil.example:4567"}).status_code == 400


def test_a_form_must_be_a_plain_small_form(client: TestClient, scheduler: Scheduler) -> None:
    job = scheduler.schedule("reminder", {}, delay=timedelta(minutes=5))
    token = token_of(client.get("/confirm/cancel", params={"id": job.id}).text)
    as_json = client.post("/actions/cancel", json={"id": job.id, "token": token}, headers={"Origin": ORIGIN})
    huge = client.post(
        "/actions/cancel", data={"id": job.id, "token": token, "pad": "x" * 600_000}, headers={"Origin": ORIGIN}
    )
    assert (as_json.status_code, huge.status_code) == (400, 400)
    assert scheduler.get(job.id) == job


def test_read_only_shows_no_actions_and_refuses_writes(scheduler: Scheduler, target: Target) -> None:
    job = scheduler.schedule("reminder", {}, delay=timedelta(minutes=5))
    with TestClient(create_app(scheduler, target, read_only=True), base_url=ORIGIN) as client:
        page = client.get("/").text
        assert job.id in page
        assert "/confirm/cancel" not in page
        assert "read-only" in page
        confirm = client.get("/confirm/cancel", params={"id": job.id}).text
        assert 'name="token"' not in confirm
        response = client.post("/actions/cancel", data={"id": job.id, "token": "any"}, headers={"Origin": ORIGIN})
    assert response.status_code == 403
    assert "read-only" in response.text
    assert scheduler.get(job.id) == job


# -- the writes: the client API, the CLI's validation and errors -------------------------------------------------


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """What the CLI says on stderr for ``onthedot ARGV --table Jobs``."""
    capsys.readouterr()
    assert cli.main([*argv, "--table", JOBS]) != 0
    return capsys.readouterr().err.removeprefix("onthedot: ").strip()


def test_reschedule_moves_the_job_to_a_new_id(client: TestClient, scheduler: Scheduler) -> None:
    job = scheduler.schedule("reminder", {"to": "ada"}, delay=timedelta(minutes=5))

    response = confirm_and_post(client, "reschedule", job.id, **{"in": "1h"})

    assert response.status_code == 200
    new_id = re.search(r"<dt>job</dt><dd>([0-9a-f-]{36})</dd>", response.text)
    assert new_id
    assert new_id.group(1) != job.id
    assert f"<dt>was</dt><dd>{job.id}</dd>" in response.text
    moved = scheduler.get(new_id.group(1))
    assert timedelta(minutes=59) < moved.due - datetime.now(UTC) <= timedelta(hours=1)
    with pytest.raises(JobNotFound):
        scheduler.get(job.id)


def test_errors_are_the_clis(client: TestClient, scheduler: Scheduler, capsys: pytest.CaptureFixture[str]) -> None:
    job = scheduler.schedule("reminder", {}, delay=timedelta(minutes=5))
    gone = str(keys.new_job_id(datetime.now(UTC) + timedelta(minutes=1)))

    token = token_of(client.get("/confirm/cancel", params={"id": job.id}).text)
    shown = client.get("/confirm/cancel", params={"id": gone})
    assert cli_error(capsys, "cancel", gone) in shown.text
    assert 'name="token"' not in shown.text
    not_found = confirm_and_post(client, "cancel", gone, token)
    assert not_found.status_code == 404
    assert cli_error(capsys, "cancel", gone) in not_found.text

    bad_id = confirm_and_post(client, "cancel", "not-an-id", token)
    assert bad_id.status_code == 400
    assert "id: &#39;not-an-id&#39; is not a job or series id (a UUID)" in bad_id.text

    bad_time = confirm_and_post(client, "reschedule", job.id, at="next tuesday")
    assert bad_time.status_code == 400
    message = cli_error(capsys, "reschedule", job.id, "--at", "next tuesday")
    assert message.replace("'", "&#39;") in bad_time.text

    both = confirm_and_post(client, "reschedule", job.id, at="2030-01-01T00:00:00Z", **{"in": "5m"})
    assert both.status_code == 400
    bad_delay = confirm_and_post(client, "reschedule", job.id, **{"in": "soon"})
    assert bad_delay.status_code == 400
    assert "is not a duration" in bad_delay.text
    assert scheduler.get(job.id) == job  # nothing was written


def test_redrive_sends_a_fixed_job_back(client: TestClient, scheduler: Scheduler, dynamodb: Any) -> None:
    poison = hand_written(datetime.now(UTC) - timedelta(minutes=1), "x" * 300, {"n": 1})  # too long a type
    sk = dead_letter(dynamodb, poison, "poison: detail_type: must be a string of 1 to 256 characters")

    unfixed = confirm_and_post(client, "redrive", sk)
    assert unfixed.status_code == 400
    assert "send it back with a fixed detail-type" in unfixed.text
    not_json = confirm_and_post(client, "redrive", sk, type="fixed", detail="{nope")
    assert not_json.status_code == 400
    assert "--detail is not valid JSON" in not_json.text
    a_file = confirm_and_post(client, "redrive", sk, type="fixed", detail="@/etc/passwd")
    assert a_file.status_code == 400
    assert "a @file is for the command line" in a_file.text

    response = confirm_and_post(client, "redrive", sk, type="fixed", detail='{"n": 2}')

    assert response.status_code == 200
    assert "sent back: it fires on the next dispatcher run" in response.text
    assert scheduler.dead_letter_size() == 0
    job_id = sk.partition("#")[2]
    listed = scheduler.list_jobs(start=datetime.now(UTC) - timedelta(minutes=5)).jobs
    assert [(job.id, job.detail_type, job.detail) for job in listed] == [(job_id, "fixed", {"n": Decimal(2)})]


def test_a_series_is_cancelled_whole(client: TestClient, scheduler: Scheduler) -> None:
    series = scheduler.schedule_recurring("tick", {}, rate="5 minutes")

    response = confirm_and_post(client, "cancel", series.id)

    assert response.status_code == 200
    assert "cancelled, with its pending occurrence" in response.text
    with pytest.raises(JobNotFound):
        scheduler.get_series(series.id)
