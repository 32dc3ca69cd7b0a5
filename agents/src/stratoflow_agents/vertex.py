"""`VertexAgent`: runs each claimed flow run as a Vertex AI CustomJob (`--type vertex`).

The job is the one the push launcher submits (`stratoflow.infrastructure.custom_job`), built from
the deployment's `infra_overrides` merged over the agent's own defaults (`--project`,
`--region`) and validated with `settings_for`; it is sent with google-cloud-aiplatform's
`JobServiceClient` (the `vertex` extra, imported inside the functions that need it: the package
takes seconds to import). Vertex chooses job ids, so a launch first lists the jobs labelled
with the run's id and reuses one still queued, pending or running; the infrastructure id is the
job's resource name. Every job also carries the agent's work queue as a label, so a restarted
agent finds its own queue's jobs again (`recover`) in its default project and region.
Credentials are Application Default Credentials (a service-account key file, workload identity,
`gcloud auth application-default login`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from uuid import UUID

from stratoflow.infrastructure import (
    InfraSettingsError,
    VertexSettings,
    custom_job,
    image_for,
    launch_environment,
)
from stratoflow.infrastructure.vertex import FLOW_RUN_LABEL
from stratoflow.infrastructure.vertex_status import custom_job_outcome
from stratoflow.schemas import ClaimedRun, InfrastructureType
from stratoflow_agents.base import BaseAgent
from stratoflow_agents.config import AgentConfig
from stratoflow_agents.errors import LaunchError, job_settings
from stratoflow_agents.handles import RunHandle
from stratoflow_agents.reporting import AgentClient

logger = logging.getLogger("stratoflow.agent")

WORK_QUEUE_LABEL = "stratoflow-work-queue"
"""The label with the agent's work queue (as a GCP label value), to find its jobs again."""
LIVE_STATES = frozenset({"JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING"})
"""The states of a job that still runs (or will): reused by a launch, adopted by `recover`."""
_MAX_RECOVERED = 1000
_PERMISSION_HINT = (
    " (the agent's credentials need roles/aiplatform.user, and roles/iam.serviceAccountUser "
    "on the job's service account)"
)

JobClientFactory = Callable[[str], Any]
"""Makes the `aiplatform_v1.JobServiceClient` of a region (Vertex's endpoints are regional)."""


def default_client(region: str) -> Any:
    """The real client of `region`'s endpoint, with Application Default Credentials."""
    from google.cloud import aiplatform_v1

    options = {"api_endpoint": f"{region}-aiplatform.googleapis.com"}
    return aiplatform_v1.JobServiceClient(client_options=options)


def queue_label(work_queue: str) -> str:
    """A work queue's name as a GCP label value (lowercase, `[a-z0-9_-]`, at most 63)."""
    return re.sub(r"[^a-z0-9_-]", "-", work_queue.lower())[:63]


def to_custom_job(body: Mapping[str, Any]) -> Any:
    """The builder's REST JSON as an `aiplatform_v1.CustomJob` (unknown fields refused).

    Raises:
        LaunchError: the JSON is not a CustomJob.
    """
    from google.cloud import aiplatform_v1
    from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]

    job = aiplatform_v1.CustomJob()
    try:
        json_format.ParseDict(dict(body), aiplatform_v1.CustomJob.pb(job))
    except json_format.ParseError as exc:
        raise LaunchError(f"the CustomJob is not valid: {exc}") from exc
    return job


def call_errors() -> tuple[type[Exception], ...]:
    """What a `JobServiceClient` call raises when it did not get an answer it could use: an API
    error, retries given up, credentials that cannot be had, and, over REST, the `requests`
    connection errors it lets through (all `OSError`s)."""
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions

    return (
        exceptions.GoogleAPICallError,
        exceptions.RetryError,
        auth_exceptions.GoogleAuthError,
        OSError,
    )


def _state_name(job: Any) -> str:
    return str(getattr(job.state, "name", job.state))


def _rest_view(job: Any) -> dict[str, Any]:
    """The fields of a `CustomJob` message the diagnosis reads, as its REST JSON has them."""
    return {
        "state": _state_name(job),
        "error": {"code": int(job.error.code), "message": str(job.error.message)},
    }


