"""The three Towel Lambda handlers against moto, configured from the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from stratoflow_functions.config import load_settings
from stratoflow_functions.handlers import lazarus, scheduler, zombie_killer
from stratoflow_functions.handlers._towel import towel_deps
from stratoflow_functions.store import create_table
from tests.functional.towel.towel_support import cron, deploy


@pytest.fixture
def env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STRATOFLOW_TABLE_NAME", "stratoflow-towel-handlers")
    create_table(load_settings())
    towel_deps.cache_clear()
    yield
    towel_deps.cache_clear()


def _emf(out: str) -> list[dict]:  # type: ignore[type-arg]
    docs = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs


def test_scheduler_handler_creates_runs_and_emits_metrics(
    env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, store = towel_deps()
    from stratoflow.schemas import utcnow

    deploy(store, utcnow())

    result = scheduler.handler({"source": "aws.events"}, None)

    assert result["runs_created"] >= 3
    docs = _emf(capsys.readouterr().out)
    metric = next(d for d in docs if "RunsCreated" in d)
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stratoflow"
    assert metric["RunsCreated"] == [result["runs_created"]]
    assert metric["service"] == settings.service_name
    assert {"LateRunsMarked", "RunsDeleted", "ScheduleFailures"} <= set(metric)
    assert metric["ScheduleFailures"] == [0]


def test_scheduler_handler_counts_a_stored_broken_schedule_in_its_metric_and_log(
    env: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from stratoflow.schemas import (
        DeploymentCreate,
        DeploymentScheduleCreate,
        FlowCreate,
        RRuleSchedule,
        utcnow,
    )
    from stratoflow_functions.services.catalog import register_flow

    _, store = towel_deps()
    flow, _ = register_flow(store, FlowCreate(name="etl"), utcnow())
    broken = DeploymentScheduleCreate(schedule=RRuleSchedule(rrule="FREQ=DAILY;INTERVAL=0"))
    data = DeploymentCreate(
        flow_id=flow.id, name="legacy", entrypoint="flows/etl.py:etl", schedules=[broken]
    )
    deployment, _ = store.deployments.upsert(data, flow, utcnow())  # no API validation
    deploy(store, utcnow(), name="healthy", schedules=[cron("0 6 * * *")])

    result = scheduler.handler({"source": "aws.events"}, None)

    out = capsys.readouterr().out
    metric = next(d for d in _emf(out) if "ScheduleFailures" in d)
    assert metric["ScheduleFailures"] == [1]
    assert result["schedules_failed"] == 1
    assert result["failed_schedules"][0]["deployment_id"] == deployment.id
    assert result["runs_created"] == 7
    warning = next(r for r in caplog.records if r.levelname == "WARNING")
    assert str(deployment.id) in warning.getMessage()
    assert "INTERVAL must be at least 1" in warning.getMessage()


@pytest.mark.parametrize(
    ("module", "metric"),
    [(zombie_killer, "ZombiesKilled"), (lazarus, "RunsResurrected")],
)
def test_maintenance_handlers_emit_their_metric(
    env: None, capsys: pytest.CaptureFixture[str], module: object, metric: str
) -> None:
    result = module.handler({}, None)  # type: ignore[attr-defined]

    docs = _emf(capsys.readouterr().out)
    assert any(doc.get(metric) == [0] for doc in docs)
    assert all(value == 0 for value in result.values())
