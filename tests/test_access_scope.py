"""A county user gets nothing from another county: every library entry point, every CLI
command with ``--as-user`` and every export format, on SQLite and on PostGIS.

The check is the same everywhere: the ids of the problems outside the scope, and of the
towns, grids and micro-grids of other counties, must not appear in any answer or file. The
same checks run on the unscoped answers find those ids (so the check can fail).
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import postgis_schema, sqlite_url

from gridwatch.access import SIGN_IN_REFUSED, Scope, add_user
from gridwatch.cli import main
from gridwatch.output.files import export_issues, write_layer
from gridwatch.output.open311 import write_open311
from gridwatch.store import Store
from gridwatch.supervision.context import SupervisionContext, open_context
from gridwatch.supervision.league import write_league
from gridwatch.supervision.remind import write_reminders
from gridwatch.supervision.review import write_review

PASSWORD = "county-password"
NESTED = ("county", "town", "grid", "microgrid")
_TOKEN = re.compile(r"[A-Za-z0-9_]+")


# --- the city, stored on both backends --------------------------------------------------------

@pytest.fixture(scope="module")
def city_files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from gridwatch.demo import generate

    return generate(tmp_path_factory.mktemp("city") / "city", problems=3000, scale=0.02,
                    days=120)


def _ingest(paths: Any, url: str) -> None:
    from gridwatch.config import load_config
    from gridwatch.pipeline import run_ingest
    from gridwatch.placing.layers import load_layers

    config = load_config(paths.config)
    layers = load_layers(config)
    with Store(url) as store:
        for files, when in paths.runs:
            run_ingest(files, config=config, store=store, layers=layers, observed_at=when)
        add_user(store, "county_a", role="supervisor", scope=Scope.parse(f"county:{COUNTY}"),
                 password=PASSWORD, actor="test")
        add_user(store, "viewer_a", role="viewer", scope=Scope.parse(f"county:{COUNTY}"),
                 password=PASSWORD, actor="test")


COUNTY = "330402"  # 南湖区


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def city(request: pytest.FixtureRequest, city_files: Any,
         tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo city in a store of each backend: (config path, store URL)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("sqlite") / "store.sqlite")
        _ingest(city_files, url)
        yield city_files.config, url
        return
    from conftest import POSTGIS_URL, _postgis_reachable

    reason = _postgis_reachable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    cache = tmp_path_factory.mktemp("xdg")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)  # the copy of this schema only
    try:
        with postgis_schema(POSTGIS_URL) as url:
            _ingest(city_files, url)
            yield city_files.config, url
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="module")
def contexts(city: Any) -> tuple[SupervisionContext, SupervisionContext]:
    from gridwatch.config import load_config

    config = load_config(city[0])
    full = open_context(config, city[1])
    return full, full.scoped(Scope.parse(f"county:{COUNTY}"))


@pytest.fixture(scope="module")
def forbidden(contexts: tuple[SupervisionContext, SupervisionContext]) -> set[str]:
    """Ids that must not appear in a county user's answers: problems outside the county,
    areas of the nested layers (towns, grids, micro-grids, other counties) outside it, but
    what the county's own problems say."""
    full, _ = contexts
    issues = full.issues
    outside = (issues["county_id"].astype(str) != COUNTY).to_numpy()
    assert 0 < outside.sum() < len(issues)
    ids = set(issues.loc[outside, "issue_id"].astype(str))
    for layer in NESTED:
        ids |= set(issues.loc[outside, f"{layer}_id"].dropna().astype(str))
    # what the county's own problems say (a reported grid may name another county's)
    return ids - tokens(issues.loc[~outside])


# --- what an answer or a file says ------------------------------------------------------------

def tokens(value: Any) -> set[str]:
    """Every word in a value: frames (cells and index), mappings, sequences, text."""
    if isinstance(value, pd.DataFrame | pd.Series):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        frame = pd.DataFrame(frame.drop(columns=[c for c in frame.columns
                                                 if str(frame[c].dtype) == "geometry"]))
        out = tokens(" ".join(map(str, frame.columns)))
        for column in frame.columns:
            values = frame[column].dropna()
            if values.dtype == object:  # arrays in cells (milestones)
                values = values.map(str)
            out |= tokens(" ".join(map(str, values.unique())))
        return out
    if isinstance(value, dict):
        return set().union(*(tokens(k) | tokens(v) for k, v in value.items())) \
            if value else set()
    if isinstance(value, list | tuple | set):
        return set().union(*(tokens(v) for v in value)) if value else set()
    return set(_TOKEN.findall(str(value)))


