"""The console's routes: five pages, each with a live part the page's script refreshes, and the three writes
behind a confirmation page.

Pages render their live part inline; ``?part=live`` returns that part alone. Reads that fail (the local cloud
stopped, credentials expired) show the error in place of the data and the page keeps refreshing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import jinja2
from botocore.exceptions import BotoCoreError, ClientError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from onthedot.cli.render import iso, relative
from onthedot.core.errors import InvalidJob, JobNotFound
from onthedot.ui import actions, charts, lateness, reads, text
from onthedot.ui.guard import LOOPBACK_NAMES, Guard, SecurityHeaders

if TYPE_CHECKING:
    from onthedot.client import Scheduler
    from onthedot.deploy.target import Target

HERE = Path(__file__).parent
MAX_FORM_BYTES = 512 * 1024  # a fixed detail may be large, but no job is bigger than a DynamoDB item (400 KB)
RECENT_RUNS = 8  # runs shown beside the upcoming jobs
STILL_PAGES = ("confirm.html", "done.html", "message.html")  # pages that do not refresh themselves
SERIES_REFRESH = 30.0  # seconds
CONFIRM_PAGES = 10  # pages of dead letters searched for the one a confirmation shows
PAGES = (
    ("/", "Jobs"),
    ("/series", "Series"),
    ("/runs", "Runs & lateness"),
    ("/backlog", "Backlog"),
    ("/dead-letters", "Dead letters"),
)


def create_app(
    scheduler: Scheduler,
    target: Target,
    *,
    read_only: bool = False,
    refresh_seconds: float = 3.0,
    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Starlette:
    """The console over ``scheduler``'s table (``target`` says where it is, for people and for ``status``)."""
    console = Console(scheduler, target, Guard(read_only=read_only), refresh_seconds, clock)
    routes = [
        Route("/", console.jobs_page),
        Route("/series", console.series_page),
        Route("/runs", console.runs_page),
        Route("/backlog", console.backlog_page),
        Route("/dead-letters", console.dead_letters_page),
        Route("/confirm/{action}", console.confirm),
        Route("/actions/{action}", console.act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders), Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]
    return Starlette(routes=routes, middleware=middleware)


def _templates() -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value from the table is user data
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters |= {
        "visible": text.visible,
        "detail": text.detail_text,
        "duration": lateness.duration,
        "iso": iso,
        "polyline": charts.polyline,
        "clock": _clock,
    }
    return Jinja2Templates(env=environment)


