"""`onthedot local`: the local cloud in a terminal, with the ticker, the console worker and the demo jobs."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from boto3.dynamodb.types import TypeSerializer

from onthedot.core import keys
from onthedot.core.jobs import DEAD_PK, SERIES_PK_PREFIX, due_time_of, job_id_of
from onthedot.deploy.settings import Settings
from onthedot.local.cloud import LocalCloud, Run, Ticker
from onthedot.local.persistence import DataFolderInUse
from onthedot.ui.beside import start_beside

DEMO_JOBS = (
    ("reminder", {"recipient": "ada@example.com", "text": "Stand-up in 5 minutes"}),
    ("price-change", {"sku": "TEA-042", "price": "4.20", "currency": "EUR"}),
    ("reminder", {"recipient": "grace@example.com", "text": "Café at noon — « on the dot »"}),
    ("report", {"name": "daily-sales", "format": "csv"}),
)


# With a run a minute: the last one falls in the next run's window, and fires on the dot all the same.
DEMO_DUE_SECONDS = (3.25, 8.5, 21.75, 75.0)


def demo_due_seconds(every: float) -> list[float]:
    """When the demo jobs fall due, scaled to the tick interval (a demo with ``--every 2`` is over in seconds)."""
    return [round(seconds * min(1.0, every / 60), 3) for seconds in DEMO_DUE_SECONDS]


def demo_items(now: datetime, every: float, bucket_minutes: int) -> list[dict[str, Any]]:
    """Demo jobs in the original item format, due at odd fractions of a second over the next runs."""
    serialize = TypeSerializer().serialize
    items = []
    for (detail_type, detail), seconds in zip(DEMO_JOBS, demo_due_seconds(every), strict=True):
        due = now + timedelta(seconds=seconds)
        item = {
            "pk": keys.partition_key(due, bucket_minutes),
            "sk": keys.sort_key(due, keys.new_job_id(due)),
            "detail": detail,
            "detail_type": detail_type,
        }
        items.append({name: serialize(value) for name, value in item.items()})
    return items


class Console:
    """Prints what happens, one line an event."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._lock = threading.Lock()

    def say(self, line: str = "") -> None:
        with self._lock:
            print(line, file=self.out, flush=True)

    def run(self, run: Run) -> None:
        clock = datetime.now(UTC).strftime("%H:%M:%S")
        if run.status != "SUCCEEDED":
            self.say(f"{clock}  dispatcher run {run.status}: {run.error}")
            return
        o = run.output
        if o.get("skipped"):
            self.say(f"{clock}  dispatcher run skipped: {o['skipped']}")
            return
        line = (
            f"{clock}  dispatcher run {o.get('windowStart', '')[11:19]} to {o.get('until', '')[11:19]}:"
            f" due {o.get('due', 0)} · published {o.get('published', 0)}"
            f" · failed {o.get('failed', 0)} · deleted {o.get('deleted', 0)}  ({run.seconds:.2f} s)"
        )
        if o.get("published"):
            line += f" · latest {o.get('latenessMaxMs', 0) / 1000:.2f} s late"
        if o.get("deadLettered"):
            line += f" · dead-lettered {o['deadLettered']}"
        if o.get("backlogBuckets"):
            line += f" · catching up {o['backlogBuckets']} buckets"
        if o.get("errors"):
            line += f"  errors: {o['errors']}"
        self.say(line)

    def failed(self, what: str, error: Exception) -> None:
        self.say(f"{datetime.now(UTC):%H:%M:%S}  {what} failed: {type(error).__name__}: {error}")

    def fired(self, event: dict[str, Any]) -> None:
        received = datetime.now(UTC)
        due = due_time_of(event)
        late = (received - due).total_seconds()
        self.say(
            f"{received:%H:%M:%S}  fired  {event['detail-type']:<14} job {job_id_of(event)}  due {due:%H:%M:%S.%f}"[:-3]
            + f"  {late:+.2f} s late"
        )


