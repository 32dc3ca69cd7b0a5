"""Flow runs: idempotent creation, version-guarded saves, heartbeats and the run indexes.

Every state change is a kernel plan (`apply`): one PutItem conditional on the stored
`version`, or one TransactWriteItems of that Put and the concurrency slots the plan takes or
gives back (`store.plans`); a heartbeat also renews the run's slot leases (`store.leases`).
Creation with an idempotency key is one TransactWriteItems of the key item and the run item, so
two racing creates make one run and the loser reads the winner's run through the key item.
"""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from uuid import UUID

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from stratoflow.orchestration import Plan
from stratoflow.schemas import (
    FlowRun,
    FlowRunFilter,
    FlowRunSort,
    FlowRunStats,
    InfrastructureType,
    OrchestrationResult,
    Page,
    State,
    StateType,
)
from stratoflow_functions.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableError,
)
from stratoflow_functions.store.base import StoreContext, update_if
from stratoflow_functions.store.failures import (
    TXN_CONDITION_FAILED as TXN_CONDITION_FAILED,
)
from stratoflow_functions.store.failures import (
    cancellation_codes,
    dynamo_errors,
)
from stratoflow_functions.store.items import FlowRunItem, IdempotencyKeyItem
from stratoflow_functions.store.keys import (
    AFTER_ANY_SUFFIX,
    ALL_RUNS_PARTITION,
    STATE_SK_PREFIX,
    deployment_runs_partition,
    epoch,
    expiry,
    flow_run_pk,
    flow_runs_partition,
    heartbeat_partition,
    idempotency_pk,
    queue_partition,
    state_runs_partition,
    state_sk,
    time_key,
    timed,
)
from stratoflow_functions.store.leases import LeaseRenewal
from stratoflow_functions.store.pages import Query, all_of, query_items, readable
from stratoflow_functions.store.plans import PlannedWrite, PlanWriter
from stratoflow_functions.store.records import FlowRunRecord
from stratoflow_functions.store.run_items import (
    FLOW_RUN_SK,
    HEARTBEAT_STATES,
    flow_run_from_item,
    flow_run_item,
    flow_run_record,
)
from stratoflow_functions.store.run_stats import read_stats, stats_scope
from stratoflow_functions.store.shards import ItemPage, ShardedQuery, ShardLayout, query_shards

IDEMPOTENCY_SK = "IDEMPOTENCY"
MAX_STATES = 100
"""How many of a run's latest states `GET /flow-runs/{id}/states` answers."""


def check_version_step(version: int, expected_version: int) -> None:
    """Reject a save whose run was not bumped exactly once from `expected_version`."""
    if version != expected_version + 1:
        raise ValueError(
            f"run.version must be expected_version + 1, got {version} / {expected_version}"
        )


