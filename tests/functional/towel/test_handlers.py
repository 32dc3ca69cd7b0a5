"""The three Towel Lambda handlers against moto, configured from the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from stratoflow_functions.config import load_settings
from stratoflow_functions.handlers import lazarus, scheduler, zombie_killer
from stratoflow_functions.handlers._towel import towel_deps
from stratoflow_functions.store import create_table
from tests.functional.towel.towel_support import deploy


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
    assert {"LateRunsMarked", "RunsDeleted"} <= set(metric)


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
