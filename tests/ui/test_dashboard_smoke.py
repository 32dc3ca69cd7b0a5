"""The dashboard in a real browser against a live local stack: sign in with the stack's key,
see the runs page list a real flow run, open it; no CSP violation; axe-core finds no serious
accessibility problem. Screenshots go to build/ui-screenshots/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from stratoflow import flow, task
from stratoflow.schemas import (
    CronSchedule,
    DeploymentCreate,
    DeploymentScheduleCreate,
    FlowCreate,
    FlowRunFilter,
)
from tests.e2e.local_stack import ServerProcess

SERIOUS = {"serious", "critical"}
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def _real_run(stack: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STRATOFLOW_HOME", str(stack.home))
    monkeypatch.setenv("STRATOFLOW_API_URL", stack.url)
    monkeypatch.setenv("STRATOFLOW_API_KEY", stack.key)

    @task
    def double(n: int) -> int:
        return n * 2

    @flow(name="ui-smoke")
    def smoke(n: int) -> int:
        return double(n) + double(n + 1)

    assert smoke(2) == 10
    runs = [r for r in stack.client().list_flow_runs().items if r.flow_name == "ui-smoke"]
    assert len(runs) == 1
    return runs[0].name


def _axe_violations(page: Page) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text())  # through the DevTools protocol: the page's CSP stays on
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in SERIOUS]


def _csp_reports(page: Page) -> list[str]:
    """Console messages of refused content (the CSP blocking an inline script or style)."""
    reports: list[str] = []
    page.on("console", lambda m: reports.append(m.text) if "Content Security" in m.text else None)
    return reports


def _sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/ui")
    expect(page.get_by_role("heading", name="Sign in to Stratoflow")).to_be_visible()
    assert _axe_violations(page) == []
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def _see_the_run_listed(page: Page, run_name: str, screenshots: Path) -> None:
    link = page.get_by_role("link", name=run_name)
    expect(link).to_be_visible(timeout=15_000)
    row = page.get_by_role("row").filter(has=link)
    expect(row).to_contain_text("ui-smoke")
    expect(row).to_contain_text("Completed")
    page.screenshot(path=str(screenshots / "smoke-runs.png"), full_page=True)
    assert _axe_violations(page) == []
    link.click()


def _see_the_run_page(page: Page, run_name: str, screenshots: Path) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text(run_name)
    timeline = page.get_by_role("img", name="Timeline of 2 task runs", exact=False)
    expect(timeline).to_be_visible()
    page.screenshot(path=str(screenshots / "smoke-run.png"), full_page=True)
    assert _axe_violations(page) == []


def test_sign_in_and_see_a_real_run(
    chromium: str, stack: ServerProcess, screenshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_name = _real_run(stack, monkeypatch)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            refused = _csp_reports(page)
            _sign_in(page, stack.url, stack.key)
            _see_the_run_listed(page, run_name, screenshots)
            _see_the_run_page(page, run_name, screenshots)
            assert refused == []
            assert page.evaluate("sessionStorage.getItem('stratoflow.api_key')") == stack.key
            assert page.evaluate("localStorage.length") == 0
        finally:
            browser.close()
    assert (screenshots / "smoke-runs.png").stat().st_size > 0


def test_a_refused_key_returns_to_sign_in(chromium: str, stack: ServerProcess) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            _sign_in(page, stack.url, "sf_not-a-key")
            expect(page.get_by_role("alert")).to_be_visible()
            assert page.evaluate("sessionStorage.length") == 0
            # A key that stops working (revoked, or tampered with) sends the user back.
            page.evaluate("sessionStorage.setItem('stratoflow.api_key', 'sf_revoked')")
            page.goto(f"{stack.url}/ui#/flows")
            expect(page.get_by_role("heading", name="Sign in to Stratoflow")).to_be_visible()
            assert page.evaluate("sessionStorage.length") == 0
        finally:
            browser.close()


def test_deployments_show_the_schedule_in_words_and_run_now(
    chromium: str, stack: ServerProcess, screenshots: Path
) -> None:
    client = stack.client()
    flow_ = client.create_flow(FlowCreate(name="ui-nightly"))
    nightly = client.create_deployment(
        DeploymentCreate(
            flow_id=flow_.id,
            name="nightly",
            entrypoint="flows.py:nightly",
            parameters={"steps": 3},
            schedules=[DeploymentScheduleCreate(schedule=CronSchedule(cron="0 2 * * *"))],
        )
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            _sign_in(page, stack.url, stack.key)
            page.get_by_role("link", name="Deployments").click()
            card = page.get_by_role("article", name="ui-nightly/nightly")
            expect(card).to_contain_text("every day at 02:00 (UTC)")
            expect(card.get_by_role("status")).to_have_count(0)  # next runs loaded
            card.get_by_role("button", name="Run now…").click()
            page.screenshot(path=str(screenshots / "smoke-deployments.png"), full_page=True)
            assert _axe_violations(page) == []
            card.get_by_role("button", name="Run now", exact=True).click()
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            page.wait_for_url("**#/runs/*")
            page_url = page.url
        finally:
            browser.close()
    runs = client.list_flow_runs(FlowRunFilter(deployment_id=nightly.id)).items
    # The schedule's planned runs and the one Run now made, with the deployment's parameters.
    assert any(run.parameters == {"steps": 3} and str(run.id) in page_url for run in runs)
