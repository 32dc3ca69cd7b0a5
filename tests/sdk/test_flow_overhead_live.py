"""Per-flow and per-task overhead, by mechanism, against the live API over real HTTP: requests a
trivial flow makes (counted at httpx's transport), one pooled client per process, a RUNNING
create and a final state that carries the last log lines, and signatures computed once."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from stratoflow import flow, task
from stratoflow.client import StratoflowClient
from stratoflow.client.settings import ClientSettings
from stratoflow.runtime.config import close_pooled_clients, runtime_for_call
from stratoflow.schemas import (
    DecisionStatus,
    FlowCreate,
    FlowRunCreate,
    LogCreate,
    State,
    StateProposal,
    StateType,
)
from tests.fixtures.live_api import LiveApi
from tests.sdk.support import route_of


class Wire:
    """Every request httpx's own transport sends, with the transport object that sent it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def routes(self, start: int = 0) -> list[str]:
        return [route for route, _ in self.requests[start:]]

    def transports(self) -> set[int]:
        return {transport for _, transport in self.requests}


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    """Counts requests at httpx's transport (the network boundary, not our code)."""
    seen = Wire()
    send: Callable[..., httpx.Response] = httpx.HTTPTransport.handle_request

    def counted(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        with seen._lock:
            seen.requests.append((f"{request.method} {route_of(request.url.path)}", id(self)))
        return send(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", counted)
    return seen


@pytest.fixture
def pooled(shared_api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Flows called in the test reach the live API through the settings (the pooled path)."""
    monkeypatch.setenv("STRATOFLOW_API_URL", shared_api.url)
    monkeypatch.setenv("STRATOFLOW_API_KEY", shared_api.key)
    close_pooled_clients()
    yield
    close_pooled_clients()


@pytest.fixture
def api(shared_api: LiveApi) -> Iterator[StratoflowClient]:
    settings = ClientSettings(api_url=shared_api.url, api_key=shared_api.key)
    with StratoflowClient(settings) as client:
        yield client


def test_a_trivial_flow_call_is_two_requests_on_one_pooled_client(
    wire: Wire, pooled: None, api: StratoflowClient
) -> None:
    @flow(name="overhead-trivial")
    def trivial(x: int) -> int:
        return x + 1

    assert trivial(1) == 2  # the first call also registers the flow
    assert wire.routes() == [
        "POST /flows", "POST /flow-runs", "POST /flow-runs/{id}/state",
    ]  # fmt: skip
    later = len(wire.requests)
    assert [trivial(i) for i in range(3)] == [1, 2, 3]
    assert wire.routes(later) == ["POST /flow-runs", "POST /flow-runs/{id}/state"] * 3
    assert len(wire.transports()) == 1  # every call went through the same connection pool
    assert runtime_for_call().orchestrator is runtime_for_call().orchestrator

    run = api.list_flow_runs().items[0]
    assert run.state.type is StateType.COMPLETED
    assert run.run_count == 1  # RUNNING went through the rules
    assert run.start_time is not None
    lines = [line.message for line in api.list_logs(run.id).items]
    assert lines == ["Finished in state Completed()"]  # it rode on the final state


def test_a_flow_that_logs_sends_its_lines_with_the_final_state(
    wire: Wire, pooled: None, api: StratoflowClient
) -> None:
    from stratoflow import get_run_logger

    @flow(name="overhead-logs")
    def chatty() -> None:
        get_run_logger().info("one")
        get_run_logger().warning("two")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        chatty()
    assert "POST /logs" not in wire.routes()
    run = api.list_flow_runs().items[0]
    assert run.state.type is StateType.FAILED
    messages = [line.message for line in api.list_logs(run.id).items]
    assert messages[:2] == ["one", "two"]
    assert messages[-1] == "Finished in state Failed('ValueError: boom')"


def test_each_task_signature_is_computed_once(
    wire: Wire, pooled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def add(a: int, b: int = 2) -> int:
        return a + b

    computed: list[Any] = []
    signature = inspect.signature

    def counting(fn: Any, *args: Any, **kwargs: Any) -> inspect.Signature:
        computed.append(fn)
        return signature(fn, *args, **kwargs)

    monkeypatch.setattr(inspect, "signature", counting)
    add_task = task(add)

    @flow(name="overhead-signatures")
    def many(n: int) -> int:
        return sum(add_task(i) for i in range(n)) + add_task(0, b=5)

    assert many(30) == sum(range(30)) + 60 + 5
    assert many(5) == sum(range(5)) + 10 + 5
    assert computed.count(add) == 1  # 37 task runs, one signature


def test_a_run_created_running_is_planned_by_the_rules(api: StratoflowClient) -> None:
    flow_id = api.create_flow(FlowCreate(name="overhead-create-running")).id
    run = api.create_flow_run(FlowRunCreate(flow_id=flow_id, state=State(type=StateType.RUNNING)))
    assert run.state.type is StateType.RUNNING
    assert (run.run_count, run.version) == (1, 0)
    assert run.start_time is not None
    pending = api.create_flow_run(FlowRunCreate(flow_id=flow_id))
    assert (pending.state.type, pending.run_count) == (StateType.PENDING, 0)


def test_lines_on_a_proposal_are_written_only_if_it_is_accepted(api: StratoflowClient) -> None:
    flow_id = api.create_flow(FlowCreate(name="overhead-proposal-logs")).id
    run = api.create_flow_run(FlowRunCreate(flow_id=flow_id, state=State(type=StateType.RUNNING)))

    def propose(kind: StateType, message: str) -> DecisionStatus:
        line = LogCreate(flow_run_id=run.id, message=message)
        proposal = StateProposal(state=State(type=kind), logs=[line])
        return api.set_flow_run_state(run.id, proposal).status

    assert propose(StateType.COMPLETED, "accepted") is DecisionStatus.ACCEPT
    assert propose(StateType.RUNNING, "refused") is not DecisionStatus.ACCEPT
    assert [line.message for line in api.list_logs(run.id).items] == ["accepted"]


def test_lines_of_an_unknown_run_fail_the_proposal_before_it_is_applied(
    api: StratoflowClient,
) -> None:
    from uuid import uuid4

    from stratoflow.client import NotFoundError

    flow_id = api.create_flow(FlowCreate(name="overhead-unknown-logs")).id
    run = api.create_flow_run(FlowRunCreate(flow_id=flow_id, state=State(type=StateType.RUNNING)))
    stray = LogCreate(flow_run_id=uuid4(), message="nowhere")
    with pytest.raises(NotFoundError):
        api.set_flow_run_state(
            run.id, StateProposal(state=State(type=StateType.COMPLETED), logs=[stray])
        )
    assert api.read_flow_run(run.id).state.type is StateType.RUNNING
