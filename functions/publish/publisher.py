"""Publish one page of due jobs: read the items, put their events on the bus, report what was accepted.

The dispatcher hands over keys only (``{"pk": ..., "sks": [...]}``) and deletes exactly the sort keys this
module reports as ``published`` or ``dead``; a job that is failed or missing stays in the table for the next run.
So a job is deleted only after EventBridge accepted its event, and under faults it is published twice rather than
never. A published occurrence of a recurring job is replaced here by the next one (one transaction each), so
that the response stays a list of keys and counts whatever the page holds: at most 1,000 keys of at most 125
bytes (``onthedot.core.keys.MAX_JOB_ID_BYTES``), far below Step Functions' 256 KB.

botocore already retries whole requests (throttling, 5xx, connection errors). The loops here retry only what
a successful response hands back as not done: ``UnprocessedKeys`` of BatchGetItem and the entries of PutEvents
that came back with an ``ErrorCode``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.publish.dead_letter import POISON, DeadLetters
from functions.publish.observability import logger
from functions.publish.series import Advance, resolve_occurrences
from onthedot.core import lateness
from onthedot.core.jobs import ATTEMPTS, PK, SERIES_PK_PREFIX, SK, PoisonJob, entry_size, event_entry
from onthedot.core.keys import DEFAULT_BUCKET_MINUTES, format_time, parse_sort_key
from onthedot.core.occurrence import replacement, series_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource
    from mypy_boto3_events.client import EventBridgeClient

MAX_KEYS_PER_READ = 100  # BatchGetItem's limit
MAX_ENTRIES_PER_PUT = 10  # PutEvents' limits: entries, and the sum of their sizes
MAX_BYTES_PER_PUT = 256 * 1024
READ_RETRIES = 5  # extra BatchGetItem calls for keys that came back unprocessed
PARALLEL_PUTS = 10  # PutEvents requests in flight at once: a page of 1,000 jobs is 100 requests
PARALLEL_READS = 10  # BatchGetItem requests in flight at once: a page of 1,000 jobs is 10 requests
PARALLEL_REPLACEMENTS = 10  # occurrence transactions in flight at once
# The dispatcher wakes in whole seconds and reads the jobs due until the end of that second: the function holds
# each until its due time. A job due later than this (a clock far off, a hand-made page) is left for a later tick.
HOLD_SECONDS = 2.0
REQUEST_FAILED = "PutEvents failed: "
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0

Sleep = Callable[[float], object]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Failure:
    """A job that was not published this time, and why; it stays in the table."""

    sk: str
    error: str


@dataclass
class PageResult:
    """What happened to every sort key of a page: published, failed or missing (deleted meanwhile)."""

    published: list[str] = field(default_factory=list)
    """Accepted by EventBridge: one-time jobs (the dispatcher deletes them) and, until they are replaced here,
    occurrences of recurring jobs."""
    occurrences: int = 0
    """Published occurrences of recurring jobs, replaced here by the next one (``advanced``), found replaced by
    another run, or left in place (``unreplaced``: the next run publishes them again, with the same job id)."""
    advanced: int = 0
    unreplaced: int = 0
    failed: list[Failure] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    """Sent to the dead letter (a poison job, or its last attempt failed): the dispatcher deletes these too."""
    missing: int = 0
    not_due: int = 0
    """Read but not yet due (beyond ``HOLD_SECONDS``): left in the table, neither published nor failed."""
    dead_letter_size: int | None = None
    lateness_ms: list[float] = field(default_factory=list)
    """Milliseconds from each published job's due time to EventBridge's acceptance of its event."""

    def as_dict(self) -> dict[str, Any]:
        """The Lambda's response to the dispatcher: plain JSON, keys to delete and counts (the errors are logged)."""
        return {
            "published": list(self.published),
            "dead": list(self.dead),
            "occurrences": self.occurrences,
            "advanced": self.advanced,
            "unreplaced": self.unreplaced,
            "failed": len(self.failed),
            "missing": self.missing,
            "notDue": self.not_due,
            "lateness": lateness.histogram(self.lateness_ms),
            "latenessMaxMs": round(max(self.lateness_ms, default=0)),
        }


