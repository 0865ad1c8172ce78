"""Staging tables of parallel PostGIS imports: abandoned ones are found by their token's time."""

import pytest
import sqlalchemy as sa

from gridwatch.store.staging import (
    ABANDONED_AFTER_S,
    drop_abandoned_stages,
    new_token,
    stage_table,
    token_began,
)
from gridwatch.store.transactional import Store

NOW = 1_790_000_000.0


def test_a_token_says_when_its_import_began() -> None:
    token = new_token(now=NOW)
    assert token_began(token) == NOW
    assert token != new_token(now=NOW)  # the random part
    assert token_began("a1b2c3d4e5f6") is None  # a token of before: it does not say
    assert token_began("zzzzzzzz00000000") is None


@pytest.mark.parametrize("store_url", ["postgis"], indirect=True)
def test_only_the_tables_of_imports_begun_long_ago_are_dropped(store_url: str) -> None:
    old = new_token(now=NOW - ABANDONED_AFTER_S - 60)
    recent = new_token(now=NOW - 60)
    undated = "a1b2c3d4e5f6"
    names = [stage_table(old, 0), stage_table(old, 1), stage_table(recent, 0),
             stage_table(undated, 0), "gw_stageless"]
    with Store(store_url) as store:
        with store.engine.begin() as conn:
            for name in names:
                conn.execute(sa.text(f'CREATE UNLOGGED TABLE "{name}" (issue_id text)'))
        dropped = drop_abandoned_stages(store, now=NOW)
        with store.engine.connect() as conn:
            left = set(sa.inspect(conn).get_table_names(schema=store.schema))
    assert sorted(dropped) == sorted(names[:2])
    assert set(names[2:]) <= left and not set(names[:2]) & left
