"""Lambda entry point of the scheduler (EventBridge, SPEC 4): thin adapter over `services.towel`.

The store is built from `load_settings()` once per cold start; each invocation calls
`schedule_runs` with the current time, publishes the report's counts as CloudWatch metrics
(namespace `Stratoflow`, EMF on stdout) and logs the report.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from stratoflow.schemas import utcnow
from stratoflow_functions.config import Settings, load_settings
from stratoflow_functions.services.towel import SchedulerReport, schedule_runs
from stratoflow_functions.store import Store, build_store

METRICS_NAMESPACE = "Stratoflow"
logger = Logger(service="stratoflow")


@cache
def _deps() -> tuple[Settings, Store]:
    settings = load_settings()
    return settings, build_store(settings)


def handle(store: Store, settings: Settings, now: datetime) -> SchedulerReport:
    """Run one tick and publish its metrics.

    Args:
        store: The control plane's store.
        settings: The control plane's settings.
        now: The current time.

    Returns:
        What the tick did.
    """
    report = schedule_runs(store, settings, now)
    metrics = Metrics(namespace=METRICS_NAMESPACE, service=settings.service_name)
    for name, value in report.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()
    logger.info("scheduler tick", extra=asdict(report))
    return report


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: `stratoflow_functions.handlers.scheduler.handler`."""
    settings, store = _deps()
    return asdict(handle(store, settings, utcnow()))
