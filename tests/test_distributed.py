"""--engine dask: the Dask path gives exactly the single-machine results, on a LocalCluster of 2
worker processes started once for the module (dashboard off, localhost only)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwatch.distributed.partition import balanced_groups, hilbert_keys, hilbert_partitions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    import sys
    import types

    from distributed import Client, LocalCluster

    # Worker processes are spawned, and spawning imports the parent's __main__ by its file:
    # after the app's AppTest runs in this process, that is app.py (Streamlit leaves its
    # script as __main__). Start the workers with a bare __main__ instead.
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                               dashboard_address=None, host="127.0.0.1")
    finally:
        sys.modules["__main__"] = main
    with Client(cluster) as connected:
        yield connected
    cluster.close()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory):
    """A small demo city (5,000 problems, with enterprises, a petition batch and a campaign)
    in a SQLite store: its history of daily exports in
    one import, then its last 7 daily snapshots one by one (do not write to its store)."""
    import json

    from helpers import sqlite_url

    from gridwatch.config import load_config
    from gridwatch.demo import generate
    from gridwatch.pipeline import run_ingest
    from gridwatch.placing.layers import load_layers
    from gridwatch.store.transactional import Store

    folder = tmp_path_factory.mktemp("dask_city")
    # 90 days: the demo's petition batch (75 days before the end) is in the store too
    paths = generate(folder / "city", problems=5000, scale=0.03, days=90)
    config = load_config(paths.config)
    layers = load_layers(config)
    url = sqlite_url(folder / "store.sqlite")
    history = [f for files, _ in paths.runs[:-7] for f in files]
    with Store(url) as store:
        run_ingest(history, config=config, store=store, layers=layers,
                   observed_at=paths.runs[-8][1])
        for files, when in paths.runs[-7:]:
            run_ingest(files, config=config, store=store, layers=layers, observed_at=when)
        issues = store.issues()
    return {"config": config, "config_path": paths.config, "layers": layers, "url": url,
            "issues": issues, "runs": paths.runs, "exports": paths.exports,
            "planted": json.loads(paths.planted.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def records(city):
    from gridwatch.ingest.records import read_issues

    config = city["config"]
    return read_issues(city["exports"], settings=config.input,
                       timezone=config.territory.timezone).records


# --- partitions ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), max_size=60),
       st.integers(1, 7))
def test_hilbert_partitions_cover_every_row_once(points, parts):
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    if len(x):
        x[:: 5] = np.nan  # rows without coordinates go somewhere too
    chunks = hilbert_partitions(x, y, parts)
    joined = np.concatenate(chunks) if chunks else np.array([], dtype=int)
    assert sorted(joined.tolist()) == list(range(len(x)))
    assert len(chunks) <= parts


def test_hilbert_keys_follow_the_curve():
    # order 2 (4 x 4 cells): consecutive keys are neighbouring cells, every cell once
    ix, iy = np.meshgrid(np.arange(4.0), np.arange(4.0))
    keys = hilbert_keys(ix.ravel(), iy.ravel(), order=2)
    assert sorted(keys.tolist()) == list(range(16))
    cells = np.column_stack((ix.ravel(), iy.ravel()))[np.argsort(keys)]
    steps = np.abs(np.diff(cells, axis=0)).sum(axis=1)
    assert (steps == 1).all()


def test_balanced_groups_keep_groups_whole():
    keys = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 25 + [None] * 5, dtype="str")
    groups = balanced_groups(keys, 2)
    flat = [k for g in groups for k in g]
    assert sorted(flat, key=str) == sorted(["a", "b", "c", None], key=str)
    loads = [sum(int((keys == k).sum()) if k else int(keys.isna().sum()) for k in g)
             for g in groups]
    assert max(loads) - min(loads) <= 50  # the largest group alone, the rest together


# --- placing ------------------------------------------------------------------------------


def test_placement_equals_the_single_machine_path(client, city, records):
    from gridwatch.distributed.ingest import DaskPlacement, place_records_dask
    from gridwatch.placing.assign import place_records

    placed, rejects = place_records(records, city["layers"], city["config"])
    report = DaskPlacement()
    got, got_rejects = place_records_dask(records, city["layers"], city["config"],
                                          client=client, partitions=5, report=report)
    pd.testing.assert_frame_equal(got, placed, check_exact=True)
    pd.testing.assert_frame_equal(got_rejects, rejects, check_exact=True)
    assert report.partitions == 5 and sum(report.rows) == len(records)
    assert len(set(report.workers)) == 2  # both workers placed partitions
    assert report.scattered_bytes > 0 and report.gathered_bytes > 0


def _ingest_runs(url, city, runs, *, client=None, kernel=None):
    from gridwatch.distributed.ingest import run_ingest_dask
    from gridwatch.pipeline import run_ingest
    from gridwatch.store.transactional import Store

    with Store(url) as store:
        for files, when in city["runs"][runs]:
            if client is None:
                run_ingest(files, config=city["config"], store=store, layers=city["layers"],
                           observed_at=when)
            else:
                extra = {"kernel": kernel} if kernel is not None else {}
                run_ingest_dask(files, config=city["config"], store=store, client=client,
                                layers=city["layers"], observed_at=when, partitions=3, **extra)


def _stored(url):
    from gridwatch.store.transactional import Store

    with Store(url) as store:
        issues = store.issues().sort_values("issue_id", ignore_index=True)
        history = store.history()
        runs = store.runs()
    keep = [c for c in ("run_id", "rows_in", "accepted", "rejected", "inserted", "updated",
                        "unchanged", "status_changes", "ok") if c in runs]
    return issues, history.drop(columns=["id"], errors="ignore"), runs[keep]


def _staging_tables(url):
    """The staging tables left in the store's schema (PostgreSQL)."""
    import sqlalchemy as sa

    from gridwatch.store.transactional import Store

    with Store(url) as store:
        if not store.postgis:
            return []
        with store.engine.connect() as conn:
            names = sa.inspect(conn).get_table_names(schema=store.schema)
    return [name for name in names if name.startswith("gw_stage_")]


