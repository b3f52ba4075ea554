"""The figures' geometry, in percent of their box: the templates draw it as SVG (numbers only, no user text
in attributes but the titles, which autoescaping keeps inert)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MAX_LANES = 8  # detail-types drawn as their own lane on the timeline; the rest share the last one


@dataclass(frozen=True)
class Mark:
    x: float  # percent of the width
    item: Any


@dataclass(frozen=True)
class Lane:
    label: str
    marks: list[Mark]


@dataclass(frozen=True)
class Timeline:
    lanes: list[Lane]
    now_x: float
    ticks: list[tuple[float, str]]


def timeline(jobs: Sequence[Any], start: datetime, end: datetime, now: datetime) -> Timeline:
    """Jobs (with ``due`` and ``detail_type``) on a time axis from ``start`` to ``end``, a lane a detail-type."""
    span = max((end - start).total_seconds(), 1.0)

    def x(moment: datetime) -> float:
        return round(min(max((moment - start).total_seconds() / span, 0.0), 1.0) * 100, 2)

    lanes: dict[str, list[Mark]] = {}
    for job in jobs:
        label = job.detail_type if len(lanes) < MAX_LANES - 1 or job.detail_type in lanes else "other types"
        lanes.setdefault(label, []).append(Mark(x(job.due), job))
    step = _tick_step(end - start)
    first = start.replace(second=0, microsecond=0)
    ticks: list[tuple[float, str]] = []
    moment = first + step - timedelta(seconds=first.timestamp() % step.total_seconds())
    while moment < end and len(ticks) < 12:
        ticks.append((x(moment), f"{moment:%H:%M}"))
        moment += step
    return Timeline([Lane(label, marks) for label, marks in lanes.items()], x(now), ticks)


def _tick_step(span: timedelta) -> timedelta:
    for minutes in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360):
        if span / timedelta(minutes=minutes) <= 10:
            return timedelta(minutes=minutes)
    return timedelta(hours=12)


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    height: float  # percent of the box's height, from the bottom
    label: str
    value: float


def bars(values: Sequence[tuple[str, float]]) -> list[Bar]:
    """One bar a value, centred in its slot of the width, scaled to the largest."""
    if not values:
        return []
    top = max((value for _, value in values), default=0) or 1
    width = 100 / len(values)
    return [
        Bar(round((index + 0.1) * width, 2), round(width * 0.8, 2), round(value / top * 100, 2), label, value)
        for index, (label, value) in enumerate(values)
    ]


@dataclass(frozen=True)
class Point:
    x: float
    y: float  # percent from the top
    moment: datetime
    value: float


def line(points: Sequence[tuple[datetime, float]]) -> list[Point]:
    """Values over time (oldest first), scaled to the box: time along x, 0 to the largest value along y."""
    if not points:
        return []
    start, end = points[0][0], points[-1][0]
    span = max((end - start).total_seconds(), 1.0)
    top = max((value for _, value in points), default=0) or 1
    return [
        Point(
            round((moment - start).total_seconds() / span * 100, 2) if len(points) > 1 else 50.0,
            round(100 - value / top * 90, 2),  # the top tenth left free, so the highest dot shows whole
            moment,
            value,
        )
        for moment, value in points
    ]


def polyline(points: Sequence[Point]) -> str:
    return " ".join(f"{point.x},{point.y}" for point in points)
