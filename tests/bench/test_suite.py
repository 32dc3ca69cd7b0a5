"""The benchmark suite's harness (bench/suite.py) and cost model (bench/cost.py): they run and
produce their table's shape. No figure is asserted: nothing in the suite is a timed test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import cost  # noqa: E402
import suite  # noqa: E402

ROW_KEYS = {"figure", "unit", "ratio", "lower_is_better", "target", "met"}


def _results() -> suite.Results:
    results = suite.Results()
    for system, values in (("stratoflow", [10.0, 30.0, 20.0]), ("prefect", [40.0, 50.0, 60.0])):
        for value in values:
            results.add(system, "trivial flow run, median", value, "ms", target=suite._at_most(20))
    results.add("stratoflow", "creates/s, sequential", 300, "1/s", lower_is_better=False)
    return results


def test_rows_give_median_min_max_ratio_and_whether_the_target_is_met() -> None:
    flow_row, creates_row = suite.rows(_results())
    assert flow_row["stratoflow"]["median"] == 20.0
    assert (flow_row["stratoflow"]["min"], flow_row["stratoflow"]["max"]) == (10.0, 30.0)
    assert flow_row["ratio"] == pytest.approx(20.0 / 50.0)
    assert flow_row["target"] == "<= 20"
    assert flow_row["met"] is True
    assert creates_row["ratio"] is None  # no Prefect figure: no ratio
    assert creates_row["met"] is None  # no target


def test_render_prints_one_markdown_row_per_figure() -> None:
    text = suite.render(suite.rows(_results()))
    lines = text.splitlines()
    assert lines[0].startswith("| figure | unit | Stratoflow | Prefect | ratio S/P |")
    assert len(lines) == 2 + 2
    assert "| 20.0 (10.0-30.0) | 50.0 (40.0-60.0) | 0.40 | <= 20 | yes |" in lines[2]
    assert "| creates/s, sequential | 1/s | 300 | - | - |" in lines[3]


def test_repetitions_alternate_the_systems() -> None:
    systems = ["stratoflow", "prefect"]
    assert [suite._order(rep, systems)[0] for rep in range(4)] == [
        "stratoflow", "prefect", "stratoflow", "prefect"]  # fmt: skip


def test_item_sizes_follow_dynamodb_billing_rules() -> None:
    item = {"pk": {"S": "abc"}, "n": {"N": "12345"}, "flag": {"BOOL": True}}
    assert cost.item_size(item) == (2 + 3) + (1 + 3) + (4 + 1)
    assert cost.write_units({"pk": {"S": "x" * 2000}}) == 2.0  # 2 KB: two units
    assert cost.write_units({"pk": {"S": "x"}, "gsi1pk": {"S": "y"}}) == 2.0  # table + GSI
    assert cost.read_units([{"pk": {"S": "x" * 5000}}], consistent=False) == 1.0
    assert cost.read_units([{"pk": {"S": "x"}}], consistent=True) == 1.0


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRATOFLOW_", "PREFECT_"))}
    return {**env, "STRATOFLOW_HOME": str(tmp_path / "home")}


@pytest.mark.slow
def test_cost_model_counts_requests_and_capacity_of_real_flow_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cost.py"), "--tasks", "0,3", "--json"],
        capture_output=True, text=True, env=_clean_env(tmp_path), timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["prices_date"] == cost.PRICES_DATE
    empty, three = result["runs"]
    assert (empty["tasks"], three["tasks"]) == (0, 3)
    for run in (empty, three):
        assert run["api_calls"] >= 1
        assert sum(run["aws_requests"].values()) >= 1
        assert run["wru"] > 0
    assert three["wru"] > empty["wru"]  # task runs are written
    assert three["consumer_invocations"] >= 1  # the stream consumer ran over the flow's writes
    assert "| tasks | API calls | stream consumer calls |" in done.stdout


@pytest.mark.slow
def test_quick_run_prints_the_table_and_writes_its_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "suite.py"), "--quick", "--no-prefect",
         "--only", "tasks", "--out", str(out)],
        capture_output=True, text=True, env=_clean_env(tmp_path), timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| figure | unit | Stratoflow | Prefect | ratio S/P | target | met |" in done.stdout
    doc = json.loads((out / "latest.json").read_text())
    assert doc["quick"] is True
    assert set(doc["machine"]) >= {"cpus", "load_1_5_15", "python"}
    names = [row["figure"] for row in doc["figures"]]
    assert "server start-up, empty home" in names
    assert any(name.startswith("per task, sequential") for name in names)
    assert any(name.startswith("per task, engine alone") for name in names)
    for row in doc["figures"]:
        assert set(row) >= ROW_KEYS
        stats = row["stratoflow"]
        assert stats["min"] <= stats["median"] <= stats["max"]
        assert "prefect" not in row
        assert row["ratio"] is None
        assert (row["met"] is None) == (row["target"] is None)