def test_dask_import_stores_what_the_single_machine_import_stores(client, city, store_url,
                                                                    tmp_path):
    from helpers import sqlite_url

    from gridwatch.store.transactional import Store

    single = sqlite_url(tmp_path / "single.sqlite")
    _ingest_runs(single, city, slice(0, 3))
    # on PostGIS the workers copy their partitions into staging tables, in parallel
    _ingest_runs(store_url, city, slice(0, 3), client=client)
    want, got = _stored(single), _stored(store_url)
    for a, b in zip(got, want, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert _staging_tables(store_url) == []
    with Store(single) as one, Store(store_url) as other:  # the copy refreshed after each run
        pd.testing.assert_frame_equal(other.analytical()[0], one.analytical()[0])


def test_a_worker_that_fails_leaves_the_store_as_before(client, city, store_url):
    from gridwatch.errors import GridwatchError
    from gridwatch.placing.assign import place_records
    from gridwatch.store.transactional import Store

    _ingest_runs(store_url, city, slice(0, 1))
    before = _stored(store_url)
    with Store(store_url) as store:
        copy_before = store.analytical()[0]

    def kernel(part, layers, config, *, area=None):
        # runs on a worker: the partition holding the first row fails, the others succeed
        if 0 in part.index:
            raise ValueError("bad partition")
        return place_records(part, layers, config, area=area)

    with pytest.raises(GridwatchError, match="bad partition") as failed:
        _ingest_runs(store_url, city, slice(1, 2), client=client, kernel=kernel)
    assert "nothing was stored" in str(failed.value)
    after = _stored(store_url)
    for a, b in zip(after, before, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    with Store(store_url) as store:
        pd.testing.assert_frame_equal(store.analytical()[0], copy_before)
    # the partitions that did succeed staged their rows: those tables are gone too
    assert _staging_tables(store_url) == []


@pytest.mark.parametrize("store_url", ["postgis"], indirect=True)
def test_workers_stage_their_partitions_in_the_store(client, city, records, store_url):
    import sqlalchemy as sa

    from gridwatch.distributed.ingest import StageTarget, stage_records_dask
    from gridwatch.placing.assign import place_records
    from gridwatch.store.staging import drop_stages, new_token
    from gridwatch.store.transactional import Store

    want, want_rejects = place_records(records, city["layers"], city["config"])
    target = StageTarget(url=store_url, token=new_token(),
                         layers=[spec.name for spec in city["config"].layers])
    placed, rejects, staged = stage_records_dask(records, city["layers"], city["config"],
                                                 client=client, stage=target, partitions=3)
    pd.testing.assert_frame_equal(rejects, want_rejects, check_exact=True)
    # only what the run's summary reads came back, in the input order
    assert list(placed.columns) == ["issue_id", "location_flag", "grid_mismatch",
                                    *(f"{name}_id" for name in target.layers)]
    pd.testing.assert_frame_equal(placed, want[list(placed.columns)], check_exact=True)
    assert staged.ids == placed["issue_id"].astype(str).tolist()
    tables = _staging_tables(store_url)
    assert sorted(tables) == sorted(staged.tables) and len(tables) == 3
    with Store(store_url) as store:
        with store.engine.connect() as conn:
            counted = sum(conn.execute(sa.text(f'SELECT count(*) FROM "{name}"'))
                          .scalar_one() for name in tables)
        dropped = drop_stages(store, target.token)
    assert counted == len(want) and sorted(dropped) == sorted(tables)
    assert _staging_tables(store_url) == []


@pytest.mark.parametrize("store_url", ["postgis"], indirect=True)
def test_a_staged_import_that_fails_in_its_transaction_leaves_the_store_as_before(
        client, city, store_url):
    from gridwatch.errors import StoreError
    from gridwatch.placing.assign import place_records
    from gridwatch.store.transactional import Store

    _ingest_runs(store_url, city, slice(0, 1))
    issues, history, runs = _stored(store_url)
    with Store(store_url) as store:
        copy_before = store.analytical()[0]

    def kernel(part, layers, config, *, area=None):
        # runs on a worker: every partition stages; one row breaks the store's status check,
        # which only the import's upsert from the staging tables meets
        placed, rejects = place_records(part, layers, config, area=area)
        if 0 in part.index:
            placed.loc[placed.index[0], "status"] = "not-a-status"
        return placed, rejects

    with pytest.raises(StoreError, match="rolled back"):
        _ingest_runs(store_url, city, slice(1, 2), client=client, kernel=kernel)
    after_issues, after_history, after_runs = _stored(store_url)
    pd.testing.assert_frame_equal(after_issues, issues, check_exact=True)
    pd.testing.assert_frame_equal(after_history, history, check_exact=True)
    # the failed run is recorded, as for any import that fails in the store
    pd.testing.assert_frame_equal(after_runs.iloc[:len(runs)], runs, check_exact=True)
    assert not after_runs["ok"].iloc[-1]
    with Store(store_url) as store:
        pd.testing.assert_frame_equal(store.analytical()[0], copy_before)
    assert _staging_tables(store_url) == []


# --- the questions ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context(city):
    from gridwatch.supervision.context import open_context

    return open_context(city["config"], city["url"])


@pytest.fixture(scope="module")
def source(context, city):
    from gridwatch.distributed.questions import StoreSource

    return StoreSource(config=city["config"], db_url=city["url"], run_id=context.run_id)


@pytest.mark.parametrize("layer", ["county", "town", "grid", "microgrid", "basin"])
def test_status_equals_the_single_machine_path(client, context, source, layer):
    from gridwatch.distributed.questions import status_dask

    for day in (context.last_export, context.last_export - dt.timedelta(days=30)):
        want = context.status(day, layer=layer)
        got = status_dask(context, day, layer=layer, client=client, source=source,
                          partitions=3)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert want["red"].sum() > 0 and want["new"].sum() > 0  # figures that can differ


@pytest.mark.parametrize("layer", ["town", "grid"])
def test_league_equals_the_single_machine_path(client, context, source, layer):
    from gridwatch.distributed.questions import league_dask

    year, week, _ = (context.last_export - dt.timedelta(days=7)).isocalendar()
    label = f"{year}-W{week:02d}"
    want = context.league(label, layer=layer)
    got = league_dask(context, label, layer=layer, client=client, source=source)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.mark.parametrize("variable", ["overdue", "new", "overdue_rate"])
def test_gistar_equals_the_single_machine_path(client, context, source, variable):
    from gridwatch.distributed.questions import hotspots_dask

    want = context.hotspots(layer="grid", method="gistar", variable=variable)
    got = hotspots_dask(context, layer="grid", client=client, source=source,
                        variable=variable, partitions=4)
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(want.drop(columns="geometry")), check_exact=True)
    assert got.attrs == want.attrs
    assert (np.abs(want["z"]) > 1.96).any()


def test_gistar_with_a_halo_equals_the_whole_matrix(client, tmp_path):
    from gridwatch.distributed.questions import gi_star_dask, gi_star_z_dask, halo_partitions
    from gridwatch.hotspots.gistar import gi_star_pseudo_p, gi_star_z

    x, y, matrix, rng = _scattered_areas()
    n = len(x)
    values = rng.poisson(3.0, n).astype(float) + rng.random(n)
    parts = hilbert_partitions(x, y, 6)
    pieces = halo_partitions(matrix, parts)
    assert any(len(local) > len(core) for core, (local, _) in zip(parts, pieces, strict=True))
    got = gi_star_z_dask(values, matrix, (x, y), client=client, partitions=6)
    np.testing.assert_array_equal(got, gi_star_z(values, matrix))
    assert (np.diff(matrix.indptr) == 0).any()  # islands too
    z, p_sim = gi_star_dask(values, matrix, (x, y), client=client, partitions=6,
                            permutations=99, seed=11, cache_dir=tmp_path)
    np.testing.assert_array_equal(z, gi_star_z(values, matrix))
    np.testing.assert_array_equal(p_sim, gi_star_pseudo_p(values, matrix, permutations=99,
                                                          seed=11, cache_dir=tmp_path))


@pytest.mark.parametrize("layer", [None, "grid"])
def test_review_equals_the_single_machine_path(client, context, source, layer):
    from gridwatch.distributed.questions import review_dask

    last = context.last_export
    before = last.replace(day=1) - dt.timedelta(days=1)
    for month in (f"{last:%Y-%m}", f"{before:%Y-%m}"):
        want = context.review(month, layer=layer)
        got = review_dask(context, month, layer=layer, client=client, source=source,
                          partitions=3)
        assert list(got) == list(want)
        for name, table in want.items():
            pd.testing.assert_frame_equal(got[name], table, check_exact=True, obj=name)
    # the sections read the month-end evaluation gathered from the workers: all are there
    assert {"petitions", "repeat_offenders", "campaigns"} <= set(want)
    assert want["petitions"]["repeated"].sum() > 0 and want["by_area"]["red"].sum() > 0


def test_review_sections_read_only_their_rows(context):
    from dataclasses import replace

    from gridwatch.enterprises._settings import EnterpriseSettings
    from gridwatch.enterprises.review import review_sections, section_rows

    rows = section_rows(context)
    assert 0 < rows.sum() < len(rows)
    month = f"{context.last_export:%Y-%m}"
    want = review_sections(context, month)
    got = review_sections(context.restrict(rows), month)
    assert list(got) == list(want)
    for name, table in want.items():
        pd.testing.assert_frame_equal(got[name], table, check_exact=True, obj=name)
    # rebounds at enterprises with their own window may follow any problem: every row
    other = replace(context, settings=replace(
        context.settings, enterprises=EnterpriseSettings(days=7.0)), _memo={})
    assert section_rows(other).all()


def _scattered_areas(n: int = 400):
    """Areas at random points with the neighbours within 1 of each, three far ones islands."""
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 10, n), rng.uniform(0, 10, n)
    x[:3] = [30.0, 40.0, 50.0]
    near = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) < 1.0
    np.fill_diagonal(near, False)
    return x, y, sp.csr_matrix(near.astype(float)), rng


