"""What the three Towel handlers share: settings and store built once per cold start, and one
tick = call the service with the current time, publish its counts as CloudWatch metrics
(namespace `Stratoflow`, EMF on stdout), log the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from functools import cache
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from stratoflow.schemas import utcnow
from stratoflow_functions.config import Settings, load_settings
from stratoflow_functions.store import Store, build_store

METRICS_NAMESPACE = "Stratoflow"
logger = Logger(service="stratoflow")


class Report(Protocol):
    """A Towel service's report: a dataclass whose counts become metrics."""

    def metrics(self) -> dict[str, int]: ...


R = TypeVar("R", bound=Report)


@cache
def towel_deps() -> tuple[Settings, Store]:
    """Settings and store, built on the first invocation of this execution environment."""
    settings = load_settings()
    return settings, build_store(settings)


def run_tick(
    service: Callable[[Store, Settings, datetime], R],
    name: str,
    store: Store,
    settings: Settings,
    now: datetime,
) -> R:
    """Run one tick of `service` and publish its metrics."""
    report = service(store, settings, now)
    metrics = Metrics(namespace=METRICS_NAMESPACE, service=settings.service_name)
    for metric, value in report.metrics().items():
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()
    logger.info(f"{name} tick", extra=_as_dict(report))
    return report


def invoke(handle: Callable[[Store, Settings, datetime], Report]) -> dict[str, Any]:
    """A Lambda invocation of a handler's `handle`, answering the report as a dict."""
    settings, store = towel_deps()
    return _as_dict(handle(store, settings, utcnow()))


def _as_dict(report: Report) -> dict[str, Any]:
    fields: dict[str, Any] = asdict(report)  # type: ignore[call-overload]
    return fields
