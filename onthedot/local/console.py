"""`onthedot local`: the local cloud in a terminal, with the ticker, the console worker and the demo jobs."""

from __future__ import annotations

import json
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from boto3.dynamodb.types import TypeSerializer

from onthedot import keys
from onthedot.jobs import job_id_of
from onthedot.local.cloud import LocalCloud, Run, Ticker
from onthedot.settings import Settings

DEMO_JOBS = (
    ("reminder", {"recipient": "ada@example.com", "text": "Stand-up in 5 minutes"}),
    ("price-change", {"sku": "TEA-042", "price": "4.20", "currency": "EUR"}),
    ("reminder", {"recipient": "grace@example.com", "text": "Café at noon — « on the dot »"}),
    ("report", {"name": "daily-sales", "format": "csv"}),
)


def demo_items(now: datetime, every: float, bucket_minutes: int) -> list[dict[str, Any]]:
    """Demo jobs in the original item format: one already overdue, the rest due over the next runs.

    They are spaced by half the tick interval (at most 30 s), so all of them are due within two minutes.
    """
    spacing = min(30.0, every / 2)
    serialize = TypeSerializer().serialize
    items = []
    for index, (detail_type, detail) in enumerate(DEMO_JOBS):
        due = now + timedelta(seconds=-60 if index == 0 else spacing * index)
        item = {
            "pk": keys.partition_key(due, bucket_minutes),
            "sk": keys.sort_key(due, str(uuid.uuid4())),
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
        line = (
            f"{clock}  dispatcher run: due {o.get('due', 0)} · published {o.get('published', 0)}"
            f" · failed {o.get('failed', 0)} · deleted {o.get('deleted', 0)}  ({run.seconds:.2f} s)"
        )
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
        due = keys.parse_time(event["time"].replace("Z", "+00:00"))
        late = (received - due).total_seconds()
        self.say(
            f"{received:%H:%M:%S}  fired  {event['detail-type']:<14} job {job_id_of(event)}"
            f"  due {due:%H:%M:%S}  {late:+.1f} s late"
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
) -> int:
    """Run the local cloud until Ctrl-C, SIGTERM or ``exit_after`` seconds; 0 on a clean stop."""
    console = Console(out)
    stop = threading.Event()
    (install_signal_handlers or _stop_on_signals)(stop)
    cloud = LocalCloud(port=port, settings=settings)
    try:
        cloud.start()
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
            console.say(f"demo: {len(DEMO_JOBS)} jobs scheduled, due between now and {min(30.0, every / 2) * 3:.0f} s")
        watcher = threading.Thread(target=_watch_worker_queue, args=(cloud, console, stop), daemon=True)
        watcher.start()
        ticker = Ticker(cloud, every, console.run, lambda error: console.failed("dispatcher start", error)).start()
        stop.wait(timeout=exit_after)
        console.say("stopping …")
        ticker.stop()
        watcher.join(timeout=5)
        for event in cloud.receive_events():  # what fired during the last run
            console.fired(event)
    finally:
        cloud.stop()
    console.say("stopped")
    return 0


def _banner(console: Console, cloud: LocalCloud, every: float) -> None:
    environment = " ".join(f"{name}={value}" for name, value in cloud.environment().items())
    console.say(f"onthedot local cloud on {cloud.endpoint}")
    console.say(f"  point boto3 and the AWS CLI at it:  export {environment}")
    console.say(f"  jobs table {cloud.names.table} · bus {cloud.names.bus} · dispatcher every {every:g} s")
    console.say(f"  state machine {cloud.state_machine_arn}")
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
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
