"""The local cloud's data folder: every way moto writes an item is journaled, and replays to the same table."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from onthedot.core.jobs import TABLE_KEYS
from onthedot.local.cloud import LocalCloud
from onthedot.local.names import REGION
from onthedot.local.persistence import DataFolder, DataFolderInUse


@pytest.fixture
def table(cloud: LocalCloud) -> Iterator[str]:
    """A table of the jobs table's shape, with a stream, gone after the test."""
    name = f"persist-{uuid.uuid4().hex[:8]}"
    _create(cloud, name)
    yield name
    cloud.client("dynamodb").delete_table(TableName=name)


def _create(cloud: LocalCloud, name: str) -> None:
    cloud.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        **TABLE_KEYS,
    )


def _scan(cloud: LocalCloud, name: str) -> list[dict[str, Any]]:
    items = cloud.client("dynamodb").scan(TableName=name)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def _item(pk: str, sk: str, **attributes: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{name: {"S": value} for name, value in attributes.items()}}


def _write_every_way(cloud: LocalCloud, name: str) -> None:
    dynamodb = cloud.client("dynamodb")
    for sk in "abc":
        dynamodb.put_item(TableName=name, Item=_item("p", sk, detail="é « on the dot »"))
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        dynamodb.put_item(TableName=name, Item=_item("p", "a"), ConditionExpression="attribute_not_exists(pk)")
    key = {"pk": {"S": "p"}, "sk": {"S": "a"}}
    dynamodb.update_item(
        TableName=name, Key=key, UpdateExpression="SET n = :n, m = :m", ExpressionAttributeValues={
            ":n": {"N": "1"}, ":m": {"M": {"x": {"L": [{"S": "y"}, {"N": "2.5"}]}}}
        }
    )  # fmt: skip
    dynamodb.update_item(
        TableName=name, Key=key, UpdateExpression="SET n = n + :one", ExpressionAttributeValues={":one": {"N": "1"}}
    )
    dynamodb.update_item(  # an update of an item that is not there creates it
        TableName=name,
        Key={"pk": {"S": "p"}, "sk": {"S": "d"}},
        UpdateExpression="SET x = :x",
        ExpressionAttributeValues={":x": {"S": "new"}},
    )
    dynamodb.delete_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": "b"}})
    dynamodb.batch_write_item(
        RequestItems={
            name: [
                {"PutRequest": {"Item": _item("q", "e")}},
                {"PutRequest": {"Item": _item("q", "f")}},
                {"DeleteRequest": {"Key": {"pk": {"S": "p"}, "sk": {"S": "c"}}}},
            ]
        }
    )
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": _item("q", "g")}},
            {"Delete": {"TableName": name, "Key": {"pk": {"S": "q"}, "sk": {"S": "f"}}}},
            {
                "Update": {
                    "TableName": name,
                    "Key": {"pk": {"S": "q"}, "sk": {"S": "e"}},
                    "UpdateExpression": "SET y = :y",
                    "ExpressionAttributeValues": {":y": {"S": "updated"}},
                }
            },
        ]
    )
    with pytest.raises(ClientError, match="TransactionCanceled"):  # moto puts h, then rolls the table back
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": _item("q", "h")}},
                {"Delete": {"TableName": name, "Key": {"pk": {"S": "q"}, "sk": {"S": "g"}}}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": {"pk": {"S": "p"}, "sk": {"S": "a"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )


def _killed(folder: DataFolder, tmp_path: Path) -> Path:
    """A copy of the folder as a kill -9 would leave it now; then the folder is closed."""
    copy = tmp_path / f"killed-{uuid.uuid4().hex[:6]}"
    shutil.copytree(folder.folder, copy)
    (copy / ".lock").unlink()
    folder.close()
    return copy


def _restart(cloud: LocalCloud, name: str, folder: Path) -> DataFolder:
    """The table empty again, then restored from ``folder``."""
    cloud.client("dynamodb").delete_table(TableName=name)
    _create(cloud, name)
    data = DataFolder(folder, [name])
    data.lock()
    data.restore()
    return data


def test_the_journal_replays_every_way_moto_writes_an_item(cloud: LocalCloud, table: str, tmp_path: Path) -> None:
    # GIVEN a table kept in a data folder, written every way the API allows (some writes failing)
    data = DataFolder(tmp_path / "data", [table])
    data.lock()
    data.restore()
    _write_every_way(cloud, table)
    live = _scan(cloud, table)
    assert [item["sk"]["S"] for item in live] == ["a", "d", "e", "g"]
    journal = (tmp_path / "data" / f"{table}.journal").read_text().splitlines()
    assert len(journal) >= 10
    assert (tmp_path / "data" / f"{table}.jsonl").read_text() == ""  # all of it is in the journal

    # WHEN the process is killed now, and the table restored from what it left
    restored = _restart(cloud, table, _killed(data, tmp_path))
    try:
        # THEN the table is as it was, and restoring emitted no stream records (they would be "arrivals")
        assert _scan(cloud, table) == live
        shard = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[table].stream_shard
        assert shard is not None
        assert shard.items == []
    finally:
        restored.close()
    # AND a clean stop leaves it all in the snapshot and the journal empty
    assert (restored.folder / f"{table}.journal").read_text() == ""
    assert len((restored.folder / f"{table}.jsonl").read_text().splitlines()) == len(live)


def test_a_torn_last_line_is_skipped_and_the_next_writes_are_kept(
    cloud: LocalCloud, table: str, tmp_path: Path
) -> None:
    # GIVEN a folder whose journal ends in a line cut short (the machine died in the middle of a write)
    data = DataFolder(tmp_path / "data", [table])
    data.lock()
    data.restore()
    cloud.client("dynamodb").put_item(TableName=table, Item=_item("p", "kept"))
    folder = _killed(data, tmp_path)
    with (folder / f"{table}.journal").open("a") as journal:
        journal.write('{"item":{"pk":{"S":"p"},"sk":{"S":"to')

    # WHEN it is restored, written to, and killed again
    data = _restart(cloud, table, folder)
    assert data.skipped == 1
    cloud.client("dynamodb").put_item(TableName=table, Item=_item("p", "after"))
    data = _restart(cloud, table, _killed(data, tmp_path))
    try:
        # THEN the whole lines are there, the torn one is not, and the write after it was not run into it
        assert [item["sk"]["S"] for item in _scan(cloud, table)] == ["after", "kept"]
        assert data.skipped == 0
    finally:
        data.close()


def test_items_past_their_ttl_are_not_restored(cloud: LocalCloud, table: str, tmp_path: Path) -> None:
    data = DataFolder(tmp_path / "data", [table])
    data.lock()
    data.restore()
    dynamodb = cloud.client("dynamodb")
    dynamodb.put_item(TableName=table, Item={**_item("run", "old"), "expires_at": {"N": str(int(time.time()) - 1)}})
    dynamodb.put_item(TableName=table, Item={**_item("run", "new"), "expires_at": {"N": str(int(time.time()) + 60)}})
    data = _restart(cloud, table, _killed(data, tmp_path))
    try:
        assert [item["sk"]["S"] for item in _scan(cloud, table)] == ["new"]
    finally:
        data.close()


def test_fresh_empties_the_folder_and_a_second_cloud_cannot_share_it(
    cloud: LocalCloud, table: str, tmp_path: Path
) -> None:
    data = DataFolder(tmp_path / "data", [table])
    data.lock()
    data.restore()
    cloud.client("dynamodb").put_item(TableName=table, Item=_item("p", "a"))
    with pytest.raises(DataFolderInUse):
        DataFolder(tmp_path / "data", [table]).lock()
    data.close()
    fresh = DataFolder(tmp_path / "data", [table], fresh=True)
    fresh.lock()
    try:
        assert [path.name for path in (tmp_path / "data").iterdir()] == [".lock"]
    finally:
        fresh.close()