class FlowRunRepository:
    """Flow runs by id, by queue, by heartbeat age, and listed newest first.

    The run indexes are sharded (`store/shards.py`): every write lands in its run's shard,
    every list, `due` and `stale` merges all shards.
    """

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx
        self._runs = ctx.models.flow_run
        self.shards = ShardLayout(ctx)
        """How many index shards this store writes and reads."""

    def create(self, run: FlowRun) -> tuple[FlowRun, bool]:
        """Create `run` unless it (or its idempotency key, scoped to the flow) exists.

        Returns:
            The stored run and whether this call created it.

        Raises:
            ConflictError: `already_exists` when the id exists under another idempotency key.
        """
        self.shards.ensure_recorded()
        if run.idempotency_key is None:
            created = self._ctx.put_if_absent(flow_run_item(self._ctx.models, run))
            return (run, True) if created else (self.get(run.id).run, False)
        return self._create_keyed(run, run.idempotency_key)

    def _key_item(self, run: FlowRun, key: str) -> IdempotencyKeyItem:
        start = max(run.created, run.expected_start_time or run.created)
        return self._ctx.models.idempotency_key(
            idempotency_pk(run.flow_id, key),
            IDEMPOTENCY_SK,
            run_id=str(run.id),
            expires_at=expiry(start, self._ctx.settings.run_retention_days),
        )

    def _create_keyed(self, run: FlowRun, key: str) -> tuple[FlowRun, bool]:
        keys, runs = self._ctx.models.idempotency_key, self._ctx.models.flow_run
        # An expired key may linger (TTL deletes late); it must not block a new run.
        key_free = keys.pk.does_not_exist() | (keys.expires_at <= epoch(self._ctx.clock()))
        try:
            with dynamo_errors(), TransactWrite(connection=self._ctx.models.connection()) as txn:
                txn.save(self._key_item(run, key), condition=key_free)
                txn.save(flow_run_item(self._ctx.models, run), condition=runs.pk.does_not_exist())
        except TransactWriteError as exc:
            return self._lost_create(run, key, exc), False
        return run, True

    def _lost_create(self, run: FlowRun, key: str, exc: TransactWriteError) -> FlowRun:
        codes = cancellation_codes(exc)
        if not codes or codes[0] != TXN_CONDITION_FAILED:
            if TXN_CONDITION_FAILED in codes:
                raise ConflictError(f"flow run {run.id} exists", code="already_exists") from exc
            raise exc
        key_item = self._ctx.find(
            idempotency_pk(run.flow_id, key), IDEMPOTENCY_SK, self._ctx.models.idempotency_key
        )
        if key_item is None or key_item.run_id is None:
            raise ConflictError(
                "idempotency key is being used; retry", code="already_exists"
            ) from exc
        return self.get(UUID(key_item.run_id)).run

    def get(self, run_id: UUID) -> FlowRunRecord:
        """The run with its last transition's bookkeeping (consistent read).

        Raises:
            NotFoundError: No such run (or it has passed its retention).
        """
        found = self._ctx.fetch(flow_run_pk(run_id), FLOW_RUN_SK, "flow run", self._runs)
        return flow_run_record(found)

    def apply(
        self,
        plan: Plan[FlowRun],
        *,
        transition_id: UUID | None = None,
        result: OrchestrationResult | None = None,
    ) -> bool:
        """Apply a flow-run plan whole (the run at the version read, and every slot change it
        makes, in one transaction) or not at all; see `store.plans`.

        Returns:
            False when a slot the plan takes went to a rival (nothing was written).

        Raises:
            ValueError: The plan writes nothing, or does not bump the version by one.
            ConflictError: `version_conflict` when another writer got there first.
        """
        if plan.run is None:
            raise ValueError("the plan writes nothing")
        check_version_step(plan.run.version, plan.expected_version)
        self.shards.ensure_recorded()
        item = flow_run_item(self._ctx.models, plan.run, transition_id, result)
        write = PlannedWrite(plan, item, registry_of=plan.run.id, what=f"flow run {plan.run.id}")
        return PlanWriter(self._ctx).apply(write)

    def states(self, run_id: UUID) -> list[State]:
        """The run's last `MAX_STATES` states, oldest first; the current one always last (the
        earlier ones trail the state changes by the stream consumer's delay).

        Raises:
            NotFoundError: No such run.
        """
        run = self.get(run_id).run
        cls = self._ctx.models.flow_run_state
        query = Query(
            flow_run_pk(run_id),
            range_condition=cls.sk.startswith(STATE_SK_PREFIX),
            newest_first=True,
            consistent=True,
        )
        items, _ = query_items(cls, query, self._ctx.clock(), MAX_STATES, None)
        states = readable(reversed(items), lambda item: State.model_validate_json(item.data))
        if not items or items[0].sk != state_sk(run.version):
            # The stream consumer has not written the current state's item yet (or the run
            # predates the history): the run item has it.
            states = [*states[-(MAX_STATES - 1) :], run.state] if states else [run.state]
        return states

    def heartbeat(self, run_id: UUID, now: datetime, infrastructure_id: str | None) -> FlowRun:
        """Record a heartbeat (never touching `version`), renew the concurrency-slot leases
        of the run and its task runs when due, and return the run.

        Raises:
            NotFoundError: No such run.
        """
        item = self._runs
        target = item(flow_run_pk(run_id), FLOW_RUN_SK)
        actions = [item.heartbeat.set(time_key(now))]
        if infrastructure_id is not None:
            actions.append(item.infrastructure_id.set(infrastructure_id))
        # Live runs also move in the heartbeat index; other states keep their gsi1 keys.
        indexed = item.pk.exists() & item.gsi1pk.startswith("HEARTBEAT#")
        moved = update_if(target, [*actions, item.gsi1sk.set(timed(now, run_id))], indexed)
        if not moved and not update_if(target, actions, item.pk.exists()):
            raise NotFoundError("flow run not found")
        LeaseRenewal(self._ctx).renew(run_id, now)
        return flow_run_from_item(target)

    def due(
        self,
        work_queue: str,
        before: datetime,
        limit: int,
        infrastructure: list[InfrastructureType] | None = None,
    ) -> list[FlowRun]:
        """SCHEDULED runs of `work_queue` due at or before `before`, oldest first.

        The index is eventually consistent: a run claimed a moment ago may still be listed, and
        the claim's version-conditional save is what keeps it from starting twice.
        """
        item = self._runs
        kinds = (
            None
            if not infrastructure
            else item.infrastructure.is_in(*[k.value for k in infrastructure])
        )
        query = ShardedQuery(
            queue_partition(work_queue),
            "gsi1",
            upper=time_key(before) + AFTER_ANY_SUFFIX,
            filter=all_of(item.state_type == StateType.SCHEDULED.value, kinds),
        )
        items, _ = self.query(query, limit, None)
        return readable(items, flow_run_from_item)

    def stale(
        self, state_type: StateType, heartbeat_before: datetime, limit: int, next_token: str | None
    ) -> Page[FlowRun]:
        """Runs in `state_type` (PENDING, RUNNING or CANCELLING) whose heartbeat is older than
        `heartbeat_before`, oldest first.

        Raises:
            BadRequestError: `state_type` has no heartbeat index, or a bad token.
        """
        if state_type not in HEARTBEAT_STATES:
            raise BadRequestError(f"{state_type} runs do not heartbeat", code="invalid_state_type")
        query = ShardedQuery(
            heartbeat_partition(state_type.value),
            "gsi1",
            # Inclusive, yet "older than": every key is `{time}#{id}`, longer than `{time}`.
            upper=time_key(heartbeat_before),
            filter=self._runs.state_type == state_type.value,
        )
        items, token = self.query(query, limit, next_token)
        return Page[FlowRun](items=readable(items, flow_run_from_item), next_token=token)

    def list(self, filter: FlowRunFilter, limit: int, next_token: str | None) -> Page[FlowRun]:
        """Runs matching `filter`, newest first (by creation).

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        items, token = self.query(_list_query(self._runs, filter), limit, next_token)
        return Page[FlowRun](items=readable(items, flow_run_from_item), next_token=token)

    def stats(
        self,
        after: datetime,
        before: datetime,
        flow_id: UUID | None = None,
        deployment_id: UUID | None = None,
    ) -> FlowRunStats:
        """Exact run counts by state type, per hour of expected start, in [after, before).

        Raises:
            UnprocessableError: `invalid_range`, `range_too_large`.
        """
        scope = stats_scope(flow_id, deployment_id)
        return read_stats(self._ctx, self.shards.read_shards(), scope, after, before)

    def query(
        self, query: ShardedQuery, limit: int, next_token: str | None
    ) -> ItemPage[FlowRunItem]:
        """One page of a run index, over every shard any writer of the table has used.

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        shards = self.shards.read_shards()
        return query_shards(self._runs, query, shards, self._ctx.clock(), limit, next_token)


