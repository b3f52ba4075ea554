"""Listing pending jobs by due time, a page at a time (the ``Scheduler.list_jobs`` part).

Jobs sit in one partition per bucket of due times, so a time range is read one Query per bucket, in order, with
no scan and no index; the cursor (``onthedot.client.cursors``) remembers the range, the bucket and where in it to go on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from onthedot.client.context import SchedulerContext
from onthedot.client.cursors import jobs_cursor, read_jobs_cursor
from onthedot.client.validation import check_limit, instant
from onthedot.core.errors import InvalidJob
from onthedot.core.items import dump, dump_key, load
from onthedot.core.jobs import PK, SK
from onthedot.core.keys import bucket_start, format_time, partition_key
from onthedot.core.models import Job, Page

DEFAULT_LIST_AHEAD = timedelta(days=1)
MAX_PARTITIONS_A_PAGE = 300  # Queries one call makes at most (a day of 5-minute buckets fits in one)


class JobListing(SchedulerContext):
    """The listing part of ``Scheduler``."""

    def list_jobs(
        self,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Pending jobs due in [start, end] (default: from the oldest undrained bucket the dispatcher reads,
        i.e. now minus two buckets, to now plus one day), in due order, ``limit`` a page.

        One Query per bucket partition in the range, in order (no scan), and at most ``MAX_PARTITIONS_A_PAGE`` of
        them a call: over a wider range a page can hold fewer than ``limit`` jobs, even none, and still carry a
        cursor. With a ``cursor``, the range is the one of the call that returned it, and ``start``/``end`` are
        ignored.
        """
        check_limit(limit)
        if cursor is not None:
            low, high, bucket, after = read_jobs_cursor(cursor)
            bucket_minutes = self._jobs.bucket_minutes
        else:
            now = self._now()
            given_low = None if start is None else instant("start", start)
            high = now + DEFAULT_LIST_AHEAD if end is None else instant("end", end)
            bucket_minutes = self._jobs.bucket_minutes  # read once the times are known to be good
            low = given_low or bucket_start(now, bucket_minutes) - timedelta(minutes=2 * bucket_minutes)
            if high < low:
                raise InvalidJob("end", f"{format_time(high)} is before start {format_time(low)}")
            bucket, after = bucket_start(low, bucket_minutes), None
        width = timedelta(minutes=bucket_minutes)
        last_bucket = bucket_start(high, bucket_minutes)
        jobs: list[Job] = []
        series_cache: dict[str, dict[str, Any] | None] = {}
        for _ in range(MAX_PARTITIONS_A_PAGE):
            pk = partition_key(bucket, bucket_minutes)
            query: dict[str, Any] = {
                "TableName": self._jobs.name,
                "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :low AND :high",
                "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
                "ExpressionAttributeValues": dump(
                    # "<time>#<id>" sorts after "<time>" and before "<time>$": the range holds both ends.
                    {":pk": pk, ":low": format_time(low), ":high": format_time(high) + "$"}
                ),
                "ConsistentRead": True,
                "Limit": limit - len(jobs),
            }
            if after is not None:
                query["ExclusiveStartKey"] = dump_key(pk, after)
            response = self._jobs.dynamodb.query(**query)
            jobs.extend(self._jobs.job(load(raw), series_cache) for raw in response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if last_key is not None:
                after = str(load(last_key)[SK])
                if len(jobs) >= limit:
                    return Page(jobs, jobs_cursor(low, high, bucket, after))
                continue
            if bucket >= last_bucket:  # (and no bucket after the last: the year 9999 ends there)
                return Page(jobs, None)
            bucket, after = bucket + width, None
            if len(jobs) >= limit:
                return Page(jobs, jobs_cursor(low, high, bucket, None))
        return Page(jobs, jobs_cursor(low, high, bucket, after))  # the query budget is spent: the rest is paged
