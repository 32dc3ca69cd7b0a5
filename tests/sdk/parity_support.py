"""State histories of a flow's runs, the same way for the offline orchestrator and the API.

The API keeps no state history: a run is stored at its latest version (a batch of task-run
states is even written once, in its final state). `HistoryRecorder` wraps what the engine
talks to and passes every call on; each answer tells the state a run is in at a version, and
an accepted batch item tells that each of its states took one version, so the recorder knows
every version's state. Whatever changed a run without the engine
seeing it (the control plane closing task runs an ended attempt left open) is read at the end.
A history is complete only if every version from 0 to the run's last is known; `history`
fails otherwise, so a comparison can never pass on a partial history.

`histories` keys every run by its place in the flow (flow runs by the chain of parent task
runs, task runs by their flow run's key, task key and dynamic key), so runs of two backends,
whose ids differ, are compared one to one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from stratoflow.schemas import (
    DecisionStatus,
    FlowRun,
    LogCreate,
    State,
    StateType,
    TaskRun,
    TaskRunBatch,
    TaskRunBatchItem,
    TaskRunBatchResult,
)

Key = tuple[str, ...]
History = tuple[tuple[StateType, str], ...]


@dataclass(frozen=True)
class RunRecord:
    """What is compared of one run: its states in order and how often it entered RUNNING."""

    history: History
    run_count: int


class HistoryRecorder:
    """The engine's orchestrator, observed: every call goes to `inner` unchanged."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.flow_run_ids: list[UUID] = []
        self._versions: dict[UUID, dict[int, State]] = {}
        self._contradictions: list[str] = []
        self._lock = threading.Lock()

    # --- the engine's protocol ------------------------------------------------------------

    def create_flow(self, body: Any) -> Any:
        return self.inner.create_flow(body)

    def create_flow_run(self, body: Any) -> FlowRun:
        run: FlowRun = self.inner.create_flow_run(body)
        with self._lock:
            self.flow_run_ids.append(run.id)
        self.saw(run.id, run.version, run.state)
        return run

    def read_flow_run(self, flow_run_id: UUID) -> FlowRun:
        run: FlowRun = self.inner.read_flow_run(flow_run_id)
        self.saw(run.id, run.version, run.state)
        return run

    def heartbeat_flow_run(self, flow_run_id: UUID, body: Any = None) -> FlowRun:
        run: FlowRun = self.inner.heartbeat_flow_run(flow_run_id, body)
        self.saw(run.id, run.version, run.state)
        return run

    def set_flow_run_state(self, flow_run_id: UUID, proposal: Any) -> Any:
        return self._answered(flow_run_id, self.inner.set_flow_run_state(flow_run_id, proposal))

    def cancel_flow_run(self, flow_run_id: UUID) -> Any:
        return self._answered(flow_run_id, self.inner.cancel_flow_run(flow_run_id))

    def create_task_run(self, body: Any) -> TaskRun:
        run: TaskRun = self.inner.create_task_run(body)
        self.saw(run.id, run.version, run.state)
        return run

    def set_task_run_state(self, task_run_id: UUID, proposal: Any) -> Any:
        return self._answered(task_run_id, self.inner.set_task_run_state(task_run_id, proposal))

    def create_task_runs_batch(self, body: TaskRunBatch) -> Any:
        response = self.inner.create_task_runs_batch(body)
        for item, result in zip(body.items, response.results, strict=True):
            self._saw_batch_item(item, result)
        return response

    def write_logs(self, logs: Sequence[LogCreate]) -> Any:
        return self.inner.write_logs(logs)

    # --- what the answers say ---------------------------------------------------------------

    def saw(self, run_id: UUID, version: int, state: State) -> None:
        """Note that run `run_id` is in `state` at `version`. A version's state never changes,
        so seeing two is noted as a contradiction (raised by `history`, not here: this runs in
        the engine's threads, which would take an exception for the run's own failure)."""
        with self._lock:
            known = self._versions.setdefault(run_id, {}).setdefault(version, state)
            if (known.type, known.name) != (state.type, state.name):
                self._contradictions.append(
                    f"run {run_id} version {version} seen as {known.name} and as {state.name}"
                )

    def _answered(self, run_id: UUID, answer: Any) -> Any:
        if answer.state is not None:
            self.saw(run_id, answer.version, answer.state)
        return answer

    def _saw_batch_item(self, item: TaskRunBatchItem, result: TaskRunBatchResult) -> None:
        """ACCEPT: every state of the item was applied, one version each, after the last
        version known (a run's items are sent in order, one batch at a time). Otherwise only
        the result's version is known: how many states were applied before the refusal is
        not, so those versions stay unknown and `history` says so."""
        run_id = result.task_run_id
        with self._lock:
            start = max(self._versions.get(run_id, {}), default=None)
        if start is None:  # this item created the run
            start = 0
            self.saw(run_id, 0, item.task_run.state or State(type=StateType.PENDING))
        if result.status is DecisionStatus.ACCEPT:
            for offset, state in enumerate(item.states, start=1):
                self.saw(run_id, start + offset, state)
        self.saw(run_id, result.version, result.state)

    def history(self, run_id: UUID) -> list[State]:
        """The run's states, version 0 to its last; fails if any version is unknown, or if any
        run was seen in two states at one version."""
        with self._lock:
            versions = dict(self._versions.get(run_id, {}))
            assert not self._contradictions, self._contradictions
        last = max(versions, default=-1)
        missing = sorted(set(range(last + 1)) - set(versions))
        assert not missing, f"run {run_id}: the states of versions {missing} are unknown"
        return [versions[version] for version in range(last + 1)]


def histories(
    flow_runs: Iterable[FlowRun],
    task_runs: Iterable[TaskRun],
    states_of: Callable[[UUID], Sequence[State]],
) -> dict[Key, RunRecord]:
    """Every run's record, keyed by its place in the flow (see the module docstring)."""
    tasks = {run.id: run for run in task_runs}
    flows = {run.id: run for run in flow_runs}
    keys: dict[UUID, Key] = {}

    def flow_key(run: FlowRun) -> Key:
        if run.id not in keys:
            parent = tasks.get(run.parent_task_run_id) if run.parent_task_run_id else None
            keys[run.id] = ("root",) if parent is None else task_key(parent)
        return keys[run.id]

    def task_key(run: TaskRun) -> Key:
        return (*flow_key(flows[run.flow_run_id]), f"{run.task_key}#{run.dynamic_key}")

    records: dict[Key, RunRecord] = {}
    for run in [*flows.values(), *tasks.values()]:
        key = flow_key(run) if isinstance(run, FlowRun) else ("task", *task_key(run))
        history = tuple((state.type, state.name) for state in states_of(run.id))
        assert key not in records, f"two runs at {key}"
        records[key] = RunRecord(history=history, run_count=run.run_count)
    return records