def _list_query(item: type[FlowRunItem], filter: FlowRunFilter) -> ShardedQuery:
    """The index that serves `filter` best, and a filter expression for the rest of it."""
    if list_sort(filter) is not FlowRunSort.CREATED:
        return _by_expected_start(item, filter)
    state = filter.state.value if filter.state else None
    flow = str(filter.flow_id) if filter.flow_id else None
    if filter.deployment_id is not None:
        index, partition = "gsi2", deployment_runs_partition(filter.deployment_id)
        extra = all_of(
            None if flow is None else item.flow_id == flow,
            None if state is None else item.state_type == state,
        )
    elif filter.flow_id is not None:
        index, partition = "gsi3", flow_runs_partition(filter.flow_id)
        extra = None if state is None else item.state_type == state
    else:
        # `list_sort` answers CREATED without a flow or deployment only for a state filter.
        index, partition, extra = "gsi4", state_runs_partition(state or ""), None
    lower, upper = _bounds(filter.created_after, filter.created_before)
    extra = all_of(extra, _tags_filter(item, filter.tags))
    return ShardedQuery(partition, index, lower, upper, extra, newest_first=True)


def list_sort(filter: FlowRunFilter) -> FlowRunSort:
    """The order a list is served in: as asked, else by creation for a state, flow or
    deployment filter without an expected-start bound, else by expected start.

    Raises:
        UnprocessableError: `invalid_sort`: by creation over every run (no index holds it).
    """
    narrowed = filter.state or filter.flow_id or filter.deployment_id
    if filter.sort is FlowRunSort.CREATED and not narrowed:
        raise UnprocessableError(
            "sort=created needs a state, flow_id or deployment_id filter", code="invalid_sort"
        )
    if filter.sort is not None:
        return filter.sort
    bounded = filter.expected_start_after or filter.expected_start_before
    return FlowRunSort.CREATED if narrowed and not bounded else FlowRunSort.EXPECTED_START


def _bounds(after: datetime | None, before: datetime | None) -> tuple[str | None, str | None]:
    lower = None if after is None else time_key(after)
    upper = None if before is None else time_key(before) + AFTER_ANY_SUFFIX
    return lower, upper


def _tags_filter(item: type[FlowRunItem], tags: list[str] | None) -> Condition | None:
    """Any of `tags` (runs stored before tags were an attribute match none)."""
    if not tags:
        return None
    return reduce(lambda left, right: left | right, [item.tags.contains(tag) for tag in tags])


def _by_expected_start(item: type[FlowRunItem], filter: FlowRunFilter) -> ShardedQuery:
    """Every run (gsi5) by expected start; the other filters are filter expressions."""
    created = all_of(
        None if filter.created_after is None else item.created >= time_key(filter.created_after),
        None if filter.created_before is None else item.created <= time_key(filter.created_before),
    )
    extra = all_of(
        None if filter.state is None else item.state_type == filter.state.value,
        None if filter.flow_id is None else item.flow_id == str(filter.flow_id),
        None if filter.deployment_id is None else item.deployment_id == str(filter.deployment_id),
        _tags_filter(item, filter.tags),
        created,
    )
    lower, upper = _bounds(filter.expected_start_after, filter.expected_start_before)
    newest_first = filter.sort is not FlowRunSort.EXPECTED_START_ASC
    return ShardedQuery(ALL_RUNS_PARTITION, "gsi5", lower, upper, extra, newest_first=newest_first)
