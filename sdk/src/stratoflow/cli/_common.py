"""What every CLI command shares: the API client from settings, error handling, tables.

`client_from(ctx)` builds the client (profile < environment < `--api-url`/`--api-key`);
`handle_errors()` turns SDK errors into a one-line message and a trustworthy exit code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

import click

from stratoflow.client import (
    ApiError,
    BadRequestError,
    NotFoundError,
    StratoflowClient,
    StratoflowClientError,
    UnprocessableError,
)
from stratoflow.client.settings import load_client_settings
from stratoflow.schemas import FlowRun

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(click.ClickException):
    """A failed operation: its message is printed and the exit status is 1."""

    exit_code = EXIT_FAILED


class BadInputError(CliError):
    """Bad input (an unknown id, a missing setting): message printed, exit status 2."""

    exit_code = EXIT_USAGE


def client_from(ctx: click.Context, *, fallback_api_key: str | None = None) -> StratoflowClient:
    """The API client for this invocation.

    Args:
        ctx: the click context (its root holds the `--api-url` / `--api-key` overrides).
        fallback_api_key: the key to use when no profile, variable or flag gives one.

    Raises:
        CliError: no API is configured, the profile is broken, or the auth it needs cannot be
            set up, such as SigV4 without the `[aws]` extra (exit 2, the message says why).
    """
    overrides = (ctx.find_root().obj or {}).get("overrides", {})
    try:
        settings = load_client_settings(**overrides)
    except ValueError as exc:
        raise BadInputError(str(exc)) from exc
    if settings.api_key is None and fallback_api_key is not None:
        settings = replace(settings, api_key=fallback_api_key)
    if settings.offline:
        raise BadInputError(
            "no API configured: set STRATOFLOW_API_URL, pass --api-url, "
            "or run `stratoflow server start`"
        )
    try:
        return StratoflowClient(settings)
    except ValueError as exc:  # AuthSetupError among them: a missing extra, key or region
        raise BadInputError(str(exc)) from exc


@contextmanager
def handle_errors(what: str) -> Iterator[None]:
    """Translate SDK errors raised inside the block into `CliError`s naming `what`."""
    try:
        yield
    except NotFoundError as exc:
        raise BadInputError(f"{what}: not found ({exc.message})") from exc
    except (BadRequestError, UnprocessableError) as exc:
        raise BadInputError(f"{what}: invalid input ({exc.message})") from exc
    except ApiError as exc:
        raise CliError(f"{what}: the API answered {exc.status} {exc.code}: {exc.message}") from exc
    except StratoflowClientError as exc:
        raise CliError(f"{what}: {exc}") from exc


def when(value: datetime | None) -> str:
    """A timestamp for a table (UTC, to the second)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def duration(run: FlowRun) -> str:
    """How long a run ran (so far)."""
    if run.start_time is None:
        return "-"
    end = run.end_time or run.updated
    seconds = max(0.0, (end - run.start_time).total_seconds())
    return f"{seconds:.1f}s"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain, aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
