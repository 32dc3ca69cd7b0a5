"""The one pynamodb item class of Stratoflow's single DynamoDB table, bound to settings.

Every entity (flows, deployments, runs, logs, keys, slots, ...) is a `StoreItem`: the table keys
`pk`/`sk`, an `entity` tag, five overloaded GSI key pairs, the TTL attribute, a JSON `data` body
with the full wire model, and a few plain attributes that conditions, filters and the stream
publisher need. pynamodb binds `Meta.table_name` when a class is defined, so the module only
declares the unbound base; `build_models(settings)` makes a subclass per table (per store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from stratoflow_functions.config import Settings

GSI_COUNT = 5


class Gsi1(GlobalSecondaryIndex["StoreItem"]):  # type: ignore[no-untyped-call]
    """Work-queue index (SCHEDULED runs) and heartbeat index (live runs); lists of entities."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex["StoreItem"]):  # type: ignore[no-untyped-call]
    """Runs of a deployment; deployments of a flow; API keys by id."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex["StoreItem"]):  # type: ignore[no-untyped-call]
    """Runs of a flow."""

    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Gsi4(GlobalSecondaryIndex["StoreItem"]):  # type: ignore[no-untyped-call]
    """Runs by state type."""

    class Meta:
        index_name = "gsi4"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


class Gsi5(GlobalSecondaryIndex["StoreItem"]):  # type: ignore[no-untyped-call]
    """All runs."""

    class Meta:
        index_name = "gsi5"
        projection = AllProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


class StoreItem(Model):
    """Any item of the table; subclassed per table by `build_models` (never used unbound)."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    version = NumberAttribute(null=True)
    data = UnicodeAttribute(null=True)
    created = UnicodeAttribute(null=True)
    # Plain run attributes: the stream publisher reads them, conditions and filters use them.
    id = UnicodeAttribute(null=True)
    flow_id = UnicodeAttribute(null=True)
    flow_name = UnicodeAttribute(null=True)
    deployment_id = UnicodeAttribute(null=True)
    flow_run_id = UnicodeAttribute(null=True)
    state_type = UnicodeAttribute(null=True)
    state_name = UnicodeAttribute(null=True)
    work_queue = UnicodeAttribute(null=True)
    infrastructure = UnicodeAttribute(null=True)
    heartbeat = UnicodeAttribute(null=True)
    infrastructure_id = UnicodeAttribute(null=True)
    transition_id = UnicodeAttribute(null=True)
    result = UnicodeAttribute(null=True)
    held_slots = UnicodeSetAttribute(null=True)
    # Concurrency limits: each slot is a lease, holder id -> expiry (epoch seconds).
    tag = UnicodeAttribute(null=True)
    slot_limit = NumberAttribute(null=True)
    leases: MapAttribute[str, Any] = MapAttribute(null=True)  # type: ignore[no-untyped-call]
    lease_version = NumberAttribute(null=True)
    # A flow run's lease registry: "{holder id}/{tag}" of every lease it and its task runs hold.
    leased = UnicodeSetAttribute(null=True)
    renew_after = NumberAttribute(null=True)
    # Idempotency keys, log chunks.
    run_id = UnicodeAttribute(null=True)
    lines = UnicodeAttribute(null=True)

    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()
    gsi4 = Gsi4()
    gsi5 = Gsi5()


@dataclass(frozen=True)
class Models:
    """The item class bound to one table, and a connection for transactions on it."""

    item: type[StoreItem]
    settings: Settings

    def connection(self) -> Connection:
        """The pynamodb connection of the bound table (for `TransactWrite`)."""
        conn: Connection = self.item._get_connection().connection
        return conn


def build_models(settings: Settings) -> Models:
    """Bind the item class to the table, region and endpoint of `settings`.

    Args:
        settings: Where the table lives.

    Returns:
        A fresh item class (its own connection), so two stores never share a table.
    """
    meta: dict[str, Any] = {
        "table_name": settings.table_name,
        "region": settings.region,
        "host": settings.aws_endpoint_url,
    }
    item_class = type(
        "Item", (StoreItem,), {"Meta": type("Meta", (), meta), "__module__": __name__}
    )
    return Models(item=item_class, settings=settings)
