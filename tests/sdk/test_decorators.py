"""The decorators: both forms, options, versions from source, validation of options."""

from __future__ import annotations

import pytest

from stratoflow import Flow, Task, flow, task, unmapped
from stratoflow.exceptions import MissingContextError
from stratoflow.flows import default_flow_name
from stratoflow.runtime import LocalOrchestrator, RuntimeConfig


def test_task_decorator_works_with_and_without_parentheses() -> None:
    @task
    def plain(x: int) -> int:
        return x

    @task(name="renamed", retries=1, tags=["a"])
    def configured(x: int) -> int:
        return x

    assert isinstance(plain, Task)
    assert (plain.name, configured.name, configured.retries, configured.tags) == (
        "plain", "renamed", 1, ("a",),
    )  # fmt: skip
    assert plain(3) == 3  # outside a flow a task is a plain call
    assert plain.__doc__ is None
    assert plain.__name__ == "plain"


def test_flow_version_defaults_to_a_hash_of_the_source() -> None:
    def one() -> int:
        return 1

    def two() -> int:
        return 2

    assert flow(one).version != flow(two).version
    assert flow(one).version == flow(one).version
    assert flow(version="2024.06.1")(one).version == "2024.06.1"


def test_flow_name_defaults_to_dashed_function_name() -> None:
    def nightly_etl() -> None:
        return None

    assert default_flow_name(nightly_etl) == "nightly-etl"
    assert isinstance(flow(nightly_etl), Flow)
    with pytest.raises(ValueError, match="invalid flow name"):
        flow(name="bad/name")(nightly_etl)


def test_invalid_options_are_rejected_at_decoration() -> None:
    def fn() -> None:
        return None

    with pytest.raises(ValueError, match="retries"):
        task(retries=-1)(fn)
    with pytest.raises(ValueError, match="timeout"):
        flow(timeout_seconds=0)(fn)
    with pytest.raises(ValueError, match="task_concurrency"):
        flow(task_concurrency=0)(fn)


def test_async_functions_are_rejected_with_a_clear_message() -> None:
    async def coro() -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        task(coro)


def test_submit_outside_a_flow_is_a_missing_context_error() -> None:
    @task
    def t() -> None:
        return None

    with pytest.raises(MissingContextError):
        t.submit()


def test_map_passes_unmapped_and_non_iterable_arguments_whole(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    @task
    def combine(x: int, factor: int, extra: list[int]) -> int:
        return x * factor + sum(extra)

    @flow
    def mapper() -> list[int]:
        return [f.result() for f in combine.map([1, 2, 3], factor=10, extra=unmapped([1, 1]))]

    assert mapper() == [12, 22, 32]


def test_map_with_unequal_lengths_is_a_value_error(
    local: LocalOrchestrator, runtime: RuntimeConfig
) -> None:
    @task
    def pair(a: int, b: int) -> int:
        return a + b

    @flow
    def unequal() -> None:
        pair.map([1, 2], [1])

    with pytest.raises(ValueError, match="different lengths"):
        unequal()


def test_with_options_returns_a_changed_copy() -> None:
    @task(retries=1)
    def base() -> None:
        return None

    changed = base.with_options(retries=5)
    assert (base.retries, changed.retries, changed.name) == (1, 5, "base")
