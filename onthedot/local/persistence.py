"""The local cloud keeps its DynamoDB tables in a data folder: per table a snapshot and a journal (JSON lines).

Every write request moto serves (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) is
journaled before its answer leaves: for each key the request names, the item as it is *after* the call, or a
delete marker. Reading the state after the call, rather than the request, covers what moto does with it:
update expressions, failed conditions, a transaction rolled back, a batch that failed half-way. A PartiQL
statement names no keys: its tables are compacted instead (rare).

Durability: each line goes to an ``O_APPEND`` file in one ``os.write``, so it is in the kernel before the call
returns and a ``kill -9`` at any moment loses no acknowledged write. There is no ``fsync`` per write (a disk
flush per job; a power cut may lose the last writes); snapshots are fsynced before they replace the old one.

At start the snapshot and the journal are replayed into moto's tables without stream records (restoring must
not run the arrivals function on every job), then compacted: a new snapshot, an empty journal. The same again
on a clean stop, and as it runs whenever the journal outgrows twice the table (or 10,000 lines). Items past their TTL
(``expires_at``: run records, idempotency keys) are dropped at start, as DynamoDB's TTL would drop them. A line
that does not parse (a write torn by a full disk or a crash of the machine) is skipped.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from onthedot.core.jobs import EXPIRES_AT
from onthedot.local.names import REGION
from onthedot.local.patching import Patch

COMPACT_AFTER_LINES = 10_000
_ITEM_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_STATEMENTS = frozenset({"ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"})


class DataFolderInUse(Exception):
    """Another local cloud keeps its tables in this folder."""


class TableJournal:
    """One table's snapshot (``<table>.jsonl``) and journal (``<table>.journal``)."""

    def __init__(self, folder: Path, table_name: str) -> None:
        self.table_name = table_name
        self.snapshot = folder / f"{table_name}.jsonl"
        self.journal = folder / f"{table_name}.journal"
        self.skipped = 0  # lines that did not parse at the last load
        self._lock = threading.Lock()  # reading an item and writing its line are one step: lines stay in order
        self._fd: int | None = None
        self._journaled = self._snapshot_size = 0  # lines in the journal, items in the snapshot

    def _table(self) -> Table | None:
        return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables.get(self.table_name)

    # -- start and stop -----------------------------------------------------------------------------------

    def restore(self) -> list[dict[str, Any]]:
        """Load the snapshot and the journal into the (new, empty) table, without stream records; then compact
        and open the journal for writes. The items restored."""
        table = self._table()
        assert table is not None, f"create {self.table_name} before restoring it"
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for line in self._lines(self.snapshot):
            items[_key_of(table, line["item"])] = line["item"]
        for line in self._lines(self.journal):
            if line.get("item") is not None:
                items[_key_of(table, line["item"])] = line["item"]
            else:
                items.pop(_key_of(table, line["deleted"]), None)
        # moto does not expire items: drop those past their TTL here, as DynamoDB would (run records pile up).
        now = time.time()
        items = {key: item for key, item in items.items() if float(item.get(EXPIRES_AT, {}).get("N", now)) >= now}
        stream, table.stream_shard = table.stream_shard, None
        try:
            for item in items.values():
                table.put_item(item, overwrite=True)
        finally:
            table.stream_shard = stream
        self.compact()  # before the first append: a torn last line must not run into the next one
        return list(items.values())

    def compact(self) -> None:
        """Write the table as it is now to a new snapshot (fsynced, then renamed over the old) and empty the
        journal. A crash between the two replays the journal over the new snapshot: the same state."""
        with self._lock:
            self._compact()

    def _compact(self) -> None:
        table = self._table()
        if table is None:
            return
        lines = _snapshot_lines(table)
        temporary = self.snapshot.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.snapshot)
        _fsync_folder(self.snapshot.parent)
        if self._fd is None:
            self._fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.ftruncate(self._fd, 0)
        self._journaled, self._snapshot_size = 0, len(lines)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    # -- while it runs ------------------------------------------------------------------------------------

    def record(self, key: dict[str, Any]) -> None:
        """Journal the item under ``key`` (any attributes holding the table's key) as it is now."""
        with self._lock:
            table = self._table()
            if self._fd is None or table is None:
                return
            hash_value = key.get(table.hash_key_attr)
            range_value = key.get(table.range_key_attr) if table.range_key_attr else None
            if hash_value is None or (table.range_key_attr and range_value is None):
                return  # moto refused the request: nothing was written under a key it lacks
            item = table.get_item(DynamoType(hash_value), DynamoType(range_value) if range_value else None)
            if item is not None:
                line = _line({"item": item.to_json()["Attributes"]})
            else:
                names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
                line = _line({"deleted": {name: DynamoType(key[name]).to_json() for name in names}})
            data = line.encode()
            while data:  # one write, unless the disk is full (then OSError: the caller sees the call fail)
                data = data[os.write(self._fd, data) :]
            self._journaled += 1
            # A long session (a run record and a cursor write a tick) compacts as it goes: the journal stays
            # within a few times the table.
            if self._journaled > max(COMPACT_AFTER_LINES, 2 * self._snapshot_size):
                self._compact()

    def _lines(self, path: Path) -> Iterator[dict[str, Any]]:
        if not path.exists():
            return
        with path.open(encoding="utf-8", errors="replace") as lines:
            for text in lines:
                try:
                    line = json.loads(text)
                except ValueError:
                    self.skipped += 1  # torn: the write it held never returned
                    continue
                if isinstance(line, dict) and isinstance(line.get("item") or line.get("deleted"), dict):
                    yield line
                else:
                    self.skipped += 1


