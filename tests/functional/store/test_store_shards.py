"""Sharded run indexes: lists, `stale` and `due` over N shards return exactly what one partition
would have (the oracle is the unsharded order, computed here from the runs themselves), pages
never overlap or skip, tokens survive a change of N, and reads stay lazy."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratoflow.schemas import FlowRun, FlowRunFilter, InfrastructureType, Page, State, StateType
from stratoflow_functions.config import Settings
from stratoflow_functions.errors import BadRequestError
from stratoflow_functions.store import Store, build_store, create_table
from stratoflow_functions.store.keys import SHARD_LAYOUT_PK, shard_of, timed
from stratoflow_functions.store.run_items import due_time, heartbeat_mark
from tests.functional.store.store_support import T0, FakeClock, make_run, moved, save, scheduled_run

FLOWS = [UUID(int=1), UUID(int=2), UUID(int=3)]
DEPLOYMENTS = [None, UUID(int=11), UUID(int=12)]
LISTED_STATES = [
    StateType.SCHEDULED,
    StateType.PENDING,
    StateType.RUNNING,
    StateType.COMPLETED,
    StateType.FAILED,
]
EXAMPLES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def fresh_store(shards: int, clock: FakeClock | None = None) -> Store:
    """A store on a table of its own (one per hypothesis example), writing `shards` shards."""
    table = Settings(table_name=f"shards-{uuid4().hex[:12]}", index_shards=shards)
    create_table(table)
    return build_store(table, clock=clock or FakeClock())


def same_table(store: Store, shards: int) -> Store:
    """Another store on `store`'s table that writes `shards` shards (a redeploy with a new N)."""
    old = store.flow_runs._ctx.settings
    return build_store(Settings(table_name=old.table_name, index_shards=shards), FakeClock())


def every_page(fetch: Callable[[int, str | None], Page[FlowRun]], size: int) -> list[UUID]:
    """The ids of every page of a list, in order, following tokens to the end."""
    ids: list[UUID] = []
    token: str | None = None
    for _ in range(1000):
        page = fetch(size, token)
        assert len(page.items) <= size
        ids += [run.id for run in page.items]
        token = page.next_token
        if token is None:
            return ids
        assert page.items, "a token after an empty page"
    raise AssertionError("the list did not end")


def newest_first(runs: list[FlowRun]) -> list[UUID]:
    """The unsharded order of the listing indexes: `{created}#{id}`, descending."""
    return [run.id for run in sorted(runs, key=lambda r: timed(r.created, r.id), reverse=True)]


def latest_start_first(runs: list[FlowRun]) -> list[UUID]:
    """The order of the all-runs index: `{expected start, else created}#{id}`, descending."""
    key = lambda r: timed(r.expected_start_time or r.created, r.id)  # noqa: E731
    return [run.id for run in sorted(runs, key=key, reverse=True)]


def listed_run(spec: tuple[int, StateType, int, int]) -> FlowRun:
    minute, state, flow, deployment = spec
    at = T0 + timedelta(minutes=minute)
    fields: dict[str, Any] = {"flow_id": FLOWS[flow], "deployment_id": DEPLOYMENTS[deployment]}
    if state is StateType.SCHEDULED:
        return scheduled_run(at, at=at, **fields)
    return make_run(at=at, state=State(type=state, timestamp=at), **fields)


def matches(run: FlowRun, wanted: FlowRunFilter) -> bool:
    checks = [
        wanted.state is None or run.state.type is wanted.state,
        wanted.flow_id is None or run.flow_id == wanted.flow_id,
        wanted.deployment_id is None or run.deployment_id == wanted.deployment_id,
        wanted.created_after is None or run.created >= wanted.created_after,
        wanted.created_before is None or run.created <= wanted.created_before,
    ]
    return all(checks)


run_specs = st.lists(
    st.tuples(
        st.integers(0, 6),  # few distinct minutes: many creation-time ties, broken by the id
        st.sampled_from(LISTED_STATES),
        st.integers(0, len(FLOWS) - 1),
        st.integers(0, len(DEPLOYMENTS) - 1),
    ),
    max_size=30,
)
minutes = st.none() | st.integers(0, 6).map(lambda m: T0 + timedelta(minutes=m))
filters = st.builds(
    FlowRunFilter,
    state=st.none() | st.sampled_from(LISTED_STATES),
    flow_id=st.none() | st.sampled_from(FLOWS),
    deployment_id=st.none() | st.sampled_from([d for d in DEPLOYMENTS if d is not None]),
    created_after=minutes,
    created_before=minutes,
)


