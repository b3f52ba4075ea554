"""The README's screenshots of the console: ``.venv/bin/python -m tests.ui.screenshots`` writes docs/ui-*.png.

A local cloud with the demo and the console beside it, a day's worth of sample jobs, two series and two dead
letters; once a few runs have published, headless Chromium takes each page.
"""

from __future__ import annotations

import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

from onthedot.client import JobRequest, Scheduler
from onthedot.core import keys
from tests.support.processes import REPO, Output, free_port, local_dynamodb, start_local
from tests.ui.browser import chromium_path, headless_chromium

DOCS = REPO / "docs"
PAGES = (("jobs", ""), ("series", "series"), ("runs", "runs"), ("backlog", "backlog"), ("dead-letters", "dead-letters"))
TYPES = (("reminder", {"to": "ada@example.com"}), ("report", {"name": "daily-sales"}), ("invoice", {"n": 1042}))


def sample_jobs(scheduler: Scheduler, now: datetime) -> None:
    soon = [JobRequest(TYPES[i % 3][0], TYPES[i % 3][1], delay=timedelta(seconds=5 + 15 * i)) for i in range(12)]
    later = [JobRequest(TYPES[i % 3][0], TYPES[i % 3][1], delay=timedelta(minutes=3 + 4 * i)) for i in range(14)]
    scheduler.schedule_many([*soon, *later])
    scheduler.schedule_recurring("heartbeat", {"service": "billing"}, rate="15 minutes")
    scheduler.schedule_recurring("digest", {"list": "weekly"}, cron="0 9 * * 1", tz="Europe/Berlin")
    for detail_type in (None, "x" * 300):  # typed in by hand: dead-lettered with their reasons
        item = {
            "pk": {"S": keys.partition_key(now)},
            "sk": {"S": keys.sort_key(now, str(uuid.uuid4()))},
            "detail": {"M": {"order": {"S": "A-77"}}},
        }
        if detail_type:
            item["detail_type"] = {"S": detail_type}
        scheduler.dynamodb.put_item(TableName=scheduler.table_name, Item=item)


def main() -> None:
    executable = chromium_path()
    if executable is None:
        raise SystemExit("no chromium on PATH (apt-get install chromium)")
    process = start_local("--demo", "--every", "10", "--ui", str(free_port()), "--port", str(free_port()))
    output = Output(process)
    try:
        url = output.wait_for(r"^console: ", timeout=60).removeprefix("console: ")
        port = int(output.wait_for(r"^onthedot local cloud on ", timeout=5).rpartition(":")[2])
        scheduler = Scheduler("onthedot-jobs", dead_letter_table="onthedot-dead-letters", dynamodb=local_dynamodb(port))
        sample_jobs(scheduler, datetime.now(UTC))
        deadline = time.monotonic() + 400
        while len(output.matching(r"dispatcher run .* published [1-9]")) < 3:  # three runs have recorded
            assert time.monotonic() < deadline, "no three runs published in time:\n" + output.text
            time.sleep(1)
        take(executable, url)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=180)  # a run in flight finishes first


def take(executable: str, url: str) -> None:
    with headless_chromium(executable) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for name, path in PAGES:
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            target = DOCS / f"ui-{name}.png"
            page.screenshot(path=str(target), full_page=True)
            print(target.relative_to(REPO))


if __name__ == "__main__":
    main()
