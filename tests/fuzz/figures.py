"""A pytest plugin (listed in tests/conftest.py, so the xdist controller loads it too) that
prints the fuzzer's figures at the end of the session, from the reports' user properties."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    figures = [
        (report.nodeid, value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "fuzz_figures"
    ]
    if figures:
        terminalreporter.section("API fuzzing (schemathesis)")
        for nodeid, value in figures:
            terminalreporter.write_line(f"{nodeid}: {value}")