@pytest.mark.parametrize("scope", ["period", "cube"])
def test_emerging_with_a_halo_equals_the_whole_cube(client, scope):
    from gridwatch.distributed.emerging import space_time_gi_star_dask
    from gridwatch.distributed.questions import halo_partitions
    from gridwatch.hotspots.emerging import classify_emerging, space_time_gi_star

    x, y, matrix, rng = _scattered_areas()
    # fractions: a sum in another order would differ in its last bits
    cube = rng.poisson(2.0, (len(x), 9)).astype(float) + rng.random((len(x), 9))
    parts = hilbert_partitions(x, y, 6)
    halos = [len(local) - len(core)
             for core, (local, _) in zip(parts, halo_partitions(matrix, parts), strict=True)]
    assert sum(halos) > len(x) // 4  # many areas have neighbours in other partitions
    for time_lag, fdr in ((0, False), (1, True), (2, False)):
        z, p = space_time_gi_star(cube, matrix, time_lag=time_lag, scope=scope)
        categories, trend_z, trend_p = classify_emerging(z, p, fdr=fdr)
        got = space_time_gi_star_dask(cube, matrix, (x, y), client=client, partitions=6,
                                      time_lag=time_lag, scope=scope, fdr=fdr)
        for a, b in zip(got, (z, p, categories, trend_z, trend_p), strict=True):
            np.testing.assert_array_equal(a, b)
    assert len(set(categories)) > 3


