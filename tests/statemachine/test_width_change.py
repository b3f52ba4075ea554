"""Drill: the bucket width of a running stack changes (5 -> 15 minutes) with jobs pending on the old grid.

The dispatcher plans its partitions on the new grid only, so a job left under a 5-minute key such as ``j#…T12:05``
would never be queried again. The first run after the change finds another width on its cursor item and starts
the sweep (the arrivals function, ``{"sweep": {"start": null}}``), which re-files every such job on the new grid;
the account must end with nothing lost and nothing stranded.

The width changes as a deploy changes it: the definition and the functions' environment, on the same table. The
publish function reads the real clock, so the jobs that fire here fall due a few minutes before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from onthedot.core import keys
from onthedot.deploy.settings import Settings
from onthedot.local.cloud import LocalCloud
from tests.support.dispatcher import Jobs, Ledger, deploy, run, stored

OLD, NEW = 5, 15


@pytest.fixture
def wider(cloud: LocalCloud) -> Iterator[Settings]:
    """The 15-minute width, for as long as a test runs; the cloud's own settings again after it."""
    try:
        yield dataclasses.replace(cloud.settings, bucketMinutes=NEW)
    finally:
        deploy(cloud, cloud.settings)


def test_changing_the_bucket_width_strands_no_pending_job(
    cloud: LocalCloud, jobs: Jobs, ledger: Ledger, wider: Settings
) -> None:
    assert cloud.settings.bucketMinutes == OLD
    # GIVEN jobs scheduled under 5-minute buckets: in 15-minute terms, two in buckets off the new grid in the
    # previous quarter hour, one in a bucket on both grids, one due just now, and one due in twenty minutes
    now = datetime.now(UTC)
    quarter = keys.bucket_start(now, NEW) - timedelta(minutes=NEW)  # 15 to 30 minutes ago
    due = {
        "older": quarter + timedelta(minutes=6),  # j#…:05 on the old grid
        "off the new grid": quarter + timedelta(minutes=12, seconds=30),  # j#…:10
        "on both grids": quarter + timedelta(minutes=4, seconds=30),  # j#…:00
        "due just now": now - timedelta(seconds=20),
        "later": keys.bucket_start(now, NEW) + timedelta(minutes=20, seconds=7),  # j#…:20, not due for a while
    }
    ids = {name: jobs.put(moment) for name, moment in due.items()}
    ledger.scheduled = set(ids.values())
    assert {name: pk for (pk, sk), _ in stored(cloud).items() for name in ids if sk.endswith(ids[name])} == {
        name: keys.partition_key(moment, OLD) for name, moment in due.items()
    }
    # AND the 5-minute dispatcher ran before any of them was due
    run(cloud, ledger, quarter + timedelta(minutes=4))
    assert ledger.fired == []

    # WHEN the width changes to 15 minutes, and the dispatcher runs: it finds the width on its cursor item changed
    # and starts the sweep (run by the local cloud before it answers, where AWS queues it)
    deploy(cloud, wider)
    run(cloud, ledger, datetime.now(UTC))

    # THEN every job left waits under its canonical keys on the new grid
    assert stored(cloud)
    assert all(keys.canonical_keys(pk, sk, NEW) == (pk, sk) for pk, sk in stored(cloud))
    # AND the 15-minute dispatcher fires every job due, none early, and the later one waits where it will look
    run(cloud, ledger, datetime.now(UTC) + timedelta(seconds=1))
    assert ids["later"] not in ledger.fired
    assert set(stored(cloud)) == {(keys.partition_key(due["later"], NEW), keys.sort_key(due["later"], ids["later"]))}
    settled_waiting(ledger, scheduled=5, published=4, waiting=1)


def settled_waiting(ledger: Ledger, scheduled: int, published: int, waiting: int) -> None:
    assert ledger.account() == {
        "scheduled": scheduled,
        "published": published,
        "dead-lettered": 0,
        "waiting": waiting,
        "lost": 0,
        "duplicated": 0,
    }
