"""The worker kit: read the job out of an onthedot event, and do each job's work once however often it comes.

onthedot delivers every job at least once. Under faults (a run dying between publish and delete, two runs
over the same bucket, an EventBridge retry) a job can arrive twice, always with the same job id in
``resources``. ``idempotent_job`` keys Powertools idempotency on that id: the first delivery runs the handler
and stores its result in a DynamoDB table; a later delivery of the same job gets the stored result back and
the handler does not run again::

    from onthedot.worker import idempotent_job, job_of

    @idempotent_job()                      # table name from IDEMPOTENCY_TABLE_NAME
    def handler(event, context):
        job = job_of(event)
        send(job.detail["recipient"])
        return {"job_id": job.id}          # stored; must be JSON

The table has a string partition key ``id`` and the TTL attribute ``expiration`` (Powertools' defaults,
named below); ``infra.workers.ExampleWorker`` builds one. A handler that raises stores nothing, so a retry
does the work. A duplicate that arrives while the first delivery still runs fails with
``IdempotencyAlreadyInProgressError``; Lambda's asynchronous retries then return the stored result.

This module imports nothing beyond the standard library and ``onthedot.core.jobs`` until ``idempotent_job`` is
called, and then only Powertools' idempotency utility (in the Lambda runtime, from the Powertools layer). The
table name is read, and its client created, on the first delivery: a worker without its table fails then, with
a message naming ``IDEMPOTENCY_TABLE_NAME``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from onthedot.core.jobs import JOB_RESOURCE_PREFIX, job_id_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE_NAME"
# The idempotency table's partition key (a string) and TTL attribute, as the stack creates them.
IDEMPOTENCY_KEY_ATTRIBUTE = "id"
IDEMPOTENCY_EXPIRY_ATTRIBUTE = "expiration"

# How long a job's result is kept, so duplicates within it do no work. Duplicates from the dispatcher come
# minutes apart; a day also covers EventBridge's retries of one delivery (at most 24 hours).
DEFAULT_EXPIRES_AFTER_SECONDS = 24 * 60 * 60

# The idempotency key: the first resource naming an onthedot job, as ``onthedot.core.jobs.job_id_of`` reads it.
JOB_ID_JMESPATH = f"resources[?starts_with(@, '{JOB_RESOURCE_PREFIX}')] | [0]"

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


class NotAJobEvent(ValueError):
    """An event that onthedot did not publish: no job id in ``resources``, or no due time."""


@dataclass(frozen=True)
class Job:
    """What a worker needs from an onthedot event."""

    id: str
    due: datetime  # the job's due time, whole seconds, UTC (the event's ``time``)
    detail_type: str
    detail: Mapping[str, Any]  # the job's payload, as scheduled


def job_of(event: Mapping[str, Any]) -> Job:
    """The job an onthedot event carries; raises ``NotAJobEvent`` for any other event."""
    try:
        job_id = job_id_of(event)
    except ValueError as error:
        raise NotAJobEvent(str(error)) from None
    try:
        due = datetime.fromisoformat(str(event["time"]))
    except (KeyError, ValueError):
        raise NotAJobEvent(f"event of job {job_id} has no ISO 'time' (its due time)") from None
    detail = event.get("detail") or {}
    if not isinstance(detail, Mapping):
        raise NotAJobEvent(f"event of job {job_id} has a 'detail' that is not a JSON object")
    return Job(id=job_id, due=due, detail_type=str(event.get("detail-type", "")), detail=detail)


def idempotent_job(
    table_name: str | None = None,
    *,
    expires_after_seconds: int = DEFAULT_EXPIRES_AFTER_SECONDS,
    persistence_layer: BasePersistenceLayer | None = None,
    on_duplicate: Callable[[Job, Any], None] | None = None,
) -> Callable[[HandlerT], HandlerT]:
    """A decorator for a worker's ``handler(event, context)`` that runs it once per job id.

    ``table_name`` defaults to the ``IDEMPOTENCY_TABLE_NAME`` environment variable, read on the first delivery
    (as is the table's client created), so importing a decorated handler reads and connects nothing;
    ``persistence_layer`` replaces the DynamoDB table altogether (any Powertools persistence layer).
    ``on_duplicate(job, result)`` is called when a delivery is answered with the stored result of an earlier
    one, e.g. to log it.
    An event without an onthedot job id raises ``NotAJobEvent`` before anything is stored.
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent,
    )

    @functools.cache
    def store() -> BasePersistenceLayer:
        # On the first delivery, not when the handler is decorated (at import): the table name is read and the
        # DynamoDB client created where the function's environment is sure to be set.
        if persistence_layer is not None:
            return persistence_layer
        name = table_name or os.environ.get(IDEMPOTENCY_TABLE_ENV, "")
        if not name:
            raise RuntimeError(f"no idempotency table: pass table_name or set {IDEMPOTENCY_TABLE_ENV}")
        return DynamoDBPersistenceLayer(
            table_name=name, key_attr=IDEMPOTENCY_KEY_ATTRIBUTE, expiry_attr=IDEMPOTENCY_EXPIRY_ATTRIBUTE
        )

    def config(job: Job) -> IdempotencyConfig:
        # Built per delivery only to hand the job to the response hook; the key settings never change.
        def replayed(response: Any, idempotent_data: DataRecord) -> Any:
            if on_duplicate is not None:
                on_duplicate(job, response)
            return response

        return IdempotencyConfig(
            event_key_jmespath=JOB_ID_JMESPATH,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=expires_after_seconds,
            response_hook=replayed if on_duplicate is not None else None,
        )

    def decorate(handler: HandlerT) -> HandlerT:
        @functools.wraps(handler)
        def run_once(event: dict[str, Any], context: Any) -> Any:
            job = job_of(event)
            return idempotent(persistence_store=store(), config=config(job))(handler)(event, context)

        return run_once  # type: ignore[return-value]

    return decorate