@pytest.mark.parametrize(("variable", "period"), [("new", "week"), ("overdue_rate", "month")])
def test_emerging_equals_the_single_machine_path(client, context, source, variable, period):
    from gridwatch.distributed.emerging import period_counts_dask
    from gridwatch.distributed.questions import hotspots_dask
    from gridwatch.hotspots._run import period_counts

    areas = context.areas("grid")
    want = period_counts(context, layer="grid", as_of=context.last_export, period=period,
                         periods=8, variable=variable, areas=areas)
    got = period_counts_dask(context, client=client, source=source, layer="grid",
                             as_of=context.last_export, period=period, periods=8,
                             variable=variable, areas=areas, partitions=3)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    want = context.hotspots(layer="grid", method="emerging", variable=variable, period=period)
    got = hotspots_dask(context, layer="grid", method="emerging", variable=variable,
                        period=period, client=client, source=source, partitions=4)
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(want.drop(columns="geometry")), check_exact=True)
    assert got.attrs == want.attrs
    assert (want["category"] != "no_pattern").sum() > 5


# --- the command line ---------------------------------------------------------------------


def test_cli_engine_dask_on_a_running_scheduler(client, city):
    from gridwatch.cli import main

    address = client.scheduler.address
    runner = CliRunner()
    base = ["--config", str(city["config_path"]), "--db", city["url"]]
    answers = {}
    for engine in (["--engine", "local"], ["--engine", "dask", "--scheduler", address]):
        result = runner.invoke(main, ["status", "--as-of", "2026-10-31", "--layer", "town",
                                      "--json", *engine, *base])
        assert result.exit_code == 0, result.output
        answers[engine[1]] = json.loads(result.stdout)
    assert answers["dask"] == answers["local"]


