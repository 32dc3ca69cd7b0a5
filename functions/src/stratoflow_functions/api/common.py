"""What every router shares: its dependencies, pagination parameters, JSON answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from stratoflow.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, utcnow
from stratoflow_functions.config import Settings
from stratoflow_functions.launchers.cancel import RunStopper, build_canceller
from stratoflow_functions.launchers.dispatcher import RunDispatcher, build_dispatcher
from stratoflow_functions.store import Store
from stratoflow_functions.store.code_bundles import CodeBundles, s3_client


@dataclass
class ApiDeps:
    """What the routes need, built once per cold start and injected."""

    store: Store
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    code_bundles: CodeBundles | None = None
    """The code bucket; built on first use when not injected (most requests never need it)."""
    run_dispatcher: RunDispatcher | None = None
    """Starts pushed runs due at once; by default built from the settings' launcher ARNs
    (None when the stack pushes nothing). Its clients are built on first use."""
    run_stopper: RunStopper | None = None
    """Stops pushed runs being cancelled; by default built from the settings (None when the
    stack has no ECS launcher)."""

    def __post_init__(self) -> None:
        if self.run_dispatcher is None:
            self.run_dispatcher = build_dispatcher(self.store, self.settings)
        if self.run_stopper is None:
            self.run_stopper = build_canceller(self.settings)

    def code(self) -> CodeBundles:
        """The code bucket gateway."""
        if self.code_bundles is None:
            self.code_bundles = CodeBundles(self.settings.code_bucket, s3_client(self.settings))
        return self.code_bundles


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
NextToken = Annotated[
    str | None, Query(max_length=4096, description="the `next_token` of the previous page")
]
DEFAULT_LIMIT = DEFAULT_PAGE_SIZE
_TAG = r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}"
TagList = Annotated[
    str | None,
    Query(
        max_length=32 * 65,
        pattern=rf"^{_TAG}(,{_TAG}){{0,31}}$",
        description="comma-separated tags; a run with any of them matches",
    ),
]


def parse_tags(value: str | None) -> list[str] | None:
    """The tags of a `TagList` query parameter (already validated by its pattern)."""
    return None if not value else value.split(",")


M = TypeVar("M", bound=BaseModel)


def json_response(model: M, status: int = 200) -> Response[M]:
    """A JSON answer with an explicit status (201 for a create, 200 for a replay)."""
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model)


def created(model: M, is_new: bool) -> Response[M]:
    """201 when the resource was created by this call, 200 when it already existed."""
    return json_response(model, 201 if is_new else 200)


def no_content() -> Response[None]:
    """204: no body, so no content type either."""
    return Response(status_code=204, body=None)