def _api_error(exc: Exception, doing: str) -> LaunchError:
    code = getattr(exc, "code", None)
    hint = _PERMISSION_HINT if code in (401, 403) else ""
    return LaunchError(f"Vertex AI refused {doing}: {exc}{hint}")


class VertexRunHandle(RunHandle):
    """One flow run's CustomJob.

    Args:
        client: the `JobServiceClient` of the job's region.
        name: the job's resource name (`projects/P/locations/R/customJobs/N`).
        clock: a monotonic clock in seconds.
        poll_every: the fewest seconds between two reads of the job (the loop polls each
            tick); `poll` answers from the last read in between.
    """

    def __init__(
        self,
        client: Any,
        name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        poll_every: float = 5.0,
    ) -> None:
        self.client = client
        self.name = name
        self._clock = clock
        self._poll_every = poll_every
        self._next_read = float("-inf")
        self._exit: int | None = None
        self._detail: str | None = None

    @property
    def infrastructure_id(self) -> str:
        """The job's resource name."""
        return self.name

    def poll(self) -> int | None:
        """0 once the job succeeded, 1 once it failed or expired, -15 once cancelled."""
        if self._exit is not None or self._clock() < self._next_read:
            return self._exit
        self._next_read = self._clock() + self._poll_every
        from google.api_core import exceptions

        try:
            job = self.client.get_custom_job(name=self.name)
        except exceptions.NotFound:
            self._end(1, f"the CustomJob disappeared ({self.name})")
            return self._exit
        except call_errors() as exc:  # transient (or the credentials): keep watching
            logger.warning("reading %s failed (will retry): %s", self.name, exc)
            return None
        outcome = custom_job_outcome(_rest_view(job))
        if outcome.over:
            self._end(outcome.exit_code or 0, outcome.reason)
        return self._exit

    def terminate(self) -> None:
        """Cancel the job; one not found, or already ended, counts as stopped."""
        self._cancel()

    def kill(self) -> None:
        """Cancel the job (Vertex has no harder stop)."""
        self._cancel()

    def failure_detail(self) -> str | None:
        """Why the job failed (its error message, diagnosed), once it has."""
        return self._detail

    def _end(self, code: int, detail: str | None = None) -> None:
        self._exit, self._detail = code, detail

    def _cancel(self) -> None:
        from google.api_core import exceptions

        try:
            self.client.cancel_custom_job(name=self.name)
        except (exceptions.NotFound, exceptions.FailedPrecondition):
            return
        except call_errors() as exc:
            # Over REST a 400 FAILED_PRECONDITION (the job has ended) arrives as BadRequest.
            if "FAILED_PRECONDITION" in str(_error_status(exc)):
                return
            logger.warning("cancelling %s failed: %s", self.name, exc)


