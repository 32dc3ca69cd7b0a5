"""Task runs: idempotent creation by id, version-guarded saves, and the batch write path.

Task runs live in their own partition (`TASK_RUN#{id}`) and are listed under their flow run in
creation order through gsi1. The batch path writes each run once, guarded so an older record
never overwrites a newer one.
"""

from __future__ import annotations

from uuid import UUID

from pynamodb.exceptions import PutError

from stratoflow.schemas import OrchestrationResult, Page, TaskRun
from stratoflow_functions.errors import ConflictError
from stratoflow_functions.store.base import StoreContext
from stratoflow_functions.store.failures import dynamo_errors, is_condition_failure
from stratoflow_functions.store.flow_runs import check_version_step
from stratoflow_functions.store.keys import task_run_pk, task_runs_partition
from stratoflow_functions.store.pages import Query, query_items
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
        return task_run_record(self._ctx.fetch(task_run_pk(task_run_id), TASK_RUN_SK, "task run"))

    def save(
        self,
        run: TaskRun,
        *,
        expected_version: int,
        transition_id: UUID | None = None,
        result: OrchestrationResult | None = None,
        held_slots: tuple[str, ...] = (),
    ) -> None:
        """Write the whole run iff the stored version is `expected_version`.

        Raises:
            ValueError: `run.version` is not `expected_version + 1`.
            ConflictError: `version_conflict` when another writer got there first.
        """
        check_version_step(run.version, expected_version)
        new_item = task_run_item(self._ctx.models, run, transition_id, result, held_slots)
        try:
            with dynamo_errors():
                new_item.save(condition=self._ctx.item.version == expected_version)
        except PutError as exc:
            if is_condition_failure(exc):
                raise ConflictError(
                    f"task run {run.id} is not at version {expected_version}",
                    code="version_conflict",
                ) from exc
            raise

    def put_many(self, runs: list[TaskRun]) -> None:
        """Create or replace each run, unless the stored one is as new or newer.

        One conditional PutItem per run (BatchWriteItem cannot carry conditions); a run that
        loses its condition is left as stored, silently: the newer record wins. Items are
        written whole, without transition bookkeeping or held slots: the batch path only carries
        states no rule needs to answer.
        """
        item = self._ctx.item
        for run in runs:
            newer = item.pk.does_not_exist() | (item.version < run.version)
            try:
                with dynamo_errors():
                    task_run_item(self._ctx.models, run).save(condition=newer)
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
        items, token = query_items(self._ctx.item, query, self._ctx.clock(), limit, next_token)
        return Page[TaskRun](items=[task_run_from_item(i) for i in items], next_token=token)