class DataFolder:
    """The tables of one local cloud kept in ``folder``, locked against a second cloud using it."""

    def __init__(self, folder: Path, table_names: Iterable[str], *, fresh: bool = False) -> None:
        self.folder = folder
        self.journals = {name: TableJournal(folder, name) for name in table_names}
        self._fresh = fresh
        self._lock_fd: int | None = None

    def lock(self) -> None:
        """Take the folder (``--fresh``: emptied first). Released by ``close`` or when the process dies."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataFolderInUse(f"{self.folder} is in use by another local cloud") from None
        self._lock_fd = fd
        if self._fresh:
            for path in self.folder.iterdir():
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.name != ".lock":
                    path.unlink()

    def restore(self) -> dict[str, list[dict[str, Any]]]:
        """Every table's items loaded back (call once the tables exist, before their streams are read), and
        journaling on. The items restored, by table."""
        restored = {name: journal.restore() for name, journal in self.journals.items()}
        with _REGISTRY_LOCK:
            _JOURNALS.update(self.journals)
        return restored

    @property
    def skipped(self) -> int:
        return sum(journal.skipped for journal in self.journals.values())

    def close(self) -> None:
        """Journaling off, each table compacted (call before moto is reset), the folder released."""
        with _REGISTRY_LOCK:
            for name, journal in self.journals.items():
                if _JOURNALS.get(name) is journal:
                    del _JOURNALS[name]
        for journal in self.journals.values():
            if journal._fd is not None:
                journal.compact()
            journal.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


# -- the hook: DynamoDB's request handler ----------------------------------------------------------------

_JOURNALS: dict[str, TableJournal] = {}  # table name → its journal, while a data folder is open
_REGISTRY_LOCK = threading.Lock()


def _call_action(self: DynamoHandler) -> Any:
    """moto's ``DynamoHandler.call_action``, then every item the request wrote journaled (even when it failed:
    a batch may have written part of itself, and the state after the call is what counts)."""
    action = self._get_action() if _JOURNALS else ""
    if action not in _ITEM_WRITES and action not in _STATEMENTS:
        return PATCHES[0].original(self)
    try:
        return PATCHES[0].original(self)
    finally:
        if self.current_account == DEFAULT_ACCOUNT_ID and self.region == REGION:
            if action in _STATEMENTS:
                for journal in list(_JOURNALS.values()):
                    journal.compact()
            else:
                for table_name, key in _written_keys(action, getattr(self, "params", {})):
                    if (written := _JOURNALS.get(table_name)) is not None:
                        written.record(key)


def _written_keys(action: str, params: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, attributes holding the key) for each item a write request names."""
    if action == "PutItem":
        yield params.get("TableName", ""), params.get("Item", {})
    elif action in ("UpdateItem", "DeleteItem"):
        yield params.get("TableName", ""), params.get("Key", {})
    elif action == "BatchWriteItem":
        for table_name, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    yield table_name, request["PutRequest"].get("Item", {})
                elif "DeleteRequest" in request:
                    yield table_name, request["DeleteRequest"].get("Key", {})
    elif action == "TransactWriteItems":
        for operation in params.get("TransactItems", []):
            for kind, request in operation.items():
                if kind in ("Put", "Update", "Delete"):
                    yield request.get("TableName", ""), request.get("Item", request.get("Key", {}))


def _snapshot_lines(table: Table) -> list[str]:
    """The table's items as lines. Other threads may be writing: a write after the copy journals itself once
    the lock is free; one that changes the table during the copy makes it start again."""
    while True:
        try:
            nested: list[Any] = list(table.items.values())
            items: list[Item] = [
                item for value in nested for item in (list(value.values()) if table.range_key_attr else [value])
            ]
            return [_line({"item": item.to_json()["Attributes"]}) for item in items]
        except RuntimeError:  # "changed size during iteration"
            continue


def _key_of(table: Table, item: dict[str, Any]) -> tuple[str, str]:
    return json.dumps(item.get(table.hash_key_attr), sort_keys=True), json.dumps(
        item.get(table.range_key_attr) if table.range_key_attr else None, sort_keys=True
    )


def _line(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PATCHES: tuple[Patch, ...] = (
    Patch(
        DynamoHandler,
        "call_action",
        _call_action,
        why="moto keeps DynamoDB in memory: each item written is journaled before the call returns",
    ),
)
