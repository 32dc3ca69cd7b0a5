"""Task runs: idempotent creation by id, version-guarded saves, and the batch write path.

Task runs live in their own partition (`TASK_RUN#{id}`) and are listed under their flow run in
creation order through gsi1. The batch path writes each run once, guarded so an older record
never overwrites a newer one.
"""

from __future__ import annotations

from uuid import UUID

from pynamodb.exceptions import PutError
from pynamodb.expressions.condition import Condition

from stratoflow.orchestration import Plan
from stratoflow.schemas import OrchestrationResult, Page, TaskRun
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors, is_condition_failure
from stratoflow_functions.store.flow_runs import check_version_step
from stratoflow_functions.store.keys import task_run_pk, task_runs_partition
from stratoflow_functions.store.pages import Query, is_live, query_items, readable
from stratoflow_functions.store.plans import PlannedWrite, PlanWriter
from stratoflow_functions.store.records import TaskRunRecord
from stratoflow_functions.store.run_items import (
    TASK_RUN_SK,
    task_run_from_item,
    task_run_item,
    task_run_record,
)


class TaskRunRepository:
    """Task runs by id and by flow run."""

    def __init__(self, ctx: StoreContext) -> None:
        """Bind to a store's table and clock."""
        self._ctx = ctx
        self._runs = ctx.models.task_run

    def create(self, run: TaskRun) -> tuple[TaskRun, bool]:
        """Create `run` unless its id exists.

        Returns:
            The stored run (the existing one if the id was taken) and whether this call created it.
        """
        if self._ctx.put_if_absent(task_run_item(self._ctx.models, run)):
            return run, True
        return self.get(run.id).run, False

    def get(self, task_run_id: UUID) -> TaskRunRecord:
        """The task run with its bookkeeping (consistent read).

        Raises:
            NotFoundError: No such task run.
        """
        found = self._ctx.fetch(task_run_pk(task_run_id), TASK_RUN_SK, "task run", self._runs)
        return task_run_record(found)

    def apply(
        self,
        plan: Plan[TaskRun],
        *,
        transition_id: UUID | None = None,
        result: OrchestrationResult | None = None,
    ) -> bool:
        """Apply a task-run plan whole (the run at the version read with the slots it holds
        afterwards, and every slot change, in one transaction) or not at all; the leases are
        listed in the registry of the task's flow run (`store.plans`).

        Returns:
            False when a slot the plan takes went to a rival (nothing was written).

        Raises:
            ValueError: The plan writes nothing, or does not bump the version by one.
            ConflictError: `version_conflict` when another writer got there first.
        """
        run = plan.run
        if run is None:
            raise ValueError("the plan writes nothing")
        check_version_step(run.version, plan.expected_version)
        item = task_run_item(self._ctx.models, run, transition_id, result, plan.holds)
        write = PlannedWrite(plan, item, registry_of=run.flow_run_id, what=f"task run {run.id}")
        return PlanWriter(self._ctx).apply(write)

    def get_many(self, task_run_ids: list[UUID]) -> dict[UUID, TaskRun]:
        """The live task runs among `task_run_ids` (consistent BatchGetItem, 100 keys a call)."""
        keys = [(task_run_pk(run_id), TASK_RUN_SK) for run_id in set(task_run_ids)]
        now = self._ctx.clock()
        with dynamo_errors():
            found = list(self._runs.batch_get(keys, consistent_read=True))
        runs = (task_run_from_item(item) for item in found if is_live(item, now))
        return {run.id: run for run in runs}

    def put_many(self, runs: list[TaskRun], *, new_ids: frozenset[UUID] = frozenset()) -> None:
        """Write each run, unless the stored one is as new or newer.

        Runs in `new_ids` were absent when the caller read them, and only the engine that chose
        their ids writes them before they exist, so they go in unconditional BatchWriteItem
        calls (25 items a request, one write unit an item). Every other run gets its own
        conditional PutItem (BatchWriteItem cannot carry conditions; TransactWriteItems could,
        at twice the write cost, and the embedded emulator copies the whole table for each
        transaction item). A run that loses its condition is left as stored, silently: the
        newer record wins. Items are written whole, without transition bookkeeping or held
        slots: the batch path only carries states no rule needs to answer.
        """
        fresh = [run for run in runs if run.id in new_ids]
        if fresh:
            with dynamo_errors(), self._runs.batch_write() as batch:
                for run in fresh:
                    batch.save(task_run_item(self._ctx.models, run))
        for run in runs:
            if run.id not in new_ids:
                self._put_if_newer(run)

    def _newer(self, run: TaskRun) -> Condition:
        item = self._runs
        condition: Condition = item.pk.does_not_exist() | (item.version < run.version)
        return condition

    def _put_if_newer(self, run: TaskRun) -> None:
        try:
            with dynamo_errors():
                task_run_item(self._ctx.models, run).save(condition=self._newer(run))
        except PutError as exc:
            if not is_condition_failure(exc):
                raise

    def list_for_flow_run(
        self, flow_run_id: UUID, limit: int, next_token: str | None
    ) -> Page[TaskRun]:
        """Task runs of a flow run in creation order.

        Raises:
            BadRequestError: `invalid_next_token`.
        """
        query = Query(task_runs_partition(flow_run_id), "gsi1")
        items, token = query_items(self._runs, query, self._ctx.clock(), limit, next_token)
        return Page[TaskRun](items=readable(items, task_run_from_item), next_token=token)