@EXAMPLES
@given(specs=run_specs, shards=st.integers(1, 8), size=st.integers(1, 12), wanted=filters)
def test_listing_over_shards_pages_through_exactly_the_unsharded_order(
    aws: None,
    specs: list[tuple[int, StateType, int, int]],
    shards: int,
    size: int,
    wanted: FlowRunFilter,
) -> None:
    store = fresh_store(shards)
    runs = [listed_run(spec) for spec in specs]
    for run in runs:
        store.flow_runs.create(run)

    listed = every_page(lambda limit, token: store.flow_runs.list(wanted, limit, token), size)

    assert listed == newest_first([run for run in runs if matches(run, wanted)])


@EXAMPLES
@given(
    heartbeats=st.lists(st.integers(0, 600), max_size=25),
    shards=st.integers(1, 8),
    size=st.integers(1, 10),
    cutoff=st.integers(0, 700),
)
def test_stale_over_shards_is_oldest_heartbeat_first_within_its_pages(
    aws: None, heartbeats: list[int], shards: int, size: int, cutoff: int
) -> None:
    store = fresh_store(shards)
    runs = []
    for seconds in heartbeats:
        run = make_run(
            state=State(type=StateType.RUNNING, timestamp=T0),
            heartbeat=T0 + timedelta(seconds=seconds),
        )
        store.flow_runs.create(run)
        runs.append(run)
    before = T0 + timedelta(seconds=cutoff)

    def stale(limit: int, token: str | None) -> Page[FlowRun]:
        return store.flow_runs.stale(StateType.RUNNING, before, limit, token)

    expected = sorted(
        (run for run in runs if heartbeat_mark(run) < before),
        key=lambda r: timed(heartbeat_mark(r), r.id),
    )
    assert every_page(stale, size) == [run.id for run in expected]


@EXAMPLES
@given(
    due_in=st.lists(st.integers(-300, 300), max_size=25),
    shards=st.integers(1, 8),
    limit=st.integers(1, 12),
)
def test_due_over_shards_is_the_oldest_due_runs_up_to_its_limit(
    aws: None, due_in: list[int], shards: int, limit: int
) -> None:
    store = fresh_store(shards)
    runs = [scheduled_run(T0 + timedelta(seconds=seconds)) for seconds in due_in]
    for run in runs:
        store.flow_runs.create(run)

    due = store.flow_runs.due("default", T0, limit)

    expected = sorted(
        (run for run in runs if due_time(run) <= T0), key=lambda r: timed(due_time(r), r.id)
    )
    assert [run.id for run in due] == [run.id for run in expected[:limit]]


def test_a_run_is_written_to_one_shard_of_every_index_chosen_by_its_id(aws: None) -> None:
    store = fresh_store(8)
    run = scheduled_run(T0)
    store.flow_runs.create(run)

    item = store.flow_runs._ctx.models.flow_run.get(f"FLOW_RUN#{run.id}", "FLOW_RUN")

    shard = shard_of(run.id, 8)
    suffix = "" if shard == 0 else f"#{shard}"
    assert item.gsi1pk == f"QUEUE#default{suffix}"
    assert item.gsi2pk == f"DEPLOYMENT#{run.deployment_id}#RUNS{suffix}"
    assert item.gsi3pk == f"FLOW#{run.flow_id}#RUNS{suffix}"
    assert item.gsi4pk == f"RUNS#SCHEDULED{suffix}"
    assert item.gsi5pk == f"RUNS{suffix}"


def test_one_shard_writes_exactly_the_keys_of_the_unsharded_design(aws: None) -> None:
    store = fresh_store(1)
    run = make_run(state=State(type=StateType.RUNNING, timestamp=T0), deployment_id=uuid4())
    store.flow_runs.create(run)

    item = store.flow_runs._ctx.models.flow_run.get(f"FLOW_RUN#{run.id}", "FLOW_RUN")

    assert (item.gsi1pk, item.gsi4pk, item.gsi5pk) == ("HEARTBEAT#RUNNING", "RUNS#RUNNING", "RUNS")
    assert item.gsi2pk == f"DEPLOYMENT#{run.deployment_id}#RUNS"
    assert item.gsi3pk == f"FLOW#{run.flow_id}#RUNS"


