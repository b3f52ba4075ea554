"""Occurrences of recurring jobs: the detail comes from the series item, and each publish moves the series on.

An occurrence item holds only its key, its series id and its number; the series item holds the detail and the
rule. Before publishing, each occurrence gets its series' detail and the item of the occurrence after it. Once
published, ``replace`` deletes it and writes the next one in one transaction (``onthedot.core.occurrence``), so a
crash can neither lose the series nor fork it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.publish.dead_letter import POISON
from onthedot.core import jobs, keys
from onthedot.core.occurrence import occurrence_item


@dataclass(frozen=True)
class Advance:
    """What follows a published occurrence: the next occurrence's item, or None when the series ends."""

    sk: str
    series: str
    following: dict[str, Any] | None


ReadSeries = Callable[[set[str]], tuple[dict[str, dict[str, Any]], dict[str, str]]]
"""Series ids -> (series items by id, read errors by id)."""


def resolve_occurrences(
    items: dict[str, dict[str, Any]], read_series: ReadSeries, bucket_minutes: int, shards: int, created_at: str
) -> tuple[dict[str, Advance], dict[str, str]]:
    """Fill in the detail of every occurrence in ``items`` (in place) and work out what follows it.

    Returns the advances by sort key, and the occurrences that cannot be published now, with the reason.
    """
    occurrences = {sk: item for sk, item in items.items() if jobs.SERIES in item}
    if not occurrences:
        return {}, {}
    from onthedot.core.recurrence import Rule  # croniter is imported only when a page holds recurring jobs

    series_items, errors = read_series({str(item[jobs.SERIES]) for item in occurrences.values()})
    advances: dict[str, Advance] = {}
    unpublishable: dict[str, str] = {}
    for sk, item in occurrences.items():
        series_id = str(item[jobs.SERIES])
        series = series_items.get(series_id)
        if series is None:
            unpublishable[sk] = errors.get(series_id, f"{POISON}its series {series_id} does not exist")
            continue
        try:
            due, job_id = keys.parse_sort_key(sk)
            number = int(item.get(jobs.OCCURRENCE, 1))
            following = Rule.from_item(series).next_after(due, number)
        except ValueError as error:
            unpublishable[sk] = f"{POISON}series {series_id}: {error}"
            continue
        item[jobs.DETAIL] = series.get(jobs.DETAIL, {})
        item[jobs.DETAIL_TYPE] = series.get(jobs.DETAIL_TYPE)
        next_item = None
        if following is not None:
            next_id = keys.with_due(job_id, following)
            next_item = occurrence_item(
                keys.partition_key(following, bucket_minutes, keys.shard_of(next_id, shards)),
                keys.sort_key(following, next_id),
                series_id=series_id,
                number=number + 1,
                detail_type=str(item[jobs.DETAIL_TYPE]),
                created_at=created_at,
            )
        advances[sk] = Advance(sk, series_id, next_item)
    return advances, unpublishable