def test_cli_ingest_engine_dask(client, city, tmp_path):
    from helpers import sqlite_url

    from gridwatch.cli import main

    files, _ = city["runs"][0]
    runner = CliRunner()
    summaries = {}
    for engine in (["--engine", "local"],
                   ["--engine", "dask", "--scheduler", client.scheduler.address]):
        url = sqlite_url(tmp_path / f"{engine[1]}.sqlite")
        result = runner.invoke(main, ["ingest", *map(str, files), "--config",
                                      str(city["config_path"]), "--db", url, "--json", *engine])
        assert result.exit_code == 0, result.output
        summaries[engine[1]] = json.loads(result.stdout)
    assert summaries["dask"] == summaries["local"]
    assert summaries["dask"]["accepted"] > 0


def test_cli_scheduler_needs_engine_dask(city):
    from gridwatch.cli import main

    result = CliRunner().invoke(main, ["status", "--as-of", "2026-10-31", "--layer", "town",
                                       "--scheduler", "tcp://127.0.0.1:1", "--config",
                                       str(city["config_path"]), "--db", city["url"]])
    assert result.exit_code == 1
    assert "--engine dask" in result.output


@pytest.mark.parametrize("command", [["status", "--as-of", "2026-10-31"],
                                     ["league", "--week", "2026-W43"]])