@dataclass(frozen=True)
class _Pending:
    sk: str
    entry: dict[str, Any]
    due: datetime


def parse_event(event: Mapping[str, Any]) -> tuple[str, list[str], str | None]:
    """``(pk, sks, run)`` from the dispatcher's ``{"pk": "j#...", "sks": ["<due>#<job id>", ...], "run": "<time>"}``."""
    pk = event.get("pk") if isinstance(event, Mapping) else None
    sks = event.get("sks") if isinstance(event, Mapping) else None
    run = event.get("run") if isinstance(event, Mapping) else None
    if not isinstance(pk, str) or not pk:
        raise ValueError("event must carry 'pk', a non-empty string")
    if not isinstance(sks, list) or not all(isinstance(sk, str) and sk for sk in sks):
        raise ValueError("event must carry 'sks', a list of non-empty strings")
    if run is not None and not isinstance(run, str):
        raise ValueError("event's 'run', when given, must be a string (the run's time)")
    return pk, sks, run


def publish_page(
    pk: str,
    sks: Sequence[str],
    *,
    dynamodb: DynamoDBServiceResource,
    table_name: str,
    events_client: EventBridgeClient,
    bus_name: str,
    source: str,
    retries: int,
    bucket_minutes: int = DEFAULT_BUCKET_MINUTES,
    shards: int = 1,
    dead_letters: DeadLetters | None = None,
    run: str | None = None,
    read_retries: int = READ_RETRIES,
    sleep: Sleep = time.sleep,
    now: Clock | None = None,
) -> PageResult:
    """Publish the jobs at ``pk``/``sks`` to ``bus_name``; every distinct sort key ends in exactly one of
    ``published``, ``failed`` or ``missing``.

    ``retries`` is how many more times PutEvents entries that came back failed are sent again, with
    exponential backoff and full jitter between rounds (``sleep`` is injectable, as is the ``now`` clock
    used for lateness).
    """
    clock = now or _utc_now
    order = {sk: index for index, sk in enumerate(dict.fromkeys(sks))}
    result = PageResult()
    items: dict[str, dict[str, Any]] = {}
    advances: dict[str, Advance] = {}

    def read_series(ids: set[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        found, unread = read_keys(
            [series_key(series_id) for series_id in sorted(ids)],
            dynamodb=dynamodb,
            table_name=table_name,
            retries=read_retries,
            sleep=sleep,
        )
        by_id = {str(item[PK]).removeprefix(SERIES_PK_PREFIX): item for item in found}
        return by_id, {str(key[PK]).removeprefix(SERIES_PK_PREFIX): error for key, error in unread}

    # Each job is read only once it is due, so that a job cancelled while the function waits for it stays cancelled.
    for due_now in due_rounds(order, result, clock=clock, sleep=sleep):
        found, failed = read_items(
            pk, due_now, dynamodb=dynamodb, table_name=table_name, retries=read_retries, sleep=sleep
        )
        result.failed.extend(failed)
        result.missing += len(due_now) - len(found) - len(failed)
        found_advances, unpublishable = resolve_occurrences(
            found, read_series, bucket_minutes, shards, format_time(clock())
        )
        result.failed.extend(Failure(sk, error) for sk, error in unpublishable.items())
        pending: list[_Pending] = []
        for sk in due_now:
            if sk not in found or sk in unpublishable:
                continue
            try:
                entry, due = event_entry(found[sk], source=source, bus_name=bus_name)
            except PoisonJob as error:
                result.failed.append(Failure(sk, f"{POISON}{error}"))
                continue
            pending.append(_Pending(sk, entry, due))
        put_entries(pending, result, events_client=events_client, retries=retries, sleep=sleep, now=clock)
        items.update(found)
        advances.update(found_advances)

    if dead_letters is not None:
        settle_failures(result, items, dead_letters, run)
    published_occurrences = [advances[sk] for sk in result.published if sk in advances]
    result.published = [sk for sk in result.published if sk not in advances]
    replace_occurrences(pk, published_occurrences, result, dynamodb=dynamodb, table_name=table_name)
    result.published.sort(key=order.__getitem__)
    result.failed.sort(key=lambda failure: order[failure.sk])
    result.dead.sort(key=order.__getitem__)

    for failure in result.failed:
        logger.warning("job not published", pk=pk, sk=failure.sk, error=failure.error)
    logger.info(
        "published page",
        pk=pk,
        due=len(order),
        published=len(result.published) + result.occurrences,
        advanced=result.advanced,
        unreplaced=result.unreplaced,
        failed=len(result.failed),
        dead_lettered=len(result.dead),
        missing=result.missing,
        not_due=result.not_due,
        max_lateness_ms=round(max(result.lateness_ms, default=0)),
    )
    return result


def read_items(
    pk: str,
    sks: Sequence[str],
    *,
    dynamodb: DynamoDBServiceResource,
    table_name: str,
    retries: int,
    sleep: Sleep,
) -> tuple[dict[str, dict[str, Any]], list[Failure]]:
    """The items found, by sort key (strongly consistent reads), and the keys that could not be read.

    A key that is neither found nor failed is missing: its job was deleted after the page was queried.
    """
    found, unread = read_keys(
        [{PK: pk, SK: sk} for sk in sks], dynamodb=dynamodb, table_name=table_name, retries=retries, sleep=sleep
    )
    by_sk = {str(item[SK]): item for item in found}
    return by_sk, [Failure(str(key[SK]), error) for key, error in unread]


def replace_occurrences(
    pk: str,
    occurrences: Sequence[Advance],
    result: PageResult,
    *,
    dynamodb: DynamoDBServiceResource,
    table_name: str,
) -> None:
    """Replace each published occurrence by the next one, ``PARALLEL_REPLACEMENTS`` transactions at a time.

    A transaction cancelled for a condition means another run replaced it already, or the series was cancelled
    meanwhile: nothing is left to do. Any other failure leaves the occurrence in place, to be published again
    (same job id) and replaced by the next run.
    """
    if not occurrences:
        return
    client = dynamodb.meta.client

    def replace(advance: Advance) -> str:
        try:
            client.transact_write_items(
                TransactItems=replacement(table_name, pk, advance.sk, advance.series, advance.following)
            )
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
                return "elsewhere"
            logger.warning("occurrence not replaced", pk=pk, sk=advance.sk, error=describe(error))
            return "unreplaced"
        except BotoCoreError as error:
            logger.warning("occurrence not replaced", pk=pk, sk=advance.sk, error=describe(error))
            return "unreplaced"
        return "advanced"

    with ThreadPoolExecutor(max_workers=PARALLEL_REPLACEMENTS) as pool:
        outcomes = list(pool.map(replace, occurrences))
    result.occurrences += len(occurrences)
    result.advanced += outcomes.count("advanced")
    result.unreplaced += outcomes.count("unreplaced")


def read_keys(
    keys: Sequence[Mapping[str, str]],
    *,
    dynamodb: DynamoDBServiceResource,
    table_name: str,
    retries: int,
    sleep: Sleep,
) -> tuple[list[dict[str, Any]], list[tuple[Mapping[str, str], str]]]:
    """BatchGetItem of ``keys`` (100 a request, ``PARALLEL_READS`` requests at a time, ``UnprocessedKeys``
    retried): the items found, and each key that could not be read with the reason."""
    chunks = [list(keys[start : start + MAX_KEYS_PER_READ]) for start in range(0, len(keys), MAX_KEYS_PER_READ)]
    if len(chunks) <= 1:
        return _read_chunk(chunks[0] if chunks else [], dynamodb, table_name, retries, sleep)
    found: list[dict[str, Any]] = []
    unread: list[tuple[Mapping[str, str], str]] = []
    with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
        for chunk_found, chunk_unread in pool.map(
            lambda chunk: _read_chunk(chunk, dynamodb, table_name, retries, sleep), chunks
        ):
            found.extend(chunk_found)
            unread.extend(chunk_unread)
    return found, unread


def _read_chunk(
    chunk: list[Mapping[str, str]], dynamodb: DynamoDBServiceResource, table_name: str, retries: int, sleep: Sleep
) -> tuple[list[dict[str, Any]], list[tuple[Mapping[str, str], str]]]:
    found: list[dict[str, Any]] = []
    unread: list[tuple[Mapping[str, str], str]] = []
    if chunk:
        request: Mapping[str, Any] = {table_name: {"Keys": chunk, "ConsistentRead": True}}
        attempt = 0
        while request:
            try:
                response = dynamodb.batch_get_item(RequestItems=request)
            except (BotoCoreError, ClientError) as error:
                error_text = f"BatchGetItem failed: {describe(error)}"
                unread.extend((key, error_text) for key in request[table_name]["Keys"])
                break
            found.extend(dict(item) for item in response.get("Responses", {}).get(table_name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            if attempt >= retries:
                error_text = f"still unprocessed by BatchGetItem after {retries} retries"
                unread.extend((key, error_text) for key in request[table_name]["Keys"])
                break
            attempt += 1
            sleep(backoff(attempt))
    return found, unread


def settle_failures(
    result: PageResult, items: Mapping[str, dict[str, Any]], dead_letters: DeadLetters, run: str | None = None
) -> None:
    """Count a failed attempt on every job that failed; send poison jobs, and jobs out of attempts, to the
    dead letter. Jobs that could not be read stay failed without counting: nothing is known of them."""
    still_failed: list[Failure] = []
    buried = 0
    for failure in result.failed:
        item = items.get(failure.sk)
        if item is None:
            still_failed.append(failure)
            continue
        try:
            if failure.error.startswith(POISON):
                attempts, reason = int(item.get(ATTEMPTS, 0)), failure.error
            else:
                attempts = dead_letters.count_failure(item, failure.error, run)
                if attempts == 0:  # deleted meanwhile
                    result.missing += 1
                    continue
                if attempts < dead_letters.max_attempts:
                    still_failed.append(failure)
                    continue
                reason = f"{attempts} attempts failed; the last: {failure.error}"
            buried += dead_letters.bury(item, reason, attempts)
        except (BotoCoreError, ClientError) as error:
            still_failed.append(Failure(failure.sk, f"{failure.error} (and recording it failed: {describe(error)})"))
            continue
        result.dead.append(failure.sk)
        logger.warning("job dead-lettered", sk=failure.sk, attempts=attempts, reason=reason)
    result.failed = still_failed
    if buried:
        result.dead_letter_size = dead_letters.grow(buried)


def due_rounds(order: Mapping[str, int], result: PageResult, *, clock: Clock, sleep: Sleep) -> Iterator[list[str]]:
    """The sort keys in rounds, each as soon as its jobs are due and never before: the dispatcher wakes in whole
    seconds and hands over the jobs due until the end of that second, so this waits out the fraction. A job due
    beyond ``HOLD_SECONDS`` is left for a later tick (``not_due``); a sort key without a readable due time is due
    now (reading it finds it poison)."""
    horizon = clock() + timedelta(seconds=HOLD_SECONDS)
    waiting: dict[str, datetime] = {}
    for sk in order:
        try:
            due = parse_sort_key(sk)[0]
        except ValueError:
            due = datetime.min.replace(tzinfo=UTC)
        if due > horizon:
            result.not_due += 1
        else:
            waiting[sk] = due
    while waiting:
        moment = clock()
        ready = [sk for sk, due in waiting.items() if due <= moment]
        if not ready:
            sleep((min(waiting.values()) - moment).total_seconds())
            continue
        for sk in ready:
            del waiting[sk]
        yield ready


def put_entries(
    pending: Sequence[_Pending],
    result: PageResult,
    *,
    events_client: EventBridgeClient,
    retries: int,
    sleep: Sleep,
    now: Clock,
) -> None:
    """PutEvents in requests of at most 10 entries and 256 KB, ``PARALLEL_PUTS`` at a time; rejected entries are
    sent again, up to ``retries`` more rounds. Accepted sort keys go to ``result.published``, the rest to
    ``result.failed``."""
    with ThreadPoolExecutor(max_workers=PARALLEL_PUTS) as pool:
        rejected = _put_all(pending, result, events_client, pool, now)
        for attempt in range(1, retries + 1):
            if not rejected:
                return
            logger.info("retrying rejected entries", rejected=len(rejected), attempt=attempt)
            sleep(backoff(attempt))
            rejected = _put_all([job for job, _ in rejected], result, events_client, pool, now)
    result.failed.extend(Failure(job.sk, error) for job, error in rejected)


def _put_all(
    jobs: Sequence[_Pending], result: PageResult, events_client: EventBridgeClient, pool: Executor, now: Clock
) -> list[tuple[_Pending, str]]:
    """One round: every batch sent at once; what was accepted is recorded, what was rejected returned."""
    rejected: list[tuple[_Pending, str]] = []
    for outcomes in pool.map(lambda batch: _put_batch(batch, events_client, now), list(batches(jobs))):
        for job, accepted_at, error in outcomes:
            if accepted_at is not None:
                result.published.append(job.sk)
                result.lateness_ms.append((accepted_at - job.due) / timedelta(milliseconds=1))
            elif error.startswith(REQUEST_FAILED):  # botocore has retried the request already
                result.failed.append(Failure(job.sk, error))
            else:
                rejected.append((job, error))
    return rejected


def _put_batch(
    batch: Sequence[_Pending], events_client: EventBridgeClient, now: Clock
) -> list[tuple[_Pending, datetime | None, str]]:
    """``(job, accepted at or None, error)`` for each job: an entry rejected (retried in rounds), or the request
    failed as a whole (``REQUEST_FAILED``, final). A request refused as a whole for its content is split
    in halves until the entries at fault are alone, so that one bad entry never costs the good ones."""
    try:
        entries: list[Any] = [job.entry for job in batch]
        response = events_client.put_events(Entries=entries)
    except (BotoCoreError, ClientError) as error:
        if len(batch) > 1 and _refused_for_content(error):
            middle = len(batch) // 2
            return _put_batch(batch[:middle], events_client, now) + _put_batch(batch[middle:], events_client, now)
        return [(job, None, f"{REQUEST_FAILED}{describe(error)}") for job in batch]
    accepted_at = now()
    outcomes = response.get("Entries", [])
    if len(outcomes) != len(batch):
        error_text = f"{REQUEST_FAILED}answered {len(outcomes)} results for {len(batch)} entries"
        return [(job, None, error_text) for job in batch]
    return [
        (job, None, f"{outcome['ErrorCode']}: {outcome.get('ErrorMessage', '')}")
        if outcome.get("ErrorCode")
        else (job, accepted_at, "")
        for job, outcome in zip(batch, outcomes, strict=True)
    ]


def _refused_for_content(error: BotoCoreError | ClientError) -> bool:
    """A 4xx answer that is not throttling: the request's entries, not the service, are at fault."""
    if not isinstance(error, ClientError):
        return False
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    code = str(error.response.get("Error", {}).get("Code", ""))
    return 400 <= status < 500 and "Throttl" not in code and code != "LimitExceededException"


def batches(pending: Sequence[_Pending]) -> Iterator[list[_Pending]]:
    """Consecutive groups of at most ``MAX_ENTRIES_PER_PUT`` entries and ``MAX_BYTES_PER_PUT`` bytes."""
    batch: list[_Pending] = []
    size = 0
    for job in pending:
        job_size = entry_size(job.entry)
        if batch and (len(batch) == MAX_ENTRIES_PER_PUT or size + job_size > MAX_BYTES_PER_PUT):
            yield batch
            batch, size = [], 0
        batch.append(job)
        size += job_size
    if batch:
        yield batch


def backoff(attempt: int) -> float:
    """Full jitter: a random wait up to ``BASE * 2**attempt`` seconds, capped."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


def describe(error: BotoCoreError | ClientError) -> str:
    """``Code: message`` of a service error; the text of any other botocore error."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Unknown')}: {details.get('Message', '')}"
    return str(error)


def _utc_now() -> datetime:
    return datetime.now(UTC)
