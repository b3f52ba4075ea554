"""The console in a real browser: headless Chromium (Debian's package) driven by Playwright against a running
local cloud with the console beside it, as ``make run`` starts them. Jobs are scheduled through the CLI; the
pages must show them, refresh by themselves as jobs fire, and cancel and redrive through their confirmations.
Screenshots are kept in tests/ui/artifacts/ (and written to docs/ with ONTHEDOT_UI_DOCS=1, for the README).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from onthedot.core import keys
from onthedot.deploy.settings import Settings
from tests.support.processes import REPO, RunningCloud, free_port, running_cloud
from tests.ui.browser import chromium_path, headless_chromium

ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS = REPO / "docs"
HOSTILE_TYPE = "<script>alert(1)</script>"
SECONDS = 1000  # Playwright's timeouts are in milliseconds


def chromium() -> str:
    found = chromium_path()
    if found is None:
        message = "no chromium on PATH: `make test` installs Debian's (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def cloud() -> Iterator[tuple[RunningCloud, str]]:
    """A local cloud ticking every 2 s, with the console beside it; and the console's URL."""
    knobs = ["-c", "precision=minute"] if "precision" in Settings.knob_names() else []  # runs end at once
    with running_cloud("--every", "2", "--ui", str(free_port()), *knobs) as running:
        line = running.output.wait_for(r"^console: http://127\.0\.0\.1:\d+/$", timeout=30)
        yield running, line.removeprefix("console: ")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium(chromium()) as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    opened = context.new_page()
    opened.set_default_timeout(20 * SECONDS)
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield opened
    context.close()
    assert dialogs == [], "a value from the table ran as script"


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if os.environ.get("ONTHEDOT_UI_DOCS"):
        page.screenshot(path=str(DOCS / f"ui-{name}.png"), full_page=True)


def schedule(running: RunningCloud, *args: str) -> dict[str, Any]:
    return dict(running.json("schedule", *args))


def test_jobs_show_and_fire_live(cloud: tuple[RunningCloud, str], page: Any) -> None:
    running, url = cloud
    soon = schedule(running, "--in", "12s", "--type", HOSTILE_TYPE, "--detail", json.dumps({"bell": "\x07\x1b[31m"}))
    later = schedule(running, "--in", "50m", "--type", "reminder", "--detail", '{"to": "ada@example.com"}')

    page.goto(url)
    soon_row = page.locator(f'tr[data-job="{soon["id"]}"]')
    soon_row.wait_for()
    assert soon_row.locator("td.type").inner_text() == HOSTILE_TYPE  # shown as text, not run
    page.locator(f'tr[data-job="{later["id"]}"]').wait_for()
    screenshot(page, "jobs")

    page.fill("input[name=q]", "remind")
    page.click("form[role=search] button")
    page.locator(f'tr[data-job="{later["id"]}"]').wait_for()
    assert page.locator(f'tr[data-job="{soon["id"]}"]').count() == 0

    page.goto(url)
    soon_row.wait_for(state="detached", timeout=40 * SECONDS)  # it fired: the page refreshed by itself
    page.goto(url + "runs")
    published = page.locator("table.runs tbody tr", has_text=re.compile(r"\b[1-9]\d*\b"))
    published.first.wait_for(timeout=90 * SECONDS)  # a run records itself when it ends
    screenshot(page, "runs")


def test_cancel_through_the_confirmation(cloud: tuple[RunningCloud, str], page: Any) -> None:
    running, url = cloud
    job = schedule(running, "--in", "40m", "--type", "price-change", "--detail", '{"sku": "TEA-042"}')

    page.goto(url)
    page.locator(f'tr[data-job="{job["id"]}"] a', has_text="Cancel").click()
    page.locator("dl.subject", has_text="price-change").wait_for()
    assert running.cli("get", job["id"], code=0)  # asking is not doing
    page.click("#confirm")

    assert page.locator("h1#done").inner_text() == "cancelled"
    assert running.cli("get", job["id"], code=None).returncode == 1


def test_redrive_a_dead_letter(cloud: tuple[RunningCloud, str], page: Any) -> None:
    running, url = cloud
    due = datetime.now(UTC) - timedelta(seconds=1)
    job_id = str(uuid.uuid4())
    sk = keys.sort_key(due, job_id)
    poison = {"pk": {"S": keys.partition_key(due)}, "sk": {"S": sk}, "detail": {"M": {"n": {"N": "1"}}}}
    running.dynamodb().put_item(TableName="onthedot-jobs", Item=poison)  # no detail-type: dead-lettered at once

    page.goto(url + "dead-letters")
    row = page.locator(f'tr[data-job="{job_id}"]')
    row.wait_for(timeout=40 * SECONDS)  # the page refreshed by itself
    assert "detail_type" in row.locator("td.reason").inner_text()
    screenshot(page, "dead-letters")

    row.locator("a", has_text="Redrive").click()
    page.fill("input[name=type]", "fixed")
    page.click("#confirm")

    assert page.locator("h1#done").inner_text() == "sent back: it fires on the next dispatcher run"
    assert running.json("dlq", "list")["size"] == 0
    running.output.wait_for(rf"fired  fixed .* job {job_id}", timeout=40)


def test_series_and_backlog(cloud: tuple[RunningCloud, str], page: Any) -> None:
    running, url = cloud
    series = schedule(running, "--rate", "15 minutes", "--type", "heartbeat", "--detail", '{"service": "billing"}')
    schedule(running, "--in", "20m", "--type", "report", "--detail", '{"name": "daily-sales"}')

    page.goto(url + "series")
    page.locator(f'tr[data-series="{series["id"]}"]').wait_for()
    assert page.locator(f'tr[data-series="{series["id"]}"] td.time').inner_text().count("Z") == 5
    screenshot(page, "series")

    page.goto(url + "backlog")
    page.locator("#draining").wait_for()
    screenshot(page, "backlog")
