"""The arrivals function over in-process tables (moto): what a test puts, what the function receives, and what
the tables, the cursor and the dead letter hold after."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from functions.rewind.arrivals import Arrivals
from onthedot.core.jobs import CURSOR_BUCKET, CURSOR_PK, CURSOR_SK, DEAD_PK
from onthedot.core.keys import PK_PREFIX


@dataclass
class World:
    arrivals: Arrivals
    jobs: Any  # boto3 Table resources
    dead: Any

    def put(self, pk: str, sk: str, **attributes: Any) -> dict[str, Any]:
        item = {"pk": pk, "sk": sk, "detail": {"to": "a@b.c", "n": Decimal(7)}, "detail_type": "reminder", **attributes}
        self.jobs.put_item(Item=item)
        return item

    def receive(self, *records: dict[str, Any]) -> Any:
        return self.arrivals.receive(list(records))

    def items(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (item["pk"], item["sk"]): item for item in self.jobs.scan()["Items"] if item["pk"].startswith(PK_PREFIX)
        }

    def cursor(self) -> str | None:
        item = self.jobs.get_item(Key={"pk": CURSOR_PK, "sk": CURSOR_SK}).get("Item")
        return None if item is None else str(item[CURSOR_BUCKET])

    def dead_letters(self) -> list[dict[str, Any]]:
        return [item for item in self.dead.scan()["Items"] if item["pk"] == DEAD_PK]