def test_shards_spread_runs_evenly_and_a_run_keeps_its_shard() -> None:
    ids = [uuid4() for _ in range(8000)]
    counts = [0] * 8
    for run_id in ids:
        counts[shard_of(run_id, 8)] += 1

    assert all(900 < count < 1100 for count in counts)
    assert shard_of(UUID(int=12345), 8) == shard_of(UUID(int=12345), 8)


def layout_record(store: Store) -> int | None:
    ctx = store.flow_runs._ctx
    found = ctx.find(SHARD_LAYOUT_PK, SHARD_LAYOUT_PK, ctx.models.index_layout)
    return None if found is None else int(found.version)


def test_the_table_records_the_most_shards_any_writer_used(aws: None) -> None:
    eight = fresh_store(8)
    assert layout_record(eight) is None
    eight.flow_runs.create(make_run())
    two = same_table(eight, 2)
    two.flow_runs.create(make_run())

    assert layout_record(eight) == 8
    assert (two.flow_runs.shards.write_shards, two.flow_runs.shards.read_shards()) == (2, 8)


def test_lowering_the_shard_count_still_lists_runs_written_to_higher_shards(aws: None) -> None:
    eight = fresh_store(8)
    old = [make_run(at=T0 + timedelta(seconds=n)) for n in range(20)]
    for run in old:
        eight.flow_runs.create(run)
    assert {shard_of(run.id, 8) for run in old} - {0, 1}, "some run in a shard >= 2"

    two = same_table(eight, 2)
    new = [make_run(at=T0 + timedelta(seconds=n, milliseconds=500)) for n in range(20)]
    for run in new:
        two.flow_runs.create(run)

    listed = every_page(lambda n, t: two.flow_runs.list(FlowRunFilter(), n, t), 7)
    assert listed == newest_first(old + new)


def test_a_token_from_before_a_shard_count_change_goes_on_without_gaps(aws: None) -> None:
    two = fresh_store(2)
    runs = [
        make_run(at=T0 + timedelta(seconds=n), state=State(type=StateType.RUNNING, timestamp=T0))
        for n in range(30)
    ]
    for run in runs:
        two.flow_runs.create(run)
    first = two.flow_runs.list(FlowRunFilter(), 10, None)

    eight = same_table(two, 8)  # the redeploy moves every run it saves to its new shard
    for run in runs:
        save(eight.flow_runs, moved(run, StateType.COMPLETED, T0), expected_version=0)
    moved_shard = [run for run in runs if shard_of(run.id, 8) != shard_of(run.id, 2)]
    token = first.next_token
    rest = every_page(lambda n, t: eight.flow_runs.list(FlowRunFilter(), n, t or token), 10)

    assert moved_shard, "some run changed shard"
    assert [r.id for r in first.items] + rest == newest_first(runs)


def test_a_table_written_before_sharding_is_read_whole_without_a_migration(aws: None) -> None:
    legacy = fresh_store(1)  # one shard writes exactly the unsharded keys (test above)
    runs = [make_run(at=T0 + timedelta(seconds=n)) for n in range(12)]
    live = make_run(state=State(type=StateType.RUNNING, timestamp=T0))
    due = scheduled_run(T0 - timedelta(minutes=1))
    for run in [*runs, live, due]:
        legacy.flow_runs.create(run)
    legacy.flow_runs._ctx.models.index_layout(
        SHARD_LAYOUT_PK, SHARD_LAYOUT_PK
    ).delete()  # as before sharding

    upgraded = same_table(legacy, 8)

    listed = every_page(lambda n, t: upgraded.flow_runs.list(FlowRunFilter(), n, t), 5)
    assert listed == latest_start_first([*runs, live, due])
    stale = upgraded.flow_runs.stale(StateType.RUNNING, T0 + timedelta(hours=1), 10, None)
    assert [r.id for r in stale.items] == [live.id]
    assert [r.id for r in upgraded.flow_runs.due("default", T0, 10)] == [due.id]


