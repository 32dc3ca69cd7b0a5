"""Time keys stay fixed-width and ordered for every year; out-of-range times are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from stratoflow.schemas.common import UtcTime
from stratoflow_functions.store.keys import parse_time, time_key

TIMES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(390, 11, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 12, 2, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
]


@pytest.mark.parametrize("when", TIMES)
def test_a_time_key_is_fixed_width_and_parses_back(when: datetime) -> None:
    key = time_key(when)
    assert len(key) == len("2026-12-02T00:00:00.000000Z")
    assert parse_time(key) == when


def test_time_keys_sort_as_the_times_do() -> None:
    assert sorted(TIMES, key=time_key) == TIMES


def test_a_naive_time_is_read_as_utc_and_an_offset_one_is_converted() -> None:
    adapter = TypeAdapter(UtcTime)
    assert adapter.validate_python("2026-01-01T00:00:00") == datetime(2026, 1, 1, tzinfo=UTC)
    plus_two = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert adapter.validate_python(plus_two).tzinfo is UTC


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_time_outside_utc_range_is_a_validation_error(value: str) -> None:
    with pytest.raises(ValidationError, match="out of range in UTC"):
        TypeAdapter(UtcTime).validate_python(value)
