"""An occurrence of a recurring job, written by the client (the first) and the publish function (each next one).

An occurrence item is a job item with ``series`` and ``occurrence`` (its 1-based number) instead of a detail; the
series item holds the detail and the rule, and ``current``, the sort key of its one pending occurrence. Once an
occurrence is published, ``replacement`` is the one transaction that deletes it, puts the next one and moves the
series on: a crash can neither lose the series nor fork it, and of two runs that published the same occurrence
only one moves the series on (the conditions).
"""

from __future__ import annotations

from typing import Any

from onthedot.core.jobs import (
    CREATED_AT,
    CURRENT,
    DETAIL_TYPE,
    FIRED,
    OCCURRENCE,
    PK,
    SERIES,
    SERIES_PK_PREFIX,
    SERIES_SK,
    SK,
)


def occurrence_item(
    pk: str, sk: str, *, series_id: str, number: int, detail_type: str, created_at: str
) -> dict[str, Any]:
    """The plain item of occurrence ``number`` of ``series_id`` at ``pk``/``sk``."""
    return {
        PK: pk,
        SK: sk,
        DETAIL_TYPE: detail_type,
        SERIES: series_id,
        OCCURRENCE: number,
        CREATED_AT: created_at,
    }


def series_key(series_id: str) -> dict[str, str]:
    """The plain key of the series item."""
    return {PK: SERIES_PK_PREFIX + series_id, SK: SERIES_SK}


def replacement(table_name: str, pk: str, sk: str, series_id: str, following: dict[str, Any] | None) -> list[Any]:
    """TransactWriteItems' items that replace the published occurrence ``pk``/``sk`` by ``following`` (an
    ``occurrence_item``; None when the series has ended), in plain values, as the client of a boto3 DynamoDB
    resource takes them (it serializes them)."""
    moved_on: dict[str, Any] = {":sk": sk, ":one": 1}
    if following is not None:
        moved_on[":next"] = following[SK]
    return [
        {
            "Delete": {
                "TableName": table_name,
                "Key": {PK: pk, SK: sk},
                "ConditionExpression": "attribute_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PK},
            }
        },
        *(
            [
                {
                    "Put": {
                        "TableName": table_name,
                        "Item": following,
                        "ConditionExpression": "attribute_not_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": PK},
                    }
                }
            ]
            if following is not None
            else []
        ),
        {
            "Update": {
                "TableName": table_name,
                "Key": series_key(series_id),
                "UpdateExpression": (
                    "SET #current = :next, #fired = #fired + :one"
                    if following is not None
                    else "REMOVE #current SET #fired = #fired + :one"
                ),
                "ConditionExpression": "#current = :sk",
                "ExpressionAttributeNames": {"#current": CURRENT, "#fired": FIRED},
                "ExpressionAttributeValues": moved_on,
            }
        },
    ]
