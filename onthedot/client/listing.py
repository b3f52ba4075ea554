"""Listing pending jobs by due time, a page at a time (the ``Scheduler.list_jobs`` part).

Jobs sit in one partition per bucket of due times and shard, so a time range is read bucket by bucket, in
order, one Query per shard of each bucket, merged in sort key (due) order; no scan and no index. The cursor
(``onthedot.client.cursors``) remembers the range, the bucket and the last sort key returned in it: every shard
goes on after that sort key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from onthedot.client.clock import Clock
from onthedot.client.cursors import jobs_cursor, read_jobs_cursor
from onthedot.client.table import JobsTable
from onthedot.client.validation import check_limit, instant
from onthedot.core.errors import InvalidJob
from onthedot.core.jobs import SK
from onthedot.core.keys import bucket_start, format_time
from onthedot.core.models import Job, Page

DEFAULT_LIST_AHEAD = timedelta(days=1)
MAX_PARTITIONS_A_PAGE = 300  # Queries one call makes at most (a day of 5-minute buckets fits in one)


class JobListing:
    """Pending jobs in ``table`` by due time: ``Scheduler.list_jobs``."""

    def __init__(self, table: JobsTable, clock: Clock) -> None:
        self.table = table
        self.clock = clock

    def page(self, *, start: datetime | str | None, end: datetime | str | None, limit: int, cursor: str | None) -> Page:
        check_limit(limit)
        if cursor is not None:
            low, high, bucket, after = read_jobs_cursor(cursor)
            bucket_minutes = self.table.bucket_minutes
        else:
            now = self.clock.now()
            given_low = None if start is None else instant("start", start)
            high = now + DEFAULT_LIST_AHEAD if end is None else instant("end", end)
            bucket_minutes = self.table.bucket_minutes  # read once the times are known to be good
            low = given_low or bucket_start(now, bucket_minutes) - timedelta(minutes=2 * bucket_minutes)
            if high < low:
                raise InvalidJob("end", f"{format_time(high)} is before start {format_time(low)}")
            bucket, after = bucket_start(low, bucket_minutes), None
        width = timedelta(minutes=bucket_minutes)
        last_bucket = bucket_start(high, bucket_minutes)
        # "<time>#<id>" sorts after "<time>" and before "<time>$": the range holds both ends.
        between = (format_time(low), format_time(high) + "$")
        jobs: list[Job] = []
        series_cache: dict[str, dict[str, Any] | None] = {}
        for _ in range(max(1, MAX_PARTITIONS_A_PAGE // self.table.shards)):
            items, more = self._read_bucket(bucket, between, after, limit - len(jobs))
            jobs.extend(self.table.job(item, series_cache) for item in items)
            if more:
                after = str(items[-1][SK]) if items else after
                if len(jobs) >= limit:
                    return Page(jobs, jobs_cursor(low, high, bucket, after))
                continue
            if bucket >= last_bucket:  # (and no bucket after the last: the year 9999 ends there)
                return Page(jobs, None)
            bucket, after = bucket + width, None
            if len(jobs) >= limit:
                return Page(jobs, jobs_cursor(low, high, bucket, None))
        return Page(jobs, jobs_cursor(low, high, bucket, after))  # the query budget is spent: the rest is paged

    def _read_bucket(
        self, bucket: datetime, between: tuple[str, str], after: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` items of the bucket in ``between`` after the sort key ``after``, from every shard in
        sort key order; and whether the bucket may hold more. Only what no shard can still precede is returned:
        the items up to the smallest last sort key of the shards that have more."""
        items: list[dict[str, Any]] = []
        bound: str | None = None  # the smallest sort key a shard with more stopped at
        for pk in self.table.shard_keys(bucket):
            page = self.table.query(pk, between=between, after=after, limit=limit)
            items.extend(page.items)
            if page.after is not None and (bound is None or page.after < bound):
                bound = page.after
        items.sort(key=lambda item: str(item[SK]))
        ready = items if bound is None else [item for item in items if str(item[SK]) <= bound]
        return ready[:limit], bound is not None or len(ready) > limit
