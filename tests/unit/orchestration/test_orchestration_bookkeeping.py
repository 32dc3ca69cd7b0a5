"""Bookkeeping: run counts, start and end times after a state change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stratoflow.orchestration import Bookkeeping, bookkeeping
from stratoflow.schemas import TERMINAL_STATE_TYPES, StateType
from tests.unit.orchestration.orchestration_support import NOW, state


@pytest.mark.parametrize("previous", [None, StateType.PENDING, StateType.SCHEDULED])
def test_first_entry_into_running_counts_and_sets_start_time(previous: StateType | None) -> None:
    books = bookkeeping(
        None if previous is None else state(previous), state(StateType.RUNNING), 0, NOW
    )
    assert books == Bookkeeping(run_count=1, start_time=NOW)


def test_later_attempt_counts_but_keeps_the_first_start_time() -> None:
    retrying = state(StateType.RUNNING, "Retrying")
    books = bookkeeping(state(StateType.SCHEDULED, "AwaitingRetry"), retrying, 1, NOW)
    assert books.run_count == 2
    assert books.start_time is None


def test_resuming_a_paused_run_is_not_a_new_attempt() -> None:
    books = bookkeeping(state(StateType.PAUSED), state(StateType.RUNNING), 1, NOW)
    assert books == Bookkeeping(run_count=1)


def test_running_to_running_is_not_a_new_attempt() -> None:
    books = bookkeeping(state(StateType.RUNNING), state(StateType.RUNNING, "Retrying"), 1, NOW)
    assert books.run_count == 1


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATE_TYPES))
def test_entering_a_terminal_state_sets_end_time(terminal: StateType) -> None:
    later = NOW + timedelta(minutes=5)
    books = bookkeeping(state(StateType.RUNNING), state(terminal), 1, later)
    assert books == Bookkeeping(run_count=1, end_time=later)


def test_run_created_finished_gets_an_end_time_but_no_attempt() -> None:
    books = bookkeeping(None, state(StateType.COMPLETED, "Cached"), 0, NOW)
    assert books == Bookkeeping(run_count=0, end_time=NOW)


def test_leaving_a_terminal_state_clears_end_time() -> None:
    retry = state(StateType.SCHEDULED, "AwaitingRetry", scheduled_time=NOW)
    books = bookkeeping(state(StateType.CRASHED), retry, 1, NOW)
    assert books == Bookkeeping(run_count=1, clears_end_time=True)


def test_non_terminal_moves_change_no_times() -> None:
    books = bookkeeping(state(StateType.SCHEDULED), state(StateType.PENDING), 0, NOW)
    assert books == Bookkeeping(run_count=0)