class Console:
    """The pages and the writes; each page handler reads, then renders (sync: Starlette runs it in a thread)."""

    def __init__(
        self,
        scheduler: Scheduler,
        target: Target,
        guard: Guard,
        refresh_seconds: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.scheduler = scheduler
        self.target = target
        self.guard = guard
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self.templates = _templates()

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        now = context.get("now") or self.clock()
        live = request.query_params.get("part") == "live"
        base = {
            "pages": PAGES,
            "path": request.url.path,
            "target": self.target,
            "read_only": self.guard.read_only,
            "refresh": self.refresh_seconds,
            "token": self.guard.token,
            "now": now,
            "ago": lambda moment: relative(moment, now),
            "live_only": live,
            "polling": name not in STILL_PAGES,
        }
        return self.templates.TemplateResponse(request, name, base | context, status_code=status)

    def read(self, call: Callable[[], Any]) -> tuple[Any, str | None]:
        """``call()``, or None and the error as a person reads it."""
        try:
            return call(), None
        except _EXPECTED as error:
            return None, _message(error)

    def jobs_page(self, request: Request) -> Response:
        now = self.clock()
        search = request.query_params.get("q", "")
        horizon = request.query_params.get("horizon", reads.DEFAULT_HORIZON)
        horizon = horizon if horizon in reads.HORIZONS else reads.DEFAULT_HORIZON
        found, error = self.read(lambda: reads.upcoming(self.scheduler, now, reads.HORIZONS[horizon], search))
        recent, runs_error = self.read(lambda: reads.active_runs(self.scheduler, RECENT_RUNS))
        context: dict[str, Any] = {
            "now": now,
            "search": search,
            "horizon": horizon,
            "horizons": reads.HORIZONS,
            "found": found,
            "error": error or runs_error,
            "runs": recent or [],
            "late_max": lateness.max_ms,
        }
        if found is not None:
            context["timeline"] = charts.timeline(found.jobs, found.start, found.end, now)
        return self.render(request, "jobs.html", context)

    def series_page(self, request: Request) -> Response:
        now = self.clock()
        lookup = request.query_params.get("id", "")
        found, error = self.read(lambda: reads.recurring(self.scheduler, now, lookup))
        views, errors = found if found is not None else ([], [])
        context = {"now": now, "lookup": lookup, "views": views, "error": error, "errors": errors}
        # A day of buckets is read for the series: refresh it less often than the other pages.
        return self.render(request, "series.html", context | {"refresh": max(self.refresh_seconds, SERIES_REFRESH)})

    def runs_page(self, request: Request) -> Response:
        records, error = self.read(lambda: reads.runs(self.scheduler))
        records = records or []
        summary = lateness.summarize([record.values for record in records])
        over_time = [
            (record.moment, value)
            for record in reversed(records)
            if record.moment is not None and (value := lateness.max_ms(record.values)) is not None
        ]
        labels = [
            lateness.edge_label(edge, summary.edges_ms[index - 1] if index else None)
            for index, edge in enumerate(summary.edges_ms)
        ]
        context = {
            "records": records,
            "error": error,
            "summary": summary,
            "points": charts.line(over_time),
            "histogram": charts.bars(list(zip(labels, summary.counts, strict=True))),
            "late_max": lateness.max_ms,
            "counts": _run_columns(records),
        }
        return self.render(request, "runs.html", context)

    def backlog_page(self, request: Request) -> Response:
        now = self.clock()
        document, error = self.read(lambda: reads.backlog(self.scheduler, self.target, now))
        buckets = document["buckets"] if document else []
        size, size_error = (None, None)
        if self.target.dead_letter_table is not None:
            size, size_error = self.read(self.scheduler.dead_letter_size)
        cursor_age = _cursor_age(document, now, self.scheduler.bucket_minutes) if document else None
        context = {
            "now": now,
            "document": document,
            "error": error or size_error,
            "bars": charts.bars([(bucket["partition"], bucket["pending"]) for bucket in buckets]),
            "buckets": buckets,
            "dead_size": size,
            "cursor_age": cursor_age,
        }
        return self.render(request, "backlog.html", context)

    def dead_letters_page(self, request: Request) -> Response:
        if self.target.dead_letter_table is None:
            missing = (
                f"no dead-letter table known for {self.target.description}: start the console with "
                "--dead-letter-table NAME (a stack names it in its DeadLetterTableName output)"
            )
            return self.render(request, "dead_letters.html", {"page": None, "error": missing, "cursor": None})
        cursor = request.query_params.get("cursor") or None
        page, error = self.read(lambda: reads.dead_letters(self.scheduler, cursor))
        return self.render(request, "dead_letters.html", {"page": page, "error": error, "cursor": cursor})

    def confirm(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in actions.ACTIONS:
            return self.render(request, "message.html", {"title": "Not found", "message": f"no action {action}"}, 404)
        identifier = request.query_params.get("id", "")
        subject, error = self.read(lambda: self._subject(action, identifier))
        return self.render(
            request,
            "confirm.html",
            {"action": action, "id": identifier, "subject": subject, "error": error, "back": _back(action)},
        )

    async def act(self, request: Request) -> Response:
        action = request.path_params["action"]
        form = await _form(request)
        if form is None:
            return self.render(
                request, "message.html", {"title": "Refused", "message": "send the form as a web page does"}, 400
            )
        refusal = self.guard.refusal(request, form.get("token", ""))
        if refusal is not None:
            return self.render(request, "message.html", {"title": "Refused", "message": refusal}, 403)
        if action not in actions.ACTIONS:
            return self.render(request, "message.html", {"title": "Not found", "message": f"no action {action}"}, 404)
        try:
            done = await run_in_threadpool(actions.perform, action, form, self.scheduler)
        except _EXPECTED as error:
            context = {"action": action, "id": form.get("id", ""), "subject": None, "error": _message(error)}
            return self.render(request, "confirm.html", context | {"back": _back(action), "form": form}, _status(error))
        return self.render(request, "done.html", {"done": done, "back": _back(action)})

    def _subject(self, action: str, identifier: str) -> Any:
        """What the action is about, shown on its confirmation page."""
        if action == "redrive":
            return self._dead_letter(identifier)
        kind, canonical = actions.id_kind(identifier)
        return self.scheduler.get_series(canonical) if kind == "series" else self.scheduler.get(canonical)

    def _dead_letter(self, identifier: str) -> Any:
        """The dead letter of a job id or sort key, looked for in the first pages (a redrive finds it anywhere)."""
        cursor = None
        wanted = identifier.strip()
        for _ in range(CONFIRM_PAGES):
            page = self.scheduler.dead_letters(limit=100, cursor=cursor)
            for dead in page.dead_letters:
                if wanted in (dead.job_id, dead.sk):
                    return dead
            cursor = page.cursor
            if cursor is None:
                break
        raise JobNotFound(f"no dead letter {wanted}: it was sent back, or the job was never dead-lettered")


_EXPECTED = (ClientError, BotoCoreError, InvalidJob, JobNotFound)


def _message(error: Exception) -> str:
    """The error as the CLI says it."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"AWS {error.operation_name} failed: {details.get('Code', '?')}: {details.get('Message', error)}"
    return str(error)


def _status(error: Exception) -> int:
    if isinstance(error, InvalidJob):
        return 400
    if isinstance(error, JobNotFound):
        return 404
    return 502


async def _form(request: Request) -> dict[str, str] | None:
    """A urlencoded form (what a page's form sends), at most MAX_FORM_BYTES; None for anything else."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10))
    except (UnicodeDecodeError, ValueError):
        return None


def _clock(moment: datetime | None) -> str:
    """``17:15:22`` for a run's time (its date is in the cell's title)."""
    return "?" if moment is None else f"{moment:%H:%M:%S}"


def _back(action: str) -> str:
    return "/dead-letters" if action == "redrive" else "/"


def _run_columns(records: list[reads.RunRecord]) -> list[str]:
    """The counts shown for each run: the known ones first, then whatever else the records hold."""
    known = ["due", "published", "failed", "deadLettered", "missing", "deleted", "advanced", "undeleted"]
    known += ["backlogBuckets", "partitions"]
    hidden = {lateness.HISTOGRAM, lateness.MAX_MS}
    present = {name for record in records for name in record.values}
    extra = sorted(present - set(known) - hidden)
    return [name for name in known if name in present] + extra


def _cursor_age(document: dict[str, Any], now: datetime, bucket_minutes: int) -> timedelta | None:
    """How far behind the dispatcher's cursor is (the backlog's age), when it is behind the previous bucket."""
    from onthedot.core.keys import PK_PREFIX, bucket_start

    cursor = document.get("cursor")
    if not isinstance(cursor, str) or not cursor.startswith(PK_PREFIX):
        return None
    try:
        start = datetime.strptime(cursor[len(PK_PREFIX) :], "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    except ValueError:
        return None
    previous = bucket_start(now, bucket_minutes) - timedelta(minutes=bucket_minutes)
    return now - start if start < previous else None
