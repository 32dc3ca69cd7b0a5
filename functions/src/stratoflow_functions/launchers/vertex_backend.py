"""The Vertex AI `JobBackend`: a CustomJob per flow run, over Vertex's REST API with httpx.

google-cloud-aiplatform stays out of the Lambda bundle: the launcher calls
`https://{region}-aiplatform.googleapis.com/v1/projects/{p}/locations/{r}/customJobs` (create,
list, get, `:cancel`) with a bearer token google-auth gets for a service-account key held in
Secrets Manager. Vertex chooses job ids, so a launch first lists the jobs labelled with the
run's id and reuses one that is queued, running or succeeded (a repeated launch step starts
nothing); a job of the run that failed or was cancelled is not reused, so a relaunched run
starts a new one. The infrastructure id is the job's resource name.

google-auth (and cryptography under it) is the `[vertex]` extra of stratoflow-functions; on
Lambda it comes in the Vertex layer, attached to the Vertex launcher function alone. Without
it, building a backend is a `BackendConfigError` that says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx

from stratoflow.infrastructure.vertex_status import custom_job_outcome
from stratoflow_functions.config import Settings
from stratoflow_functions.launchers.backend_builds import secret_of, secrets_client
from stratoflow_functions.launchers.backend_errors import BackendConfigError, JobBackendError
from stratoflow_functions.launchers.backends import JobStatus

RUN_LABEL = "stratoflow-flow-run-id"
"""The label every CustomJob carries with its flow run's id (the builder sets it)."""
_NOT_REUSED = frozenset(
    {"JOB_STATE_FAILED", "JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
)
_MAX_PAGES = 20


class VertexBackend:
    """Starts, watches and cancels flow-run CustomJobs in one project and region.

    Args:
        http: The client API calls go through.
        tokens: Returns a valid access token for each call (`gcp_auth.ServiceAccountTokens`).
        project: The GCP project id.
        region: The Vertex AI region.
        endpoint: The API's base URL (`https://{region}-aiplatform.googleapis.com` by default).
    """

    def __init__(
        self,
        http: httpx.Client,
        tokens: Callable[[], str],
        *,
        project: str,
        region: str,
        endpoint: str | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._base = (endpoint or f"https://{region}-aiplatform.googleapis.com").rstrip("/")
        self._parent = f"projects/{project}/locations/{region}"

    @classmethod
    def from_secret(
        cls,
        secrets: Any,
        secret_id: str,
        *,
        region: str,
        project: str | None = None,
        endpoint: str | None = None,
    ) -> VertexBackend:
        """A backend authenticated by the service-account key in a Secrets Manager secret
        (read once: build one backend per cold start).

        Args:
            secrets: A boto3 Secrets Manager client.
            secret_id: The secret's ARN (`Settings.vertex_credentials_secret`).
            region: The Vertex AI region (`Settings.vertex_region`).
            project: The project (`Settings.vertex_project`); the key's `project_id` if None.
            endpoint: The API's base URL, for tests.

        Raises:
            BackendConfigError: The secret is not a service-account key, or names no project,
                or google-auth is not installed.
        """
        tokens_of = _service_account_tokens()
        info = _key(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
        project = project or info.get("project_id")
        if not project:
            raise BackendConfigError("no Vertex project: set STRATOFLOW_VERTEX_PROJECT")
        http = httpx.Client(timeout=30)
        tokens = tokens_of(info, http)
        return cls(http, tokens, project=str(project), region=region, endpoint=endpoint)

    def launch(self, spec: dict[str, Any]) -> str:
        """Create the CustomJob `spec` (REST JSON) unless a live one of its run exists.

        Returns:
            The job's resource name (`projects/../locations/../customJobs/<id>`).

        Raises:
            JobBackendError: The spec has no run label, or Vertex refused the job.
        """
        run_id = (spec.get("labels") or {}).get(RUN_LABEL)
        if not run_id:
            raise JobBackendError(f"the CustomJob has no {RUN_LABEL} label")
        existing = self._find(str(run_id))
        if existing is not None:
            return existing
        created = self._call("POST", f"{self._parent}/customJobs", "creating a CustomJob", spec)
        return str(created["name"])

    def status(self, infrastructure_id: str) -> JobStatus:
        """The job's state; its error (quota, timeout, ...) as the reason when it failed."""
        response = self._send("GET", infrastructure_id)
        if response.status_code == 404:
            return JobStatus(True, False, f"the CustomJob disappeared ({infrastructure_id})")
        _raise_for(response, f"reading {infrastructure_id}")
        return JobStatus.of(custom_job_outcome(response.json()))

    def stop(self, infrastructure_id: str) -> None:
        """Cancel the job; one not found, or already ended, counts as stopped."""
        response = self._send("POST", f"{infrastructure_id}:cancel", {})
        if response.status_code == 404 or _error_status(response) == "FAILED_PRECONDITION":
            return
        _raise_for(response, f"cancelling {infrastructure_id}")

    def _find(self, run_id: str) -> str | None:
        """The newest reusable job labelled with `run_id`, if any."""
        params = {"filter": f'labels.{RUN_LABEL}="{run_id}"', "pageSize": "100"}
        for _ in range(_MAX_PAGES):
            page = self._call(
                "GET", f"{self._parent}/customJobs", "listing CustomJobs", None, params
            )
            jobs = sorted(page.get("customJobs") or [], key=lambda j: str(j.get("createTime")))
            live = [job for job in jobs if job.get("state") not in _NOT_REUSED]
            if live:
                return str(live[-1]["name"])
            if not page.get("nextPageToken"):
                return None
            params["pageToken"] = page["nextPageToken"]
        return None

    def _call(
        self,
        method: str,
        path: str,
        doing: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self._send(method, path, body, params)
        _raise_for(response, doing)
        reply: dict[str, Any] = response.json()
        return reply

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = f"{self._base}/v1/{path}"
        headers = {"Authorization": f"Bearer {self._tokens()}"}
        try:
            return self._http.request(method, url, json=body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise JobBackendError(f"cannot reach Vertex AI at {self._base}: {exc}") from exc


def _key(text: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        raise BackendConfigError("the Vertex credentials secret is not JSON") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise BackendConfigError(
            "the Vertex credentials secret is not a service-account key (type service_account)"
        )
    return info


def _error(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _error_status(response: httpx.Response) -> str | None:
    status = _error(response).get("status")
    return str(status) if status else None


def _raise_for(response: httpx.Response, doing: str) -> None:
    if response.is_success:
        return
    message = str(_error(response).get("message") or response.text)[:500]
    hint = ""
    if response.status_code in (401, 403):
        hint = (
            " (the service account needs roles/aiplatform.user, and "
            "roles/iam.serviceAccountUser on the job's service account)"
        )
    raise JobBackendError(f"Vertex AI {response.status_code} {doing}: {message}{hint}")


GOOGLE_AUTH_MISSING = (
    "google-auth is not installed, and the Vertex launcher signs its token requests with it: "
    "on Lambda, the Vertex launcher function needs the stack's Vertex layer (the CDK attaches "
    "it when the Vertex launcher is on); elsewhere, install "
    "`stratoflow-functions[vertex]`"
)


def _service_account_tokens() -> Callable[[Any, httpx.Client], Callable[[], str]]:
    """`gcp_auth.ServiceAccountTokens`, imported here (google-auth pulls in cryptography).

    Raises:
        BackendConfigError: google-auth (or what it needs) is not installed.
    """
    try:
        from stratoflow_functions.launchers.gcp_auth import ServiceAccountTokens
    except ModuleNotFoundError as exc:
        # Only a missing GCP package is a configuration error; a missing module of ours is
        # a bug and stays one.
        if (exc.name or "").startswith("stratoflow"):
            raise
        raise BackendConfigError(f"{GOOGLE_AUTH_MISSING} (missing: {exc.name})") from exc
    return ServiceAccountTokens


def build(settings: Settings, infra_settings: Any) -> VertexBackend:
    """The backend of a deployment's project and region (`backends.backend_for`), its key read
    once per cold start.

    Raises:
        BackendConfigError: STRATOFLOW_VERTEX_CREDENTIALS_SECRET is not set, or the key is
            unusable or names no project.
    """
    secret = secret_of(settings.vertex_credentials_secret, "STRATOFLOW_VERTEX_CREDENTIALS_SECRET")
    project = getattr(infra_settings, "project", None) or settings.vertex_project
    region = getattr(infra_settings, "region", None) or settings.vertex_region
    return _backend(secret, region, project, settings.region, settings.aws_endpoint_url)


@cache
def _backend(
    secret: str, region: str, project: str | None, aws_region: str, endpoint_url: str | None
) -> VertexBackend:
    secrets = secrets_client(aws_region, endpoint_url)
    return VertexBackend.from_secret(secrets, secret, region=region, project=project)