def token_of(value: object) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "garbage!!",
        token_of({"list": "RUNS"}),
        token_of(
            {"list": "RUNS#RUNNING", "after": "2024-06-01T12:00:00.000000Z#" + str(UUID(int=1))}
        ),
        token_of({"list": "RUNS", "after": "2024-06-01T12:00:00Z#x"}),
        token_of({"list": "RUNS", "after": "zzz"}),
        token_of({"list": "RUNS", "after": 5}),
        token_of({"pk": "FLOW_RUN#x", "sk": "FLOW_RUN", "gsi5pk": "RUNS", "gsi5sk": "x"}),
    ],
)
def test_a_token_not_made_by_this_list_is_invalid_next_token(aws: None, token: str) -> None:
    store = fresh_store(4)

    with pytest.raises(BadRequestError) as caught:
        store.flow_runs.list(FlowRunFilter(), 5, token)

    assert caught.value.code == "invalid_next_token"


def test_a_token_with_a_position_past_the_created_range_gives_an_empty_page(aws: None) -> None:
    store = fresh_store(4)
    store.flow_runs.create(make_run())
    after = token_of({"list": "RUNS", "after": timed(T0 - timedelta(days=1), UUID(int=0))})

    page = store.flow_runs.list(FlowRunFilter(created_after=T0), 5, after)

    assert (page.items, page.next_token) == ([], None)


class QueryCounter:
    """Counts the Query calls the store's own client makes, and the items they return."""

    def __init__(self, store: Store) -> None:
        self.queries = 0
        self.items = 0
        client = store.flow_runs._ctx.models.connection().client
        client.meta.events.register("after-call.dynamodb.Query", self._count)

    def _count(self, parsed: dict[str, Any], **_: Any) -> None:
        self.queries += 1
        self.items += int(parsed.get("Count", 0))


def reads_of(store: Store, read: Callable[[], object]) -> tuple[int, int]:
    """How many queries `read` made, and how many items they returned."""
    counter = QueryCounter(store)
    read()
    return counter.queries, counter.items


def test_a_page_reads_about_its_share_of_each_shard_not_a_page_of_each(aws: None) -> None:
    store = fresh_store(8)
    runs = [make_run(at=T0 + timedelta(seconds=n)) for n in range(160)]
    for run in runs:
        store.flow_runs.create(run)
    store.flow_runs.list(FlowRunFilter(), 1, None)  # the layout record is read once, first

    queries, items = reads_of(store, lambda: store.flow_runs.list(FlowRunFilter(), 20, None))

    first = -(-21 // 8) + 1  # each shard's page: an even share of the 21 read, and one more
    assert queries <= 2 * 8  # one query a shard, and another share for some of them
    # each shard reads what it gives the page, its head and at most one share more; a full
    # page from every shard would be 8 * 21 = 168 items
    assert items <= 21 + 8 * first


def test_a_run_at_a_position_equal_to_the_token_is_not_listed_twice(aws: None) -> None:
    store = fresh_store(3)
    same_time = [make_run(at=T0) for _ in range(9)]  # one creation time: the id orders them
    for run in same_time:
        store.flow_runs.create(run)

    listed = every_page(lambda n, t: store.flow_runs.list(FlowRunFilter(), n, t), 2)

    assert listed == newest_first(same_time)


def test_a_scan_past_filtered_out_runs_grows_its_pages_up_to_a_whole_call(aws: None) -> None:
    store = fresh_store(8)
    docker = InfrastructureType.DOCKER
    for n in range(200):
        due = T0 - timedelta(hours=1, seconds=-n)
        store.flow_runs.create(scheduled_run(due, infrastructure=docker))
    wanted = [scheduled_run(T0 - timedelta(minutes=n)) for n in range(3)]
    for run in wanted:
        store.flow_runs.create(run)
    store.flow_runs.due("default", T0, 1)  # the layout record is read once, first

    counter = QueryCounter(store)
    due = store.flow_runs.due("default", T0, 3, [InfrastructureType.LOCAL])

    assert [run.id for run in due] == [run.id for run in reversed(wanted)]
    # 203 items over 8 shards in pages of 2, then 4 (a whole call of 3 and one more): about
    # what one partition read in pages of 4 takes (51), never 2 at a time (over 100)
    assert counter.queries <= 51 + 2 * 8