def file_tokens(path: Path) -> set[str]:
    """Every word in a written file, read by its format."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        return tokens([[cell for cell in row if cell is not None]
                       for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)])
    if suffix == ".gpkg":
        import pyogrio

        return set().union(*(tokens(gpd.read_file(path, layer=name))
                             for name, _ in pyogrio.list_layers(path)))
    if suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            assert any(n.endswith(".shp") for n in archive.namelist())
        return tokens(gpd.read_file(f"zip://{path}"))
    return tokens(path.read_text(encoding="utf-8-sig"))


def _written(result: Any) -> list[Path]:
    return [Path(p) for p in (result if isinstance(result, list) else [result])]


# --- the library ------------------------------------------------------------------------------

def _entry_points(ctx: SupervisionContext, folder: Path) -> dict[str, Callable[[], Any]]:
    """Every question the library answers from a context, and every export format."""
    day = ctx.last_export
    assert day is not None
    week = f"{day.isocalendar().year}-W{day.isocalendar().week:02d}"
    month = f"{day:%Y-%m}"
    layers = [s.name for s in ctx.config.layers] if ctx.config else []
    out: dict[str, Callable[[], Any]] = {
        "issues": lambda: ctx.issues,
        "history": lambda: ctx.history,
        "evaluate": lambda: ctx.evaluate(day),
        "deadlines": lambda: ctx.deadlines,
        "rebounds": lambda: ctx.rebounds,
        "incidents": lambda: ctx.incidents,
        "reminders": lambda: ctx.reminders(day),
        "layers": lambda: {name: frame.drop(columns="geometry")
                           for name, frame in ctx.layers.items()},
        "restrict": lambda: ctx.restrict(ctx.counted()).status(day, layer="town"),
    }
    for layer in layers:
        out[f"status[{layer}]"] = lambda layer=layer: ctx.status(day, layer=layer)
        out[f"areas[{layer}]"] = lambda layer=layer: ctx.areas(layer)
        out[f"area_table[{layer}]"] = lambda layer=layer: ctx.area_table(layer)
    for layer in ("county", "town", "grid"):
        out[f"league[{layer}]"] = lambda layer=layer: ctx.league(week, layer=layer)
        out[f"review[{layer}]"] = lambda layer=layer: ctx.review(month, layer=layer)
    for method in ("rule", "gistar", "emerging"):
        out[f"hotspots[{method}]"] = lambda method=method: ctx.hotspots(layer="grid",
                                                                        method=method)
    out["hotspots[hex]"] = lambda: ctx.hotspots(layer=None, method="hex")
    for fmt in ("csv", "xlsx", "geojson", "gpkg", "kml", "shp"):
        out[f"export_issues[{fmt}]"] = lambda fmt=fmt: export_issues(
            ctx.issues, folder / f"issues.{'zip' if fmt == 'shp' else fmt}", format=fmt)
    out["open311"] = lambda: write_open311(ctx.issues, folder / "requests.json")
    out["write_league"] = lambda: write_league(ctx.league(week, layer="town"),
                                               folder / "league.xlsx")
    out["write_reminders"] = lambda: write_reminders(ctx.reminders(day), folder / "remind.xlsx")
    out["write_review"] = lambda: write_review(ctx.review(month, layer="town"),
                                               folder / "review.xlsx")
    for fmt in ("geojson", "gpkg", "kml", "csv"):
        out[f"write_layer[{fmt}]"] = lambda fmt=fmt: write_layer(
            ctx.hotspots(layer="grid", method="gistar"), folder / f"hot.{fmt}",
            style_column="bin")
    return out


def _said(name: str, answer: Any) -> set[str]:
    if isinstance(answer, Path | list) and answer and all(isinstance(p, Path)
                                                         for p in _written(answer)):
        return set().union(*(file_tokens(p) for p in _written(answer)))
    return tokens(answer)


def test_every_library_entry_point_stays_in_the_county(
        contexts: tuple[SupervisionContext, SupervisionContext], forbidden: set[str],
        tmp_path: Path) -> None:
    full, scoped = contexts
    assert set(scoped.issues["county_id"].astype(str)) == {COUNTY}
    leaks = {}
    control = {}
    for name, ask in _entry_points(scoped, tmp_path / "scoped").items():
        (tmp_path / "scoped").mkdir(exist_ok=True)
        leaks[name] = sorted(_said(name, ask()) & forbidden)[:5]
    for name, ask in _entry_points(full, tmp_path / "full").items():
        (tmp_path / "full").mkdir(exist_ok=True)
        control[name] = bool(_said(name, ask()) & forbidden)
    assert {k: v for k, v in leaks.items() if v} == {}
    # the check finds other counties' ids in the unscoped answers (so it can fail), but in
    # answers that hold no id of a problem or of a nested area: per-problem frames on the
    # problems' index (checked by their length below) and the basins' and redlines' areas
    quiet = {k for k, v in control.items() if not v}
    assert quiet <= {"evaluate", "deadlines", "areas[basin]", "areas[redline]",
                     "area_table[basin]", "area_table[redline]", "status[basin]",
                     "status[redline]", "hotspots[hex]"}, quiet
    day = scoped.last_export
    for layer in ("basin", "redline"):  # the same problems as the county's, grouped apart
        for column in ("open", "red", "new"):
            assert scoped.status(day, layer=layer)[column].sum() == \
                scoped.status(day, layer="county")[column].sum()
    assert scoped.hotspots(layer=None, method="hex")["value"].sum() == \
        scoped.status(day, layer="county")["red"].sum()
    for name in ("evaluate", "deadlines", "rebounds", "incidents"):
        ask = _entry_points(scoped, tmp_path)[name]
        assert len(ask()) == len(scoped.issues) < len(full.issues)
    basins = scoped.area_table("basin")["area_id"].astype(str)
    assert set(basins) == set(scoped.issues["basin_id"].dropna().astype(str))


def test_hotspots_use_no_neighbour_outside_the_scope(
        contexts: tuple[SupervisionContext, SupervisionContext]) -> None:
    full, scoped = contexts
    grids = scoped.issues["grid_id"].dropna().astype(str)
    result = scoped.hotspots(layer="grid", method="gistar")
    in_county = set(scoped.area_table("grid")["area_id"].astype(str))
    assert set(result["area_id"].astype(str)) == in_county
    assert set(grids) <= in_county
    whole = full.hotspots(layer="grid", method="gistar")
    assert len(whole) > len(result)  # the city's grids include the others


def test_scoped_evaluation_equals_the_city_s_rows(
        contexts: tuple[SupervisionContext, SupervisionContext]) -> None:
    """Scoping cuts rows; it does not change what each row says."""
    full, scoped = contexts
    day = full.last_export
    mask = (full.issues["county_id"].astype(str) == COUNTY).to_numpy()
    expected = full.evaluate(day).loc[mask]
    pd.testing.assert_frame_equal(scoped.evaluate(day), expected)
    stats = scoped.status(day, layer="county")
    city = full.status(day, layer="county")
    pd.testing.assert_frame_equal(
        stats.reset_index(drop=True),
        city.loc[city["area_id"] == COUNTY].reset_index(drop=True))
    events = full.events.subset(mask)
    again = type(events).__module__
    assert again == "gridwatch.supervision.events"
    from gridwatch.supervision.events import status_events

    rebuilt = status_events(full.issues.loc[mask, "issue_id"], full.history)
    for name in ("start", "time", "status", "last_close"):
        np.testing.assert_array_equal(getattr(events, name), getattr(rebuilt, name))


# --- the command line -------------------------------------------------------------------------

def _cli(args: Iterable[str], city: Any, user: str | None = "county_a") -> tuple[int, str]:
    full = [*args, "--config", str(city[0]), "--db", city[1]]
    if user is not None:
        full += ["--as-user", user]
    result = CliRunner().invoke(main, full, catch_exceptions=False)
    return result.exit_code, result.output


def _commands(folder: Path, day: str, week: str, month: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for layer in NESTED:
        out[f"status {layer}"] = ["status", "--as-of", day, "--layer", layer, "--json"]
    out["league"] = ["league", "--week", week, "--layer", "town"]
    out["league --out"] = ["league", "--week", week, "--layer", "grid", "--out",
                           str(folder / "league.csv")]
    out["remind"] = ["remind", "--as-of", day]
    out["remind --out"] = ["remind", "--as-of", day, "--out", str(folder / "remind.xlsx")]
    out["review"] = ["review", "--month", month, "--layer", "grid", "--out",
                     str(folder / "review.xlsx")]
    for method in ("rule", "gistar", "emerging"):
        out[f"hotspots {method}"] = ["hotspots", "--layer", "grid", "--method", method,
                                     "--json"]
    out["hotspots hex"] = ["hotspots", "--method", "hex", "--json"]
    for fmt in ("geojson", "gpkg", "kml", "csv", "zip"):
        out[f"hotspots --out {fmt}"] = ["hotspots", "--layer", "grid", "--out",
                                        str(folder / f"hot.{fmt}")]
    for fmt in ("csv", "xlsx", "geojson", "gpkg", "kml", "zip"):
        out[f"export issues {fmt}"] = ["export", "issues", "--out",
                                       str(folder / f"issues.{fmt}")]
    out["export open311"] = ["export", "open311", "--out", str(folder / "requests.json")]
    out["enterprises"] = ["enterprises", "--as-of", day, "--json"]
    out["enterprises --out"] = ["enterprises", "--as-of", day, "--out",
                                str(folder / "enterprises.xlsx")]
    out["petitions --list"] = ["petitions", "--as-of", day, "--list", "--json"]
    out["campaigns"] = ["campaigns", "--as-of", day, "--by", "town", "--json"]
    return out


def test_every_cli_command_as_a_county_user(city: Any, forbidden: set[str],
                                            contexts: Any, tmp_path: Path) -> None:
    full, _ = contexts
    day = full.last_export
    week = f"{day.isocalendar().year}-W{day.isocalendar().week:02d}"
    leaks, control, printed = {}, {}, {}
    for user, folder in (("county_a", tmp_path / "a"), (None, tmp_path / "admin")):
        folder.mkdir()
        for name, args in _commands(folder, str(day), week, f"{day:%Y-%m}").items():
            before = set(folder.iterdir())
            code, out = _cli(args, city, user)
            assert code == 0, (name, out)
            printed[name, user] = out
            said = tokens(out)
            for path in set(folder.iterdir()) - before:
                said |= file_tokens(path)
            if user is None:
                control[name] = bool(said & forbidden)
            else:
                leaks[name] = sorted(said & forbidden)[:5]
    assert {k: v for k, v in leaks.items() if v} == {}
    # the local administrator's answers show other counties' ids (so the check can fail);
    # the summaries that print counts only differ from the county user's instead
    quiet = {k for k, v in control.items() if not v}
    assert quiet <= {"remind", "hotspots rule", "hotspots gistar", "hotspots emerging",
                     "hotspots hex"}, quiet
    for name in quiet:
        assert printed[name, "county_a"] != printed[name, None], name


def test_a_field_plan_of_a_county_user_visits_only_the_county(
        city: Any, forbidden: set[str], contexts: Any, tmp_path: Path) -> None:
    _, scoped = contexts
    red = scoped.issues.iloc[0]
    start = f"{red['lon']},{red['lat']}"
    out = tmp_path / "plan"
    code, said = _cli(["plan", "--teams", "2", "--days", "1", "--start", start,
                       "--out", str(out)], city)
    assert code == 0, said
    checklists = sorted(out.rglob("*.xlsx"))
    assert checklists, said
    seen = set().union(*(file_tokens(path) for path in checklists))
    assert seen & set(scoped.issues["issue_id"].astype(str))  # the plan visits problems
    assert sorted(seen & forbidden)[:5] == []
    # packages carry the problems' descriptions: a viewer may not write them, a county user
    # may not bring field results back for problems of any area
    code, said = _cli(["plan", "--start", start, "--out", str(tmp_path / "v")], city, "viewer_a")
    assert code == 1 and "may not export" in said
    assert not (tmp_path / "v").exists()
    code, said = _cli(["plan", "results", str(checklists[0])], city)
    assert code == 1 and "whole territory" in said


def _commands_of(command: Any, path: tuple[str, ...] = ()) -> Iterable[tuple[str, Any]]:
    import click

    if isinstance(command, click.Group):
        if command.invoke_without_command:
            yield " ".join(path), command
        for name, sub in command.commands.items():
            yield from _commands_of(sub, (*path, name))
    else:
        yield " ".join(path), command


def test_every_command_that_opens_the_store_acts_as_a_user() -> None:
    """A command added later gets --as-user too: only building the demo (it makes the store
    and its first administrator) runs without one."""
    from gridwatch.cli import main

    missing = [name for name, command in _commands_of(main)
               if {"db_url"} <= {p.name for p in command.params}
               and "as_user" not in {p.name for p in command.params}]
    assert missing == ["demo"]


def test_the_ledger_and_the_gazetteer_are_refused_to_a_county_user(city: Any) -> None:
    for args in (["letters", "list", "--as-of", "2024-03-01"],
                 ["recheck", "summary", "--as-of", "2024-03-01"], ["gazetteer", "build"]):
        code, said = _cli(args, city)
        assert code == 1 and "whole territory" in said, (args, said)
    # progress and the backlog answer over the user's own problems (tests/test_ledger_scope.py)
    for args in (["progress", "--as-of", "2024-03-01"],
                 ["ledger", "backlog", "--as-of", "2024-03-01"]):
        code, said = _cli(args, city)
        assert code == 0, (args, said)
    code, said = _cli(["ledger", "import", str(Path(city[0]))], city, "viewer_a")
    assert code == 1 and "may not import" in said


def test_cli_exports_are_audited_with_scope_and_format(city: Any, tmp_path: Path) -> None:
    from gridwatch.access import audit_log

    code, out = _cli(["export", "issues", "--out", str(tmp_path / "x.gpkg")], city)
    assert code == 0, out
    with Store(city[1]) as store:
        last = audit_log(store, action="export", limit=1).iloc[-1]
    assert last["actor"] == "county_a"
    assert last["detail"]["scope"] == f"county:{COUNTY}"
    assert last["detail"]["format"] == "gpkg"
    assert last["detail"]["rows"] > 0


def test_a_viewer_cannot_import_nor_export(city: Any, city_files: Any,
                                           tmp_path: Path) -> None:
    files = [str(f) for f in city_files.runs[-1][0]]
    with Store(city[1]) as store:
        runs = len(store.runs())
    code, out = _cli(["ingest", *files], city, "viewer_a")
    assert code == 1 and "may not import" in out
    for args in (["export", "issues", "--out", str(tmp_path / "x.csv")],
                 ["league", "--week", "2024-W10", "--layer", "town", "--out",
                  str(tmp_path / "l.csv")],
                 ["hotspots", "--layer", "grid", "--out", str(tmp_path / "h.gpkg")]):
        code, out = _cli(args, city, "viewer_a")
        assert code == 1 and "may not export" in out, args
    assert not list(tmp_path.iterdir())
    code, out = _cli(["status", "--as-of", "2024-03-01", "--layer", "county"], city,
                     "viewer_a")
    assert code == 0, out
    for args in (["store", "info"], ["users", "list"], ["audit"]):
        code, out = _cli(args, city, "viewer_a")
        assert code == 1 and "may not admin" in out, args
    with Store(city[1]) as store:
        assert len(store.runs()) == runs  # nothing imported


def test_unknown_or_disabled_cli_user_is_refused_alike(city: Any) -> None:
    from gridwatch.access import set_disabled

    code, unknown = _cli(["status", "--as-of", "2024-03-01", "--layer", "county"], city,
                         "nobody")
    with Store(city[1]) as store:
        add_user(store, "gone", role="admin", scope=Scope(), password=PASSWORD, actor="t")
        set_disabled(store, "gone", True, actor="t")
    code2, disabled = _cli(["status", "--as-of", "2024-03-01", "--layer", "county"], city,
                           "gone")
    assert code == code2 == 1
    assert unknown == disabled == f"error: {SIGN_IN_REFUSED}\n"


def test_cli_user_from_the_environment(city: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWATCH_USER", "county_a")
    code, out = _cli(["status", "--as-of", "2024-03-01", "--layer", "county", "--json"],
                     city, None)
    assert code == 0
    assert [a["area_id"] for a in json.loads(out)["areas"]] == [COUNTY]


# --- PostGIS: the database keeps a scoped session in its scope -------------------------------

def test_row_level_security_by_raw_sql(city: Any,
                                       contexts: tuple[SupervisionContext, Any]) -> None:
    import sqlalchemy as sa

    from gridwatch.access.rls import enable_row_security, scoped_connection
    from gridwatch.errors import StoreError

    full, _ = contexts
    with Store(city[1]) as store:
        if not store.postgis:
            with pytest.raises(StoreError, match="for PostgreSQL stores"):
                enable_row_security(store)
            return
        enable_row_security(store)
        enable_row_security(store)  # again: nothing changes
        inside = full.issues["county_id"].astype(str) == COUNTY
        expected = set(full.issues.loc[inside, "issue_id"])
        history = full.history
        expected_history = int(history["issue_id"].isin(expected).sum())
        scope = Scope.parse(f"county:{COUNTY}")
        with scoped_connection(store, scope) as conn:
            # queries that forget any filter
            ids = set(conn.execute(sa.text("SELECT issue_id FROM issues")).scalars())
            places = conn.execute(sa.text("SELECT count(*) FROM issue_places")).scalar()
            changes = conn.execute(sa.text("SELECT count(*) FROM status_history")).scalar()
            joined = conn.execute(sa.text(
                "SELECT count(*) FROM issues i JOIN status_history h USING (issue_id)"
            )).scalar()
        assert ids == expected and places == len(expected)
        assert changes == joined == expected_history
        towns = sorted(full.issues.loc[inside, "town_id"].dropna().astype(str).unique())
        with scoped_connection(store, Scope.of("town", towns[:1])) as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM issues")).scalar()
        assert count == int((full.issues["town_id"] == towns[0]).sum())
        with scoped_connection(store, Scope()) as conn:  # the whole territory
            assert conn.execute(sa.text("SELECT count(*) FROM issues")).scalar() == \
                len(full.issues)
        with store.engine.connect() as conn, conn.begin():  # the role with no scope: nothing
            conn.execute(sa.text("SET LOCAL ROLE gridwatch_scoped"))
            assert conn.execute(sa.text("SELECT count(*) FROM issues")).scalar() == 0
            assert conn.execute(sa.text("SELECT count(*) FROM status_history")).scalar() == 0
        for table in ("users", "audit", "runs"):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), \
                    scoped_connection(store, scope) as conn:
                conn.execute(sa.text(f"SELECT count(*) FROM {table}"))
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), \
                scoped_connection(store, scope) as conn:
            conn.execute(sa.text("UPDATE issues SET status = 'closed'"))


def test_cli_imports_are_audited_with_their_run(city: Any, city_files: Any) -> None:
    from gridwatch.access import audit_log

    files = [str(f) for f in city_files.runs[-1][0]]
    code, out = _cli(["ingest", *files], city, "county_a")
    assert code == 0, out
    with Store(city[1]) as store:
        last = audit_log(store, action="import", limit=1).iloc[-1]
        run = store.last_run_id()
    assert last["actor"] == "county_a" and last["run_id"] == run
    assert last["detail"]["files"] == [Path(f).name for f in files]


def test_answers_by_unit_and_leader_hold_the_scope_only(city: Any) -> None:
    """--by unit / leader over a scoped context: the units of the user's own problems."""
    import json

    def counts(args: list[str], user: str | None) -> dict[str, int]:
        code, out = _cli([*args, "--json"], city, user)
        assert code == 0, out
        areas = json.loads(out)["areas"]
        return {key: sum(int(a[key]) for a in areas) for key in ("open", "red")}

    day = ["status", "--as-of", "2024-03-01"]
    mine = counts([*day, "--by", "unit"], "county_a")
    assert mine == counts([*day, "--layer", "county"], "county_a")  # the same problems
    everyone = counts([*day, "--by", "unit"], None)
    assert mine["open"] <= everyone["open"]
    by_county = {a["area_id"]: int(a["open"]) for a in json.loads(
        _cli([*day, "--layer", "county", "--json"], city, None)[1])["areas"]}
    assert mine["open"] <= by_county[COUNTY]
    code, out = _cli(["league", "--week", "2024-W10", "--by", "leader"], city, "county_a")
    assert code == 0, out
    code, out = _cli(["remind", "--as-of", "2024-03-01", "--by", "leader"], city, "county_a")
    assert code == 0, out
