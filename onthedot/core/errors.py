"""The errors the API raises, in a module of their own so that the client and the recurrence rules share them."""

from __future__ import annotations

from typing import Any


class InvalidJob(ValueError):
    """Bad input, naming the field; nothing was written. The CLI exits 2 on it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message  # the message without the field


class BucketWidthMismatch(InvalidJob):
    """The bucket width given differs from the one the jobs table records (the dispatcher's, on its cursor item):
    jobs keyed with it would never fire. Nothing was written. The CLI exits 2 on it."""

    def __init__(self, given: int, recorded: int, table: str) -> None:
        super().__init__(
            "bucket_minutes",
            f"{given}-minute buckets were asked for, but table {table} records {recorded}-minute buckets (the "
            f"dispatcher's): jobs keyed with {given} would never fire. Leave the width out to use the table's",
        )
        self.given = given
        self.recorded = recorded


class JobNotFound(LookupError):
    """No pending job (or series) with that id. The CLI exits 1 on it."""


class ScheduleIncomplete(RuntimeError):
    """A batch was only partly written: DynamoDB kept returning some items as unprocessed.

    ``written`` holds the jobs that are stored (they will fire), ``unwritten`` the ones that are not.
    The CLI exits 1 on it.
    """

    def __init__(self, written: list[Any], unwritten: list[Any]) -> None:
        super().__init__(
            f"{len(written)} of {len(written) + len(unwritten)} jobs were written; "
            f"{len(unwritten)} stayed unprocessed after retries"
        )
        self.written = written
        self.unwritten = unwritten
