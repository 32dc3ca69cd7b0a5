"""`/flow-runs`, `/task-runs` and `/logs`."""

from __future__ import annotations

from uuid import UUID

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from stratoflow.schemas import (
    FlowRun,
    FlowRunCreate,
    FlowRunFilter,
    FlowRunHeartbeat,
    FlowRunSort,
    FlowRunStats,
    Log,
    LogCreate,
    LogsWritten,
    OrchestrationResult,
    Page,
    State,
    StateProposal,
    StateType,
    TaskRun,
    TaskRunBatch,
    TaskRunBatchResponse,
    TaskRunCreate,
)
from stratoflow.schemas.common import UtcTime
from stratoflow_functions.api.common import (
    DEFAULT_LIMIT,
    ApiDeps,
    Limit,
    NextToken,
    TagList,
    created,
    json_response,
    parse_tags,
)
from stratoflow_functions.api.responses import answers, created_answers
from stratoflow_functions.services.flow_run_states import propose_flow_run_state
from stratoflow_functions.services.flow_runs import (
    cancel_flow_run,
    create_flow_run,
    heartbeat_flow_run,
    retry_flow_run,
)
from stratoflow_functions.services.logs import check_logs, write_logs, write_with_proposal
from stratoflow_functions.services.task_run_states import propose_task_run_state
from stratoflow_functions.services.task_runs import create_task_run, record_batch


def flow_runs_router(deps: ApiDeps) -> APIGatewayHttpRouter:
    """Routes of `/flow-runs`."""
    router = APIGatewayHttpRouter()
    store = deps.store

    @router.post(
        "/flow-runs",
        tags=["flow-runs"],
        status_code=201,
        operation_id="createFlowRun",
        responses=created_answers(404, 409),
    )
    def post_flow_run(body: FlowRunCreate) -> Response[FlowRun]:
        run, is_new = create_flow_run(store, body, deps.clock())
        return created(run, is_new)

    @router.get(
        "/flow-runs", tags=["flow-runs"], operation_id="listFlowRuns", responses=answers(200)
    )
    def list_flow_runs(
        state: StateType | None = None,
        flow_id: UUID | None = None,
        deployment_id: UUID | None = None,
        created_after: UtcTime | None = None,
        created_before: UtcTime | None = None,
        expected_start_after: UtcTime | None = None,
        expected_start_before: UtcTime | None = None,
        tags: TagList = None,
        sort: FlowRunSort | None = None,
        limit: Limit = DEFAULT_LIMIT,
        next_token: NextToken = None,
    ) -> Page[FlowRun]:
        query = FlowRunFilter(
            state=state,
            flow_id=flow_id,
            deployment_id=deployment_id,
            created_after=created_after,
            created_before=created_before,
            expected_start_after=expected_start_after,
            expected_start_before=expected_start_before,
            tags=parse_tags(tags),
            sort=sort,
        )
        return store.flow_runs.list(query, limit, next_token)

    @router.get(
        "/flow-runs/<run_id>",
        tags=["flow-runs"],
        operation_id="getFlowRun",
        responses=answers(200, 404),
    )
    def get_flow_run(run_id: UUID) -> FlowRun:
        return store.flow_runs.get(run_id).run

    @router.post(
        "/flow-runs/<run_id>/state",
        tags=["flow-runs"],
        operation_id="proposeFlowRunState",
        responses=answers(200, 404, 409),
    )
    def propose_flow_run(run_id: UUID, body: StateProposal) -> OrchestrationResult:
        check_logs(store, body.logs, known=run_id)
        now = deps.clock()
        result = propose_flow_run_state(store, run_id, body, now)
        write_with_proposal(store, body.logs, result, now)
        return result

    @router.post(
        "/flow-runs/<run_id>/heartbeat",
        tags=["flow-runs"],
        operation_id="heartbeatFlowRun",
        responses=answers(200, 404, 409),
    )
    def heartbeat(run_id: UUID, body: FlowRunHeartbeat) -> FlowRun:
        return heartbeat_flow_run(store, run_id, body, deps.clock())

    @router.post(
        "/flow-runs/<run_id>/cancel",
        tags=["flow-runs"],
        operation_id="cancelFlowRun",
        responses=answers(200, 404, 409),
    )
    def cancel(run_id: UUID) -> OrchestrationResult:
        return cancel_flow_run(store, run_id, deps.clock(), deps.run_stopper)

    @router.get(
        "/flow-runs/<run_id>/task-runs",
        tags=["flow-runs"],
        operation_id="listTaskRunsOfFlowRun",
        responses=answers(200, 404),
    )
    def task_runs_of(
        run_id: UUID, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
    ) -> Page[TaskRun]:
        store.flow_runs.get(run_id)
        return store.task_runs.list_for_flow_run(run_id, limit, next_token)

    @router.get(
        "/flow-runs/<run_id>/logs",
        tags=["flow-runs"],
        operation_id="listLogsOfFlowRun",
        responses=answers(200, 404),
    )
    def logs_of(
        run_id: UUID, limit: Limit = DEFAULT_LIMIT, next_token: NextToken = None
    ) -> Page[Log]:
        store.flow_runs.get(run_id)
        return store.logs.read(run_id, limit, next_token)

    return router