def _error_status(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    try:
        return str(response.json()["error"]["status"])  # type: ignore[union-attr]
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


class VertexAgent(BaseAgent):
    """Runs flow runs as Vertex AI CustomJobs.

    Args:
        config: how to poll, watch and stop runs.
        client: the API.
        api_url: the API's URL as the jobs reach it (`STRATOFLOW_API_URL` in the job).
        project: the default GCP project (a deployment's `project` setting wins).
        region: the default region (a deployment's `region` setting wins; default
            `VertexSettings`' own).
        job_clients: makes the `JobServiceClient` of a region (default: `default_client`).
        poll_every: the fewest seconds between two reads of a job.
        **kwargs: clock, sleep, rand, agent_id (see `BaseAgent`).
    """

    infrastructure: ClassVar[InfrastructureType] = InfrastructureType.VERTEX

    def __init__(
        self,
        config: AgentConfig,
        client: AgentClient,
        api_url: str,
        *,
        project: str | None = None,
        region: str | None = None,
        job_clients: JobClientFactory = default_client,
        poll_every: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, client, **kwargs)
        self.api_url = api_url
        self.defaults: dict[str, Any] = {"project": project, "region": region}
        self.defaults = {k: v for k, v in self.defaults.items() if v is not None}
        self._job_clients = job_clients
        self._clients: dict[str, Any] = {}
        self._poll_every = poll_every

    def settings(self, claimed: ClaimedRun) -> VertexSettings:
        """The run's settings: the deployment's `infra_overrides` over the agent's defaults.

        Raises:
            LaunchError: no deployment, a bad setting, or no project anywhere.
        """
        if claimed.deployment is None:
            raise LaunchError("the run has no deployment: nothing says what to run")
        values = {**self.defaults, **claimed.deployment.infra_overrides}
        settings = job_settings(InfrastructureType.VERTEX, values, VertexSettings)
        if not settings.project:
            raise LaunchError(
                "no Vertex project: start the agent with --project, or set project in the "
                "deployment's infra_overrides"
            )
        return settings

    def launch(self, claimed: ClaimedRun) -> VertexRunHandle:
        """Create the run's CustomJob, or reuse a live one already labelled with its id.

        Raises:
            LaunchError: a bad setting or job, or Vertex refused or could not be reached.
        """
        from google.api_core import exceptions

        settings = self.settings(claimed)
        run = claimed.flow_run
        assert claimed.deployment is not None  # checked by settings()
        try:
            environment = launch_environment(self.api_url, run.id, settings.env)
        except InfraSettingsError as exc:
            raise LaunchError(str(exc)) from exc
        body = custom_job(settings, run, image_for(claimed.deployment, settings), environment)
        body["labels"][WORK_QUEUE_LABEL] = queue_label(self.config.work_queue)
        job = to_custom_job(body)
        parent = f"projects/{settings.project}/locations/{settings.region}"
        try:
            client = self._client(settings.region)
            live = self._live_jobs(client, parent, f'labels.{FLOW_RUN_LABEL}="{run.id}"')
            if live:
                logger.info("flow run %s: reusing its live CustomJob %s", run.id, live[-1].name)
                return self._handle(client, str(live[-1].name))
            created = client.create_custom_job(parent=parent, custom_job=job)
        except exceptions.GoogleAPICallError as exc:
            raise _api_error(exc, f"launching the CustomJob in {parent}") from exc
        except call_errors() as exc:
            raise LaunchError(f"Vertex AI could not be called for {parent}: {exc}") from exc
        return self._handle(client, str(created.name))

    def recover(self) -> dict[UUID, RunHandle]:
        """This queue's jobs still queued, pending or running in the default project and
        region, by their run-id label (none when the agent has no default project)."""
        project = self.defaults.get("project")
        if not project:
            logger.info("no --project: not looking for CustomJobs a previous agent started")
            return {}
        region = self.defaults.get("region") or VertexSettings().region
        parent = f"projects/{project}/locations/{region}"
        queue = queue_label(self.config.work_queue)
        wanted = f'labels.{FLOW_RUN_LABEL}:* AND labels.{WORK_QUEUE_LABEL}="{queue}"'
        try:
            client = self._client(region)
            jobs = self._live_jobs(client, parent, wanted)
        except call_errors() as exc:
            logger.warning("cannot list the CustomJobs of %s to find runs again: %s", parent, exc)
            return {}
        found: dict[UUID, RunHandle] = {}
        for job in jobs:
            try:
                run_id = UUID(str(job.labels[FLOW_RUN_LABEL]))
            except (KeyError, ValueError):
                continue
            found[run_id] = self._handle(client, str(job.name))
        return found

    def _live_jobs(self, client: Any, parent: str, wanted: str) -> list[Any]:
        """The jobs of `parent` matching the filter that still run, oldest first."""
        live = []
        for index, job in enumerate(
            client.list_custom_jobs(request={"parent": parent, "filter": wanted})
        ):
            if index >= _MAX_RECOVERED:
                break
            if _state_name(job) in LIVE_STATES:
                live.append(job)
        return sorted(live, key=lambda job: str(job.create_time))

    def _handle(self, client: Any, name: str) -> VertexRunHandle:
        return VertexRunHandle(client, name, clock=self._clock, poll_every=self._poll_every)

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            self._clients[region] = self._job_clients(region)
        return self._clients[region]
