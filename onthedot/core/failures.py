"""What a failed AWS call says, and how long to wait before trying it again.

One definition for the client, the CLI and the functions: the error code of a ``ClientError``, whether a
conditional write failed its condition (alone, ``ConditionalCheckFailedException``; in a transaction, the
cancellation reason of one of its operations), and the back-off between retries.
"""

from __future__ import annotations

import random

from botocore.exceptions import ClientError

BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0
CONDITION_FAILED = "ConditionalCheckFailed"  # a transaction's cancellation reason
TRANSACTION_CONFLICT = "TransactionConflict"  # another transaction was writing one of the items


def backoff(attempt: int, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Seconds before retry ``attempt`` (1-based): doubling from ``base``, capped, with jitter in its upper half."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(error: ClientError) -> list[str]:
    """The reason codes of a cancelled transaction, one per operation in order (empty for any other error)."""
    if error_code(error) != "TransactionCanceledException":
        return []
    return [str(reason.get("Code", "")) for reason in error.response.get("CancellationReasons", [])]


def cancelled_by(error: ClientError, reason: str, index: int | None = None) -> bool:
    """A cancelled transaction with ``reason`` for its operation ``index`` (for any, when None)."""
    reasons = cancellation_reasons(error)
    if index is None:
        return reason in reasons
    return len(reasons) > index and reasons[index] == reason


def condition_failed(error: ClientError, index: int | None = None) -> bool:
    """A write whose condition failed: a conditional put, update or delete, or (``index`` given) operation
    ``index`` of a cancelled transaction; with ``index`` None, any operation of a cancelled transaction too."""
    if index is None and error_code(error) == "ConditionalCheckFailedException":
        return True
    return cancelled_by(error, CONDITION_FAILED, index)