def _watch_worker_queue(cloud: LocalCloud, console: Console, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            for event in cloud.receive_events(wait_seconds=1):
                console.fired(event)
        except Exception as error:  # keep watching: the next receive may well succeed
            console.failed("console worker", error)
            stop.wait(1)


def serve(
    *,
    port: int,
    every: float,
    demo: bool,
    exit_after: float | None,
    settings: Settings,
    out: TextIO = sys.stdout,
    install_signal_handlers: Callable[[threading.Event], None] | None = None,
    ui_port: int | None = None,
    data: Path | None = None,
    fresh: bool = False,
) -> int:
    """Run the local cloud until Ctrl-C, SIGTERM or ``exit_after`` seconds; 0 on a clean stop. Its tables are kept
    in ``data`` (None: in memory only); ``fresh`` empties it first."""
    console = Console(out)
    stop = threading.Event()
    (install_signal_handlers or _stop_on_signals)(stop)
    cloud = LocalCloud(port=port, settings=settings, data=data, fresh=fresh)
    try:
        cloud.start()
    except DataFolderInUse as error:
        console.say(f"onthedot local: {error}; choose another folder with --data")
        return 1
    except OSError as error:
        console.say(f"onthedot local: cannot listen on 127.0.0.1:{port}: {error.strerror or error}")
        console.say("  another local cloud may be running; choose another port with --port")
        return 1
    try:
        _banner(console, cloud, every)
        if demo:
            now = datetime.now(UTC)
            for item in demo_items(now, every, settings.bucketMinutes):
                cloud.client("dynamodb").put_item(TableName=cloud.names.table, Item=item)
            due_in = ", ".join(f"{seconds:g}" for seconds in demo_due_seconds(every))
            console.say(f"demo: {len(DEMO_JOBS)} jobs scheduled, due in {due_in} s")
        ui = None if ui_port is None else start_beside(console.say, port, ui_port, settings.bucketMinutes)
        watcher = threading.Thread(target=_watch_worker_queue, args=(cloud, console, stop), daemon=True)
        watcher.start()
        ticker = Ticker(cloud, every, console.run, lambda error: console.failed("dispatcher start", error)).start()
        stop.wait(timeout=exit_after)
        console.say("stopping …")
        ticker.stop()
        if ui is not None:
            ui.stop()
        watcher.join(timeout=5)
        for event in cloud.receive_events():  # what fired during the last run
            console.fired(event)
    finally:
        # A run still waiting out its window is abandoned: what it logs as the cloud goes away is not news.
        logging.getLogger("moto").disabled = True
        cloud.stop()
    console.say("stopped")
    return 0


def _banner(console: Console, cloud: LocalCloud, every: float) -> None:
    environment = " ".join(f"{name}={value}" for name, value in cloud.environment().items())
    console.say(f"onthedot local cloud on {cloud.endpoint}")
    console.say(f"  point boto3 and the AWS CLI at it:  export {environment}")
    console.say(f"  jobs table {cloud.names.table} · bus {cloud.names.bus} · dispatcher every {every:g} s")
    console.say(f"  state machine {cloud.state_machine_arn}")
    if cloud.data is None:
        console.say("  data in memory only: gone when it stops")
    else:
        jobs = sum(item["pk"].get("S", "").startswith(keys.PK_PREFIX) for item in cloud.restored[cloud.names.table])
        series = sum(item["pk"].get("S", "").startswith(SERIES_PK_PREFIX) for item in cloud.restored[cloud.names.table])
        dead = sum(item["pk"].get("S") == DEAD_PK for item in cloud.restored[cloud.names.dead_letter_table])
        skipped = f" · {cloud.data.skipped} torn journal lines skipped" if cloud.data.skipped else ""
        console.say(
            f"  data in {cloud.data.folder}: restored {jobs} pending jobs, {series} series, {dead} dead letters"
            f"{skipped} (--fresh starts empty)"
        )
    example = json.dumps(
        {
            "pk": {"S": "j#2026-02-09T11:30"},
            "sk": {"S": "2026-02-09T11:33:00.000Z#7f9c…"},
            "detail": {"M": {"recipient": {"S": "ada@example.com"}}},
            "detail_type": {"S": "reminder"},
        }
    )
    console.say(f"  schedule by hand:  aws dynamodb put-item --table-name {cloud.names.table} --item '{example}'")
    console.say("  Ctrl-C stops it")
    console.say()


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(_signum: int, _frame: Any) -> None:
        # A handler runs in the main thread, between any two bytecodes: a second signal (``timeout`` and Ctrl-C
        # signal the whole process group) may arrive while the first one's ``set()`` holds the event's lock, and
        # a second ``set()`` would wait for that lock for ever. ``is_set()`` takes no lock.
        if not stop.is_set():
            stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
