"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis), over real
HTTP: moto's server as the AWS emulator and the API behind the local HTTP adapter, called with an
admin key. Every operation gets schema-valid and schema-violating requests, with random ids and
with ids of records that exist; every answer must be a non-5xx whose status, content type and
body the document describes.

Bounded: a fixed number of examples per operation and mode, derandomized (the same generated
requests each run, though ids and times differ), no shrinking. `STRATOFLOW_FUZZ_EXAMPLES` raises
the number for a longer local run. The figures (requests, statuses, 5xx, violations) are printed
at the end of the session by the `tests.fuzz.figures` plugin.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.live_api import LiveApi

EXAMPLES = int(os.environ.get("STRATOFLOW_FUZZ_EXAMPLES", "12"))
DEADLINE_SECONDS = 20.0 * EXAMPLES
"""The whole run fails past this (240 s at the default): a bound, not an expected duration
(about 45-60 s at the default on a 2-core machine)."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Figures:
    """What the fuzzer sent and saw."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    lenient: list[str] = field(default_factory=list)
    """Schema-violating requests that were accepted (pydantic's lax coercion, e.g. `true` for an
    integer): reported, not failed on."""

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self, operations: int, seconds: float) -> str:
        by_status = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.requests} requests over {operations} operations in {seconds:.0f} s; "
            f"5xx: {self.server_errors}; violations: {len(self.violations)}; "
            f"lenient acceptances: {len(self.lenient)}; "
            f"statuses: {by_status}"
        )


def _seed(api: LiveApi) -> dict[str, str]:
    """Records that exist, so requests also reach past the 404 of an unknown id."""
    with httpx.Client(base_url=api.url, headers={"authorization": f"Bearer {api.key}"}) as c:

        def made(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = c.request(method, path, json=body)
            assert answer.status_code in (200, 201), answer.text
            return dict(answer.json())

        flow = made("POST", "/flows", {"name": "fuzz"})
        deployment = made(
            "POST",
            "/deployments",
            {"flow_id": flow["id"], "name": "seeded", "entrypoint": "f.py:f"},
        )
        run = made("POST", f"/deployments/{deployment['id']}/runs", {})
        task = made("POST", "/task-runs", {"flow_run_id": run["id"], "task_key": "t", "name": "t"})
        key = made("POST", "/api-keys", {"name": "fuzzed"})  # not the admin key: it may be revoked
        made("PUT", "/work-queues/default", {})
        made("PUT", "/concurrency-limits/db", {"limit": 1})
    return {
        "flow_id": flow["id"],
        "deployment_id": deployment["id"],
        "run_id": run["id"],
        "task_run_id": task["id"],
        "key_id": key["id"],
        "agent_id": str(uuid.uuid4()),
        "name": "default",
        "flow_name": "fuzz",
        "tag": "db",
    }


def _fuzz_operation(
    operation: Any,
    send: Callable[[schemathesis.Case, GenerationMode], None],
    mode: GenerationMode,
    path_parameters: dict[str, str] | None,
    headers: dict[str, str],
) -> None:
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters=path_parameters, headers=headers
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        send(case, mode)

    with contextlib.suppress(Unsatisfiable):  # nothing to negate (no parameters, or all fixed)
        run()


def _failures(case: schemathesis.Case, response: Any, checks: list[Any]) -> list[str]:
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:
        return [f"{case.operation.label}: {failure}" for failure in group.exceptions]
    except Failure as failure:
        return [f"{case.operation.label}: {failure}"]
    return []


def _known_ids(operation: Any, seeded: dict[str, str]) -> dict[str, str] | None:
    names = [p.name for p in operation.path_parameters]
    if not names or not all(name in seeded for name in names):
        return None
    return {name: seeded[name] for name in names}


def test_no_5xx_and_every_answer_matches_the_document(live_api: LiveApi, record_property) -> None:
    auth = {"Authorization": f"Bearer {live_api.key}"}
    schema = schemathesis.openapi.from_url(f"{live_api.url}/openapi.json", headers=auth)
    seeded = _seed(live_api)
    figures = Figures()
    session = requests.Session()
    started = time.monotonic()

    def send(case: schemathesis.Case, mode: GenerationMode) -> None:
        if time.monotonic() - started > DEADLINE_SECONDS:
            pytest.fail(f"the fuzz run is over its {DEADLINE_SECONDS:.0f} s bound")
        response = case.call(base_url=live_api.url, session=session, timeout=10)
        figures.requests += 1
        figures.statuses[response.status_code] += 1
        figures.violations += _failures(case, response, CHECKS)
        if mode.is_negative:
            figures.lenient += _failures(case, response, [negative_data_rejection])

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        known = _known_ids(operation, seeded)
        for path_parameters in [None, known] if known else [None]:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_operation(operation, send, mode, path_parameters, auth)

    summary = figures.summary(len(operations), time.monotonic() - started)
    record_property("fuzz_figures", summary)
    print(summary)
    assert figures.requests >= len(operations) * EXAMPLES
    assert figures.server_errors == 0, summary
    assert figures.violations == [], "\n\n".join(figures.violations[:20])
