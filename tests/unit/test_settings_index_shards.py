"""`index_shards` comes from STRATOFLOW_INDEX_SHARDS, and a count no table can use is refused at
load, naming the setting (a Lambda then fails its cold start with that message)."""

from __future__ import annotations

import pytest

from stratoflow_functions.config import MAX_INDEX_SHARDS, Settings, load_settings


def test_the_shard_count_is_read_from_the_environment() -> None:
    assert load_settings({"STRATOFLOW_INDEX_SHARDS": "16"}).index_shards == 16
    assert load_settings({}).index_shards == Settings().index_shards


@pytest.mark.parametrize("count", ["0", "-1", str(MAX_INDEX_SHARDS + 1)])
def test_a_shard_count_outside_the_range_is_refused(count: str) -> None:
    with pytest.raises(ValueError, match="index_shards must be"):
        load_settings({"STRATOFLOW_INDEX_SHARDS": count})
