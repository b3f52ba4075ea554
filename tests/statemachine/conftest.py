"""The dispatcher definition executed on the local cloud: one cloud for this folder, emptied between tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from onthedot import keys
from onthedot.local.cloud import LocalCloud, free_port


@pytest.fixture(scope="package")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(port=free_port()) as running:
        yield running


@dataclass
class Jobs:
    """Writes jobs in the original item format, as a user would type them in the console."""

    cloud: LocalCloud

    def put(self, due: datetime, detail: Any = None, detail_type: str = "reminder", job_id: str | None = None) -> str:
        job_id = job_id or str(uuid.uuid4())
        item = {
            "pk": keys.partition_key(due),
            "sk": keys.sort_key(due, job_id),
            # DynamoDB holds numbers as Decimal, as boto3 requires
            "detail": json.loads(json.dumps({"n": 1} if detail is None else detail), parse_float=Decimal),
            "detail_type": detail_type,
        }
        serialize = TypeSerializer().serialize
        self.cloud.client("dynamodb").put_item(
            TableName=self.cloud.names.table, Item={name: serialize(value) for name, value in item.items()}
        )
        return job_id

    def remaining(self) -> set[str]:
        """Job ids still in the table."""
        ids: set[str] = set()
        for page in self.cloud.client("dynamodb").get_paginator("scan").paginate(TableName=self.cloud.names.table):
            ids.update(
                keys.parse_sort_key(item["sk"]["S"])[1]
                for item in page["Items"]
                if item["pk"]["S"].startswith(keys.PK_PREFIX)
            )
        return ids

    def fired(self) -> list[dict[str, Any]]:
        """Events delivered to the console worker since the last call."""
        return self.cloud.receive_events()


@pytest.fixture
def jobs(cloud: LocalCloud) -> Iterator[Jobs]:
    helper = Jobs(cloud)
    yield helper
    dynamodb = cloud.client("dynamodb")
    for page in dynamodb.get_paginator("scan").paginate(TableName=cloud.names.table):
        for item in page["Items"]:
            dynamodb.delete_item(TableName=cloud.names.table, Key={"pk": item["pk"], "sk": item["sk"]})
    cloud.receive_events()