def flow_run_views_router(deps: ApiDeps) -> APIGatewayHttpRouter:
    """`/flow-runs/stats`, a run's state history and its retry (what the dashboard reads);
    included before `flow_runs_router`, so `/flow-runs/stats` is not read as a run id."""
    router = APIGatewayHttpRouter()
    store = deps.store

    @router.get(
        "/flow-runs/stats",
        tags=["flow-runs"],
        operation_id="flowRunStats",
        responses=answers(200),
    )
    def flow_run_stats(
        after: UtcTime,
        before: UtcTime,
        flow_id: UUID | None = None,
        deployment_id: UUID | None = None,
    ) -> FlowRunStats:
        return store.flow_runs.stats(after, before, flow_id, deployment_id)

    @router.get(
        "/flow-runs/<run_id>/states",
        tags=["flow-runs"],
        operation_id="listFlowRunStates",
        responses=answers(200, 404),
    )
    def states_of(run_id: UUID) -> list[State]:
        return store.flow_runs.states(run_id)

    @router.post(
        "/flow-runs/<run_id>/retry",
        tags=["flow-runs"],
        operation_id="retryFlowRun",
        responses=answers(200, 404, 409),
    )
    def retry(run_id: UUID) -> OrchestrationResult:
        return retry_flow_run(store, run_id, deps.clock())

    return router


def task_runs_router(deps: ApiDeps) -> APIGatewayHttpRouter:
    """Routes of `/task-runs` and `/logs`."""
    router = APIGatewayHttpRouter()
    store = deps.store

    @router.post(
        "/task-runs",
        tags=["task-runs"],
        status_code=201,
        operation_id="createTaskRun",
        responses=created_answers(404, 409),
    )
    def post_task_run(body: TaskRunCreate) -> Response[TaskRun]:
        run, is_new = create_task_run(store, body, deps.clock())
        return created(run, is_new)

    @router.post(
        "/task-runs/batch",
        tags=["task-runs"],
        operation_id="recordTaskRunBatch",
        responses=answers(200, 404, 409),
    )
    def post_batch(body: TaskRunBatch) -> TaskRunBatchResponse:
        return record_batch(store, body, deps.clock())

    @router.get(
        "/task-runs/<task_run_id>",
        tags=["task-runs"],
        operation_id="getTaskRun",
        responses=answers(200, 404),
    )
    def get_task_run(task_run_id: UUID) -> TaskRun:
        return store.task_runs.get(task_run_id).run

    @router.post(
        "/task-runs/<task_run_id>/state",
        tags=["task-runs"],
        operation_id="proposeTaskRunState",
        responses=answers(200, 404, 409),
    )
    def propose_task_run(task_run_id: UUID, body: StateProposal) -> OrchestrationResult:
        check_logs(store, body.logs)
        now = deps.clock()
        result = propose_task_run_state(store, task_run_id, body, now)
        write_with_proposal(store, body.logs, result, now)
        return result

    @router.post(
        "/logs",
        tags=["logs"],
        status_code=201,
        operation_id="writeLogs",
        responses=answers(201, 404),
    )
    def post_logs(body: list[LogCreate]) -> Response[LogsWritten]:
        return json_response(write_logs(store, body, deps.clock()), 201)

    return router
