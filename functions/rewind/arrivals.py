"""Arrivals: every job item is checked where it arrives, so that it fires on time or is dead-lettered with a reason.

The jobs table's stream (keys only, inserts of ``j#`` items) brings the keys of each new job. For each:

- **Canonical keys** (``keys.canonical_keys`` gives them back unchanged): the job stays. If it landed in a
  bucket the dispatcher has already drained, the cursor moves back to that bucket and the next run fires it.
- **A due time read without doubt, keys in another shape** (typed by hand: no milliseconds, an offset, a space,
  the basic form, a partition key off the grid or disagreeing with the sort key's time): the job is re-filed
  under its canonical keys, same job id and content, in one transaction that deletes the old item.
- **A due time further behind the dispatcher's cursor than one run catches up** (more than
  ``catch_up_buckets - 2`` buckets): re-filed at the start of the cursor's bucket, so that the next run fires it,
  with the due time it was typed with in ``original_due``. Catch-up is bounded by where the dispatcher stands
  (its own outage), not by the oldest time anyone typed, and the cursor only moves back to grid keys that one
  run drains from. The cursor, not the clock, is the measure: it is how far the dispatcher has got, whatever
  the clock skew (and runs replayed in the tests set it). Before the dispatcher's first run there is no cursor,
  and a late job moves it back as far as its bucket, as before.
- **Keys that do not name a due time and a job id without doubt** (no zone, not a time, no job id): the job
  goes to the dead letter with the reason and leaves the table.

An occurrence of a recurring job keeps its sort key, as its series points at it: the dispatcher writes it under
canonical keys, long past only after an outage of the dispatcher itself. Only its partition may change, when the
bucket width has. Stream records come at least once, so every step is idempotent: a job already moved, published
or dead-lettered is simply not found.

**The sweep** (``Arrivals.sweep``) puts every job already in the table through the same judgement, when the
bucket width changes: the jobs waiting on the old grid are re-filed on the new one, where the dispatcher looks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from functions.publish.dead_letter import POISON, DeadLetters
from onthedot.core import jobs, keys


@dataclass(frozen=True)
class Verdict:
    """Where a job belongs (``pk``, ``sk``), or why it goes to the dead letter (``reason``)."""

    pk: str = ""
    sk: str = ""
    original_due: str | None = None
    reason: str | None = None


def judge(
    pk: str, sk: str, *, cursor: datetime | None, bucket_minutes: int, catch_up_buckets: int, shards: int = 1
) -> Verdict:
    """Where the job with these keys belongs, with the dispatcher's cursor at the bucket starting at ``cursor``
    (None before its first run): a pure function of the keys, the cursor and the knobs."""
    try:
        canonical_pk, canonical_sk = keys.canonical_keys(pk, sk, bucket_minutes, shards)
    except keys.KeyFormatError as error:
        return Verdict(reason=f"{POISON}{error}")
    due, job_id = keys.parse_sort_key(canonical_sk)
    if cursor is not None and keys.bucket_start(due, bucket_minutes) < oldest_bucket(
        cursor, bucket_minutes, catch_up_buckets
    ):
        return Verdict(
            keys.partition_key(cursor, bucket_minutes, keys.split_partition_key(canonical_pk)[1]),
            keys.sort_key(cursor, job_id),
            original_due=keys.format_time(due),
        )
    return Verdict(canonical_pk, canonical_sk)


def _bucket_of(pk: str) -> str:
    """The bucket key (shard 0's) of a canonical partition key."""
    return keys.split_partition_key(pk)[0]


def oldest_bucket(cursor: datetime, bucket_minutes: int, catch_up_buckets: int) -> datetime:
    """The oldest bucket a job keeps its due time in: the cursor may move back to it, and the next run still drains
    from there up to the bucket of its cutoff (``catch_up_buckets`` a run, that bucket and the one before it
    included)."""
    return cursor - (catch_up_buckets - 2) * timedelta(minutes=bucket_minutes)


def inserted_jobs(records: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
    """``(pk, sk)`` of each job inserted, in stream order (the local cloud sends every record, unfiltered)."""
    for record in records:
        item_keys = record.get("dynamodb", {}).get("Keys", {})
        pk = item_keys.get(jobs.PK, {}).get("S", "")
        if record.get("eventName") == "INSERT" and pk.startswith(keys.PK_PREFIX):
            yield pk, item_keys.get(jobs.SK, {}).get("S", "")


@dataclass
class Outcome:
    kept: int = 0
    refiled: int = 0
    dead_lettered: int = 0
    gone: int = 0
    """Not found when read: published, cancelled or already moved meanwhile (or a record delivered again)."""
    rewound_to: str | None = None
    dead_reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "refiled": self.refiled,
            "deadLettered": self.dead_lettered,
            "gone": self.gone,
            "rewoundTo": self.rewound_to,
        }


@dataclass
class Sweep:
    """What one invocation of the sweep did: counts only, and where the next one goes on from."""

    outcome: Outcome = field(default_factory=Outcome)
    pages: int = 0
    scanned: int = 0
    jobs: int = 0
    misfiled: int = 0
    next_start: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "scanned": self.scanned,
            "jobs": self.jobs,
            "misfiled": self.misfiled,
            **self.outcome.as_dict(),
            "finished": self.next_start is None,
        }


