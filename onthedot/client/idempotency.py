"""Idempotency keys: the record that ties a caller's key to the job (or series) it first scheduled.

A key record is ``pk = key#<key>``, ``sk = key``, with ``job_id`` (or ``series``) and ``expires_at``, the TTL:
7 days after the job's due time, or after a series' end (a series without an end keeps its key for ever). It is
written in the same transaction as what it names, moved along when that job gets a new id, and read back when
a second call brings the same key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from onthedot.client.table import ConditionFailed, Table, Write
from onthedot.core.errors import JobNotFound
from onthedot.core.failures import TRANSACTION_CONFLICT, backoff, cancelled_by
from onthedot.core.jobs import EXPIRES_AT, JOB_ID, KEY_PK_PREFIX, KEY_SK, PK, SERIES, SK

KEY_TTL = timedelta(days=7)
KEY_CONFLICT_RETRIES = 3  # a transaction on an idempotency key that a concurrent caller is writing
RECORD = "key record"  # the name of the record's write in a transaction


def record_key(key: str) -> tuple[str, str]:
    """``(pk, sk)`` of the record of ``key``."""
    return KEY_PK_PREFIX + key, KEY_SK


def expiry(moment: datetime) -> int:
    """The record's TTL (epoch seconds) for a job due at ``moment`` or a series ending then."""
    return int((moment + KEY_TTL).timestamp())


def job_record(key: str, job_id: str, due: datetime) -> dict[str, Any]:
    pk, sk = record_key(key)
    return {PK: pk, SK: sk, JOB_ID: job_id, EXPIRES_AT: expiry(due)}


def series_record(key: str, series_id: str, ends_at: datetime | None) -> dict[str, Any]:
    pk, sk = record_key(key)
    record: dict[str, Any] = {PK: pk, SK: sk, SERIES: series_id}
    if ends_at is not None:
        record[EXPIRES_AT] = expiry(ends_at)
    return record


def put_with_record(table: Table, record: dict[str, Any], writes: list[Write]) -> bool:
    """Put the key record (if new) with ``writes`` in one transaction; True if the key already existed.

    Two callers racing on one key can cancel each other (TransactionConflict): the loser tries again and then
    finds the winner's key record.
    """
    for attempt in range(KEY_CONFLICT_RETRIES + 1):
        try:
            table.transact([table.put_new(RECORD, record), *writes])
        except ConditionFailed as failed:
            if RECORD in failed.names:
                return True
            error = failed.error
        except ClientError as caught:
            error = caught
        else:
            return False
        if attempt == KEY_CONFLICT_RETRIES or not cancelled_by(error, TRANSACTION_CONFLICT):
            raise error
        table.sleep(backoff(attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def read_record(table: Table, key: str) -> dict[str, Any]:
    """The record of a key that exists (``put_with_record`` returned True)."""
    record = table.get(*record_key(key))
    if record is None:  # expired between the transaction and this read: vanishingly rare
        raise JobNotFound(f"the idempotency key {key!r} expired while it was being read; try again")
    return record


def move_record(
    table: Table, key: str, old_id: str, new_id: str, due: datetime, *, or_recreate: bool, name: str = RECORD
) -> Write:
    """The write (named ``name``) that moves the record of ``key`` from job ``old_id`` to ``new_id``, due at
    ``due``. It fails its condition if the record names another job; with ``or_recreate``, a record that has
    expired is written anew rather than failing."""
    names = {"#job": JOB_ID, "#expires": EXPIRES_AT}
    condition = "#job = :old"
    if or_recreate:
        names = {"#pk": PK, **names}
        condition = "attribute_not_exists(#pk) OR " + condition
    values = {":new": new_id, ":old": old_id, ":expires": expiry(due)}
    expression = "SET #job = :new, #expires = :expires"
    return table.update(name, *record_key(key), expression=expression, names=names, values=values, condition=condition)
