"""An example worker: sends the reminder a ``reminder`` job carries, once per job however often it arrives.

Event, as onthedot publishes a job scheduled with ``detail_type="reminder"``::

    {"source": "onthedot", "detail-type": "reminder", "time": "2026-02-09T11:33:00Z",
     "resources": ["onthedot:job/<job id>"],
     "detail": {"recipient": "ada@example.com", "message": "Stand-up in 5 minutes"}}

Response, stored in the idempotency table and returned again for a duplicate delivery::

    {"job_id": "<job id>", "sent_to": "ada@example.com"}

Writing your own worker
-----------------------
1. Copy this folder to ``functions/<your worker>/``. Keep the handler thin: ``job_of(event)`` gives the job
   id, due time, detail-type and detail; pass them to a plain function that does the work and returns plain,
   JSON-serializable values.
2. Keep ``@idempotent_job()`` between the logger and the handler: a duplicate delivery of the same job then
   returns the stored result instead of doing the work again. Raise to fail: nothing is stored, Lambda
   retries, and a delivery that keeps failing lands in the worker's dead-letter queue.
3. Log the job id and what you acted on at INFO; log the payload at DEBUG only (it is user data).
4. In ``infra/``, build it as ``infra.workers.ExampleWorker`` does (idempotency table, function, a rule on
   the bus matching your ``detail-type``), pointing the handler at ``functions.<your worker>.app.handler``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from onthedot.worker import Job, idempotent_job, job_of

logger = Logger()


def send_reminder(recipient: str, message: str) -> None:
    """Deliver the reminder. A real worker calls its mail or chat service here; the example only logs."""
    logger.info("reminder sent", recipient=recipient, characters=len(message))


def remind(job: Job, *, send: Callable[[str, str], None] = send_reminder) -> dict[str, Any]:
    """Send the job's reminder through ``send(recipient, message)``; what was done, as plain values."""
    recipient = job.detail.get("recipient")
    if not isinstance(recipient, str) or not recipient:
        raise ValueError(f"reminder job {job.id} has no 'recipient'")
    logger.info("sending reminder", job_id=job.id, recipient=recipient, due=job.due.isoformat())
    logger.debug("reminder payload", job_id=job.id, detail=dict(job.detail))
    send(recipient, str(job.detail.get("message", "")))
    return {"job_id": job.id, "sent_to": recipient}


def log_duplicate(job: Job, result: Any) -> None:
    logger.info("duplicate delivery: returning the first result, sending nothing", job_id=job.id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@idempotent_job(on_duplicate=log_duplicate)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return remind(job_of(event), send=send_reminder)