@dataclass
class Arrivals:
    table: Any  # boto3 DynamoDB Table resource: the jobs table
    dead_letters: DeadLetters | None  # None only while the wiring does not name the dead-letter table yet
    bucket_minutes: int
    catch_up_buckets: int
    now: Callable[[], datetime]
    shards: int = 1

    def receive(self, records: Sequence[Mapping[str, Any]]) -> Outcome:
        """Check every job inserted in ``records``; raises on a service error, and the stream delivers again."""
        outcome = Outcome()
        self._settle(list(inserted_jobs(records)), outcome)
        return outcome

    def sweep(self, start: Mapping[str, Any] | None, *, out_of_time: Callable[[], bool], page_size: int) -> Sweep:
        """Scan the table from ``start`` (an ``ExclusiveStartKey``, None for the beginning) and settle every job
        whose keys are not canonical under the width in force, as if it had just arrived. Stops after the page
        on which ``out_of_time()`` turns true; ``Sweep.next_start`` says where to go on from (None when done).

        A width change leaves pending jobs on the old grid, where no run looks any more: this brings them back
        under the dispatcher's queries. Jobs it re-files are canonical, so a later page never moves them again."""
        swept = Sweep()
        scan: dict[str, Any] = {
            "ProjectionExpression": "#pk, #sk",
            "FilterExpression": "begins_with(#pk, :jobs)",
            "ExpressionAttributeNames": {"#pk": jobs.PK, "#sk": jobs.SK},
            "ExpressionAttributeValues": {":jobs": keys.PK_PREFIX},
            "Limit": page_size,  # bounds the work of one page, so that the time check between pages holds
            "ConsistentRead": True,  # a job written just before the width changed is seen
        }
        while True:
            page = self.table.scan(**scan, **({"ExclusiveStartKey": dict(start)} if start else {}))
            swept.pages += 1
            swept.scanned += int(page.get("ScannedCount", 0))
            found = [(str(item[jobs.PK]), str(item[jobs.SK])) for item in page.get("Items", [])]
            swept.jobs += len(found)
            misfiled = [(pk, sk) for pk, sk in found if not self._canonical(pk, sk)]
            swept.misfiled += len(misfiled)
            if misfiled:
                self._settle(misfiled, swept.outcome)
            start = page.get("LastEvaluatedKey")
            if not start or out_of_time():
                swept.next_start = dict(start) if start else None
                return swept

    def _canonical(self, pk: str, sk: str) -> bool:
        try:
            return keys.canonical_keys(pk, sk, self.bucket_minutes, self.shards) == (pk, sk)
        except keys.KeyFormatError:
            return False

    def _settle(self, arrived: Sequence[tuple[str, str]], outcome: Outcome) -> None:
        """Judge each job and keep, re-file or bury it; move the cursor back over the oldest one filed behind it."""
        current = keys.partition_key(self.now(), self.bucket_minutes)
        # A run's catch-up moves the cursor up to the bucket of its cutoff, which may be the current one: a job due
        # before the current bucket may lie behind the cursor.
        cursor = self._cursor() if any(self._before(pk, sk, current) for pk, sk in arrived) else None
        filed: list[str] = []
        for pk, sk in arrived:
            verdict = judge(
                pk,
                sk,
                cursor=cursor,
                bucket_minutes=self.bucket_minutes,
                catch_up_buckets=self.catch_up_buckets,
                shards=self.shards,
            )
            if verdict.reason is not None:
                self._bury(pk, sk, verdict.reason, outcome)
            elif (verdict.pk, verdict.sk) == (pk, sk):
                outcome.kept += 1
                filed.append(pk)
            elif (where := self._refile(pk, sk, verdict, outcome)) is not None:
                filed.append(where)
        # The cursor names buckets (shard 0's key): a job filed in any shard of an older bucket moves it back.
        late = min((bucket for bucket in map(_bucket_of, filed) if bucket < current), default=None)
        if late is not None and self._rewind(late):
            outcome.rewound_to = late  # a later success is older still: the rewind only ever moves back

    def _before(self, pk: str, sk: str, partition: str) -> bool:
        try:
            return _bucket_of(keys.canonical_keys(pk, sk, self.bucket_minutes, self.shards)[0]) < partition
        except keys.KeyFormatError:
            return False

    def _cursor(self) -> datetime | None:
        """The start of the bucket the dispatcher's cursor names, snapped to the grid; None when there is none."""
        item = self.table.get_item(Key={jobs.PK: jobs.CURSOR_PK, jobs.SK: jobs.CURSOR_SK}, ConsistentRead=True)
        bucket = str(item.get("Item", {}).get(jobs.CURSOR_BUCKET, ""))
        try:
            return keys.bucket_start(keys.read_time(bucket.removeprefix(keys.PK_PREFIX) + "Z"), self.bucket_minutes)
        except keys.KeyFormatError:
            return None

    def _read(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={jobs.PK: pk, jobs.SK: sk}, ConsistentRead=True).get("Item")
        return None if item is None else dict(item)

    def _refile(self, pk: str, sk: str, verdict: Verdict, outcome: Outcome) -> str | None:
        """Move the job to ``verdict``'s keys; the partition it waits in now (None when it is gone)."""
        item = self._read(pk, sk)
        if item is None:
            outcome.gone += 1
            return None
        if jobs.SERIES in item:
            # An occurrence of a recurring job keeps its sort key, which its series points at: one long past comes
            # from an outage of the dispatcher itself, which the catch-up works off. Its partition follows from
            # the sort key and the width, so one left on the grid of a former width moves to the current grid.
            canonical_pk, canonical_sk = keys.canonical_keys(pk, sk, self.bucket_minutes, self.shards)
            if canonical_sk != sk:
                reason = f"{POISON}an occurrence of series {item[jobs.SERIES]} under keys of another shape"
                self._bury(pk, sk, reason, outcome, item)
                return None
            if canonical_pk == pk:
                outcome.kept += 1
                return pk
            verdict = Verdict(canonical_pk, sk)
        moved = {**item, jobs.PK: verdict.pk, jobs.SK: verdict.sk}
        if verdict.original_due is not None:
            moved.setdefault(jobs.ORIGINAL_DUE, verdict.original_due)
        try:
            # The delete comes first: the local cloud applies the two in order, running this function for the
            # put in between, and the old item must be gone by then (on AWS the order makes no difference).
            # The resource's client takes plain values, as the table does.
            self.table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table.name,
                            "Key": {jobs.PK: pk, jobs.SK: sk},
                            "ConditionExpression": "attribute_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": jobs.PK},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table.name,
                            "Item": moved,
                            "ConditionExpression": "attribute_not_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": jobs.PK},
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            failed = [
                reason.get("Code") == "ConditionalCheckFailed" for reason in error.response["CancellationReasons"]
            ]
            if failed[0]:  # published or cancelled since it was read: moving it would bring it back
                outcome.gone += 1
                return None
            if failed[1]:  # the same job id and due time are taken: the user typed the job twice
                self._bury(pk, sk, f"{POISON}a job is already filed under {verdict.pk} {verdict.sk}", outcome, item)
                return None
            raise
        outcome.refiled += 1
        return verdict.pk

    def _bury(self, pk: str, sk: str, reason: str, outcome: Outcome, item: dict[str, Any] | None = None) -> None:
        """Dead-letter the job, then delete it: it is never in neither place."""
        if self.dead_letters is None:
            raise RuntimeError("DEAD_LETTER_TABLE_NAME is not set (see onthedot.deploy.settings.rewind_environment)")
        item = item or self._read(pk, sk)
        if item is None:
            outcome.gone += 1
            return
        buried = self.dead_letters.bury(item, reason, int(item.get(jobs.ATTEMPTS, 0)))
        try:
            self.table.delete_item(
                Key={jobs.PK: pk, jobs.SK: sk},
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": jobs.PK},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        if buried:
            self.dead_letters.grow(1)
        outcome.dead_lettered += 1
        outcome.dead_reasons.append(reason)

    def _rewind(self, partition: str) -> bool:
        """Set the cursor to ``partition`` unless it is already there or older; True when it moved."""
        try:
            self.table.update_item(
                Key={jobs.PK: jobs.CURSOR_PK, jobs.SK: jobs.CURSOR_SK},
                UpdateExpression="SET #bucket = :partition",
                ConditionExpression="attribute_not_exists(#bucket) OR #bucket > :partition",
                ExpressionAttributeNames={"#bucket": jobs.CURSOR_BUCKET},
                ExpressionAttributeValues={":partition": partition},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
