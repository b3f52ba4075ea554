"""The web console's tests: the tables it reads and the origin its pages are served from."""

from __future__ import annotations

JOBS = "Jobs"
DEAD = "DeadLetters"
ORIGIN = "http://127.0.0.1:4567"
