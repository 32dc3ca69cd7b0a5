"""Every page of the dashboard in a real browser, on real data: one local stack for the module,
the examples deployed with the real CLI (`uneven`, `sleepy`), runs made through the local agent.
Each page gets a screenshot (build/ui-screenshots/<page>.png) and an axe-core check."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from stratoflow.client import StratoflowClient
from stratoflow.schemas import (
    ConcurrencyLimitUpdate,
    DeploymentRunCreate,
    FlowRun,
    LogCreate,
    StateType,
)
from tests.e2e.local_stack import STRATOFLOW, ServerProcess, stack_env, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}
TERMINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
UI_WAIT = 30_000  # ms: the pages poll every 1.5-5 s; the stream consumer lags about a second


@dataclass
class World:
    """The module's stack and the runs its fixture made."""

    stack: ServerProcess
    client: StratoflowClient
    uneven_id: uuid.UUID
    sleepy_id: uuid.UUID
    ok: FlowRun
    failed: FlowRun
    failed_to_retry: FlowRun
    old: FlowRun
    sleepy: FlowRun
    """Started with the others (one agent claim), cancelled by its test."""
    holding: FlowRun
    """Holds the `ui-slot` limit's slot for the limits page; cancelled at the end."""


def _deploy(stack: ServerProcess, *args: str) -> None:
    done = subprocess.run(
        [STRATOFLOW, "deploy", *args],
        cwd=EXAMPLES,
        env=stack_env(stack.home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _finished(client: StratoflowClient, run: FlowRun, timeout: float = 60) -> FlowRun:
    def check() -> FlowRun | None:
        now = client.read_flow_run(run.id)
        return now if now.state.type in TERMINAL else None

    return wait_for(check, timeout, f"run {run.name} to finish")


@pytest.fixture(scope="module")
def world(stack: ServerProcess) -> Iterator[World]:
    _deploy(stack, "uneven.py:uneven", "--name", "ui")
    _deploy(stack, "sleepy_flow.py:sleepy", "--name", "ui", "--param", "steps=600")
    client = stack.client()
    uneven = client.read_deployment_by_name("uneven", "ui")
    sleepy = client.read_deployment_by_name("sleepy", "ui")
    client.set_concurrency_limit("ui-slot", ConcurrencyLimitUpdate(limit=1))

    def start(tags: list[str], **parameters: Any) -> FlowRun:
        body = DeploymentRunCreate(parameters=parameters, tags=tags)
        return client.create_deployment_run(uneven.id, body)

    ok = start(["ui-ok"], label="ok")
    failed = start(["ui-failing"], label="failed", fail=True)
    failed_to_retry = start(["ui-failing"], label="retry-me", fail=True)
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    old = client.create_deployment_run(
        uneven.id,
        DeploymentRunCreate(parameters={"label": "old"}, scheduled_start_time=three_hours_ago),
    )
    # Started now so the agent claims them with the others (it backs off up to 15 s when idle).
    sleepy_run = client.create_deployment_run(
        sleepy.id, DeploymentRunCreate(parameters={"steps": 3000})
    )
    holding = start([], label="hold", hold_seconds=300)
    runs = [_finished(client, run) for run in (ok, failed, failed_to_retry, old)]
    assert [run.state.type for run in runs] == [
        StateType.COMPLETED,
        StateType.FAILED,
        StateType.FAILED,
        StateType.COMPLETED,
    ]
    yield World(stack, client, uneven.id, sleepy.id, *runs, sleepy_run, holding)
    for run in (sleepy_run, holding):
        if client.read_flow_run(run.id).state.type not in TERMINAL:
            client.cancel_flow_run(run.id)
    client.close()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, world: World) -> Iterator[Page]:
    """A signed-in page (en-US, UTC) of a fresh browser context."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US", timezone_id="UTC"
    )
    opened = context.new_page()
    opened.goto(f"{world.stack.url}/ui")
    opened.get_by_label("API key").fill(world.stack.key)
    opened.get_by_role("button", name="Sign in").click()
    expect(opened.get_by_role("heading", name="Flow runs")).to_be_visible()
    try:
        yield opened
    finally:
        context.close()


def _axe_clean(page: Page) -> None:
    page.evaluate(AXE.read_text())
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    serious = [(v["id"], v["help"]) for v in result["violations"] if v["impact"] in SERIOUS]
    assert serious == []


def _shot(page: Page, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"))
    assert (screenshots / f"{name}.png").stat().st_size > 1000


def _runs_table(page: Page) -> Any:
    return page.get_by_role("table", name="Flow runs")


def _select(page: Page, label: str, option: str) -> None:
    # The label wraps the select, so its accessible name includes the chosen option's text.
    field = page.locator("form.filters label.field").filter(
        has=page.locator("span", has_text=re.compile(f"^{label}$"))
    )
    field.locator("select").select_option(label=option)


def test_runs_page_counts_chart_and_filters(page: Page, world: World, screenshots: Path) -> None:
    counts = page.locator("ul.counts")
    # Exact counts from /flow-runs/stats (eventually consistent: the page refreshes every 5 s).
    for state in ("completed", "failed"):  # at least the fixture's two of each
        count = counts.locator("li").filter(has_text=state).locator("strong")
        expect(count).to_have_text(re.compile(r"^([2-9]|\d\d+)$"), timeout=UI_WAIT)
    expect(page.get_by_role("img", name=re.compile(r"Runs over time: \d+ runs"))).to_be_visible()
    table = _runs_table(page)
    for run in (world.ok, world.failed, world.old):
        expect(table.get_by_role("link", name=run.name)).to_be_visible()
    _shot(page, screenshots, "runs")
    _axe_clean(page)

    _select(page, "Time range", "last hour")  # the old run expected 3 h ago drops out
    expect(table.get_by_role("link", name=world.old.name)).to_have_count(0)
    expect(table.get_by_role("link", name=world.ok.name)).to_be_visible()
    _select(page, "Time range", "last 24 hours")
    expect(table.get_by_role("link", name=world.old.name)).to_be_visible()

    page.get_by_label("Tags (any of, comma separated)").fill("ui-failing")
    page.get_by_label("Tags (any of, comma separated)").press("Tab")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text(world.failed.name)
    page.get_by_label("Tags (any of, comma separated)").fill("")
    page.get_by_label("Tags (any of, comma separated)").press("Tab")

    _select(page, "State", "FAILED")
    expect(table.get_by_role("link", name=world.failed.name)).to_be_visible()
    expect(table.get_by_role("link", name=world.ok.name)).to_have_count(0)
    _select(page, "State", "any")

    _select(page, "Flow", "sleepy")
    expect(page.get_by_role("row").filter(has_text="uneven")).to_have_count(0)
    expect(page.get_by_role("link", name=world.ok.name)).to_have_count(0)
    _select(page, "Flow", "any")
    _select(page, "Deployment", "uneven/ui")
    expect(table.get_by_role("link", name=world.ok.name)).to_be_visible()


def _task_base(name: str) -> str:
    """`slow` of a task run named `slow-1a2b` (or a label `slow (1 retry)`)."""
    return re.split(r"[-\s]", name)[0]


def _bar_widths(page: Page) -> dict[str, float]:
    timeline = page.get_by_role("img", name=re.compile(r"Timeline of \d+ task runs"))
    expect(timeline).to_be_visible()
    widths: dict[str, float] = {}
    for group in timeline.locator("g").all():
        name = _task_base(group.locator("text").text_content() or "")
        widths[name] = float(group.locator("rect").get_attribute("width") or 0)
    return widths


def test_run_page_timeline_widths_follow_true_durations(
    page: Page, world: World, screenshots: Path
) -> None:
    page.goto(f"{world.stack.url}/ui#/runs/{world.ok.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.ok.name)
    tasks = world.client.list_task_runs(world.ok.id).items
    true = {
        _task_base(t.name): (t.end_time - t.start_time).total_seconds()
        for t in tasks
        if t.start_time and t.end_time
    }
    widths = _bar_widths(page)
    by_duration = sorted(true, key=true.__getitem__)
    assert by_duration == ["quick", "medium", "slow"]
    assert sorted(widths, key=widths.__getitem__) == by_duration
    assert widths["quick"] < widths["medium"] < widths["slow"]
    history = page.get_by_role("region", name="State history")
    expect(history).to_contain_text("Completed", timeout=UI_WAIT)
    expect(history).to_contain_text("Running")
    _shot(page, screenshots, "run")
    _axe_clean(page)


def test_logs_level_filter_hides_info(page: Page, world: World) -> None:
    page.goto(f"{world.stack.url}/ui#/runs/{world.failed.id}")
    logs = page.get_by_role("log")
    expect(logs.locator(".level-error").first).to_be_visible()
    expect(logs.locator(".level-info").first).to_be_visible()
    expect(page.get_by_role("region", name="Failures")).to_contain_text("fails on purpose")
    page.get_by_label("Level").select_option(label="ERROR and above")
    expect(logs.locator(".level-info")).to_have_count(0)
    expect(logs.locator(".level-error").first).to_be_visible()


def test_retry_a_failed_run_schedules_it_again(page: Page, world: World) -> None:
    run = world.failed_to_retry
    page.goto(f"{world.stack.url}/ui#/runs/{run.id}")
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status").filter(has_text="Retry requested.")).to_be_visible()
    # Scheduled again: AwaitingRetry after Failed in its history (the agent may already be
    # running it a second time).
    names = wait_for(
        lambda: (
            (n := [s.name for s in world.client.list_flow_run_states(run.id)])
            and "AwaitingRetry" in n
            and n
        ),
        30,
        "AwaitingRetry in the history",
    )
    assert names.index("AwaitingRetry") > names.index("Failed")
    assert world.client.read_flow_run(run.id).deployment_id == world.uneven_id


def test_cancel_a_running_run_and_live_tail(page: Page, world: World, screenshots: Path) -> None:
    run = world.sleepy
    wait_for(
        lambda: world.client.read_flow_run(run.id).state.type == StateType.RUNNING,
        60,
        "the sleepy run to start",
    )
    page.goto(f"{world.stack.url}/ui#/runs/{run.id}")
    expect(page.get_by_role("heading", name="Logs (live)")).to_be_visible()
    line = f"written after the page opened {uuid.uuid4()}"
    world.client.write_logs([LogCreate(flow_run_id=run.id, message=line)])
    expect(page.get_by_role("log")).to_contain_text(line, timeout=UI_WAIT)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancelled", timeout=UI_WAIT)
    assert world.client.read_flow_run(run.id).state.type == StateType.CANCELLED
    expect(page.get_by_role("button", name="Cancel")).to_be_disabled()


def test_run_now_with_the_parameter_form_completes(
    page: Page, world: World, screenshots: Path
) -> None:
    page.get_by_role("link", name="Deployments").click()
    card = page.get_by_role("article", name="uneven/ui")
    expect(card).to_contain_text("Flow version")
    assert "—" not in card.locator("dd").nth(3).inner_text()  # the deployed flow's version
    card.get_by_role("button", name="Run now…").click()
    expect(card.get_by_label("Label")).to_have_value("demo")  # the schema's default
    expect(card.get_by_label("Hold Seconds")).to_have_attribute("type", "number")
    expect(card.get_by_label("Fail")).to_have_attribute("type", "checkbox")
    expect(card.get_by_label("Fail")).not_to_be_checked()
    card.get_by_label("Label").fill("from-the-form")
    _shot(page, screenshots, "deployments")
    _axe_clean(page)
    card.get_by_role("button", name="Run now", exact=True).click()
    page.wait_for_url("**#/runs/*")
    run_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_contain_text("Completed", timeout=60_000)
    made = world.client.read_flow_run(run_id)
    assert made.parameters["label"] == "from-the-form"
    assert made.state.type == StateType.COMPLETED
    page.get_by_role("link", name="Runs").click()
    expect(_runs_table(page).get_by_role("link", name=made.name)).to_be_visible()


def _us_time(text: str) -> datetime:
    return datetime.strptime(text, "%m/%d/%Y, %I:%M:%S %p").replace(tzinfo=UTC)


def test_flows_work_queues_and_limits(page: Page, world: World, screenshots: Path) -> None:
    page.get_by_role("link", name="Flows").click()
    flows = page.get_by_role("table", name="Flows")
    uneven = flows.get_by_role("row").filter(has_text="uneven")
    expect(uneven).to_contain_text("ui")
    version = world.client.read_flow_run(world.ok.id).flow_version
    assert version
    expect(uneven).to_contain_text(version)
    expect(flows.get_by_role("row").filter(has_text="sleepy")).to_be_visible()
    _shot(page, screenshots, "flows")
    _axe_clean(page)

    page.get_by_role("link", name="Work queues").click()
    agents = page.get_by_role("table", name="Agents")
    agent = agents.locator("tbody tr").first
    expect(agent).to_contain_text("default")
    heartbeat = _us_time(agent.locator("td").nth(3).inner_text())
    assert abs(datetime.now(UTC) - heartbeat) < timedelta(seconds=60)
    expect(page.get_by_role("table", name="Work queues")).to_contain_text("default")
    _shot(page, screenshots, "work")
    _axe_clean(page)

    slots = wait_for(
        lambda: world.client.read_concurrency_limit("ui-slot").active_slots,
        60,
        "a task run to hold the ui-slot slot",
    )
    page.get_by_role("link", name="Concurrency limits").click()
    row = (
        page.get_by_role("table", name="Concurrency limits")
        .get_by_role("row")
        .filter(has_text="ui-slot")
    )
    expect(row.locator("td").nth(2)).to_have_text("1", timeout=UI_WAIT)
    expect(row).to_contain_text(str(slots[0])[:8])
    _shot(page, screenshots, "limits")
    _axe_clean(page)


def test_sign_in_page(browser: Browser, world: World, screenshots: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{world.stack.url}/ui")
        expect(page.get_by_role("heading", name="Sign in to Stratoflow")).to_be_visible()
        _shot(page, screenshots, "sign-in")
        _axe_clean(page)
    finally:
        context.close()