def test_cli_by_unit_refuses_engine_dask_before_starting_a_cluster(city, command):
    from gridwatch.cli import main

    # no --scheduler: a cluster would be started if the refusal came after it
    result = CliRunner().invoke(main, [*command, "--by", "unit", "--engine", "dask",
                                       "--config", str(city["config_path"]),
                                       "--db", city["url"]])
    assert result.exit_code == 1
    assert "--by unit is not supported with --engine dask" in result.output


def test_cli_review_engine_dask_writes_the_same_files(client, city, tmp_path):
    from gridwatch.cli import main

    month = f"{city['issues']['reported_at'].max().tz_convert('Asia/Shanghai'):%Y-%m}"
    runner = CliRunner()
    written = {}
    for engine in (["--engine", "local"],
                   ["--engine", "dask", "--scheduler", client.scheduler.address]):
        out = tmp_path / engine[1] / "review.xlsx"
        out.parent.mkdir()
        result = runner.invoke(main, ["review", "--month", month, "--out", str(out),
                                      "--config", str(city["config_path"]),
                                      "--db", city["url"], *engine])
        assert result.exit_code == 0, result.output
        written[engine[1]] = out
    local, dask = written["local"], written["dask"]
    for suffix in (".md", ".html"):
        assert dask.with_suffix(suffix).read_text(encoding="utf-8") == \
            local.with_suffix(suffix).read_text(encoding="utf-8")
    want = pd.read_excel(local, sheet_name=None)
    got = pd.read_excel(dask, sheet_name=None)
    assert list(got) == list(want) and "petitions" in want
    for name, sheet in want.items():
        pd.testing.assert_frame_equal(got[name], sheet, check_exact=True, obj=name)


def test_cli_hotspots_emerging_engine_dask(client, city, tmp_path):
    from gridwatch.cli import main

    runner = CliRunner()
    base = ["hotspots", "--layer", "grid", "--method", "emerging", "--json", "--config",
            str(city["config_path"]), "--db", city["url"]]
    answers, layers = {}, {}
    for engine in (["--engine", "local"],
                   ["--engine", "dask", "--scheduler", client.scheduler.address]):
        out = tmp_path / f"{engine[1]}.csv"
        result = runner.invoke(main, [*base, "--out", str(out), *engine])
        assert result.exit_code == 0, result.output
        answers[engine[1]] = json.loads(result.stdout)
        layers[engine[1]] = pd.read_csv(out)
        answers[engine[1]].pop("out")
    assert answers["dask"] == answers["local"]
    pd.testing.assert_frame_equal(layers["dask"], layers["local"], check_exact=True)
    refused = runner.invoke(main, [*base[:3], "--method", "rule", "--engine", "dask",
                                   *base[6:]])
    assert refused.exit_code == 1
    assert "--method rule does not run with --engine dask" in refused.output
