"""A fake Vertex AI JobService (customJobs over REST) and Google's OAuth token endpoint.

Served over real HTTP by `tests.fakes.wire.serve`. Like the real API: create assigns a numeric
id and returns the job (`name`, `state: JOB_STATE_PENDING`, times); get; list with a
`labels.<key>="<value>"` or `labels.<key>:*` (key exists) filter (ANDed terms), `pageSize` and
`pageToken`; `:cancel` (400 `FAILED_PRECONDITION` once the job has ended); errors as
`{"error": {code, message, status}}`.
`POST /token` plays `oauth2.googleapis.com/token` for a service-account key whose `token_uri`
points here: it checks the JWT bearer assertion's signature and issuer, and then every API call
must carry one of the tokens it issued. A test moves jobs through states with the hooks
(`run`, `succeed`, `fail`, `expire`, `vanish`). Proven against the real
`google.cloud.aiplatform_v1` client in tests/unit/launchers/test_launchers_vertex_wire.py.
"""

from __future__ import annotations

import copy
import itertools
import re

from tests.fakes.wire import Json, Reply, WireFake

_LOC = r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/customJobs"
_TERMS = re.compile(r'^labels\.(?P<key>[\w-]+)\s*(=\s*"?(?P<value>[^"]*)"?|:\s*\*)$')
_ENDED = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
_NOW = "2026-01-01T00:00:00Z"


def error(code: int, status: str, message: str) -> Reply:
    """A google.rpc error reply."""
    return code, {"error": {"code": code, "message": message, "status": status}}


def _label_filter(text: str | None) -> dict[str, str | None] | None:
    """The label terms of `filter`: a value, or None for `labels.key:*` (the key exists);
    None if a term is neither."""
    terms: dict[str, str | None] = {}
    for term in filter(None, (t.strip() for t in (text or "").split(" AND "))):
        match = _TERMS.match(term)
        if match is None:
            return None
        terms[match["key"]] = match["value"]
    return terms


def _has(labels: dict[str, str], key: str, value: str | None) -> bool:
    return key in labels if value is None else labels.get(key) == value


class FakeVertexApi(WireFake):
    """CustomJobs in memory, keyed by resource name.

    Args:
        client_email: The service account whose assertions `/token` accepts; None: no auth
            at all (the real client with AnonymousCredentials).
        public_key_pem: The key that must verify the assertion's signature.
    """

    ROUTES = (
        ("POST", "/token", "token"),
        ("POST", _LOC, "create"),
        ("GET", _LOC, "list_jobs"),
        ("GET", f"{_LOC}/(?P<job>[0-9]+)", "get"),
        ("POST", f"{_LOC}/(?P<job>[0-9]+):cancel", "cancel"),
    )

    def __init__(self, client_email: str | None = None, public_key_pem: str | None = None) -> None:
        super().__init__()
        self.client_email = client_email
        self.public_key_pem = public_key_pem
        self.jobs: dict[str, Json] = {}
        self.issued: list[str] = []
        self.cancels: list[str] = []
        self._ids = itertools.count(1000)

    def authorize(self, headers: dict[str, str]) -> Reply | None:
        if self.client_email is None or self.requests[-1][1] == "/token":
            return None
        if headers.get("authorization", "").removeprefix("Bearer ") in self.issued:
            return None
        return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")

    # --- the wire API -------------------------------------------------------------------
    def token(self, query: dict[str, str], body: Json | None) -> Reply:
        from google.auth import jwt

        form = body or {}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = jwt.decode(form.get("assertion", ""), certs=self.public_key_pem)
        except ValueError as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        if claims.get("iss") != self.client_email:
            return 400, {"error": "invalid_grant", "error_description": "unknown issuer"}
        self.issued.append(f"ya29.fake-{len(self.issued)}")
        return 200, {"access_token": self.issued[-1], "expires_in": 3600, "token_type": "Bearer"}

    def create(
        self, project: str, location: str, query: dict[str, str], body: Json | None
    ) -> Reply:
        job = copy.deepcopy(body or {})
        if not job.get("displayName") or not (job.get("jobSpec") or {}).get("workerPoolSpecs"):
            return error(
                400, "INVALID_ARGUMENT", "displayName and jobSpec.workerPoolSpecs are required"
            )
        name = f"projects/{project}/locations/{location}/customJobs/{next(self._ids)}"
        job.update(name=name, state="JOB_STATE_PENDING", createTime=_NOW, updateTime=_NOW)
        self.jobs[name] = job
        return 200, job

    def list_jobs(
        self, project: str, location: str, query: dict[str, str], body: Json | None
    ) -> Reply:
        wanted = _label_filter(query.get("filter"))
        if wanted is None:
            return error(400, "INVALID_ARGUMENT", f"unsupported filter {query.get('filter')!r}")
        prefix = f"projects/{project}/locations/{location}/customJobs/"
        jobs = [
            job for name, job in self.jobs.items()
            if name.startswith(prefix)
            and all(_has(job.get("labels") or {}, k, v) for k, v in wanted.items())
        ]  # fmt: skip
        start, size = int(query.get("pageToken") or 0), int(query.get("pageSize") or 100)
        reply: Json = {"customJobs": jobs[start : start + size]} if jobs else {}
        if start + size < len(jobs):
            reply["nextPageToken"] = str(start + size)
        return 200, reply

    def get(
        self, project: str, location: str, job: str, query: dict[str, str], body: Json | None
    ) -> Reply:
        found = self.jobs.get(f"projects/{project}/locations/{location}/customJobs/{job}")
        if found is None:
            return error(404, "NOT_FOUND", f"CustomJob {job} not found")
        return 200, found

    def cancel(
        self, project: str, location: str, job: str, query: dict[str, str], body: Json | None
    ) -> Reply:
        name = f"projects/{project}/locations/{location}/customJobs/{job}"
        found = self.jobs.get(name)
        if found is None:
            return error(404, "NOT_FOUND", f"CustomJob {job} not found")
        if found["state"] in _ENDED:
            return error(
                400, "FAILED_PRECONDITION", f"CustomJob {job} is already in state {found['state']}"
            )
        self.cancels.append(name)
        found["state"] = "JOB_STATE_CANCELLED"  # CANCELLING is skipped: nothing to stop here
        return 200, {}

    # --- test hooks: what Vertex would do ---------------------------------------------
    def run(self, name: str) -> None:
        """The job starts running."""
        self._set(name, "JOB_STATE_RUNNING")

    def succeed(self, name: str) -> None:
        """The job ends well."""
        self._set(name, "JOB_STATE_SUCCEEDED")

    def fail(self, name: str, message: str, code: int = 3) -> None:
        """The job fails with a google.rpc error (`code` 8 is RESOURCE_EXHAUSTED: quota)."""
        self._set(name, "JOB_STATE_FAILED", {"code": code, "message": message})

    def expire(self, name: str) -> None:
        """The job waited for resources past its limit."""
        self._set(name, "JOB_STATE_EXPIRED")

    def vanish(self, name: str) -> None:
        """The job is deleted behind the launcher's back."""
        with self.lock:
            del self.jobs[name]

    def _set(self, name: str, state: str, failure: Json | None = None) -> None:
        with self.lock:
            self.jobs[name].update(state=state, updateTime=_NOW)
            if failure is not None:
                self.jobs[name]["error"] = failure
