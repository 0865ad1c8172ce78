"""``gridwatch patches`` on SQLite and PostGIS: import, list in a user's scope, on-site
checks, a confirmed patch becoming a problem through the normal import."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from helpers import grid_cell_centre
from shapely.geometry import box

from gridwatch.access import Scope, add_user
from gridwatch.cli import main
from gridwatch.store import Store
from gridwatch.store.patches import patch_checks, stored_patches

CX, CY = grid_cell_centre(1, 1)


def _write(path: Path) -> Path:
    gpd.GeoDataFrame({
        "图斑编号": ["TB-001", "TB-002", "TB-003"],
        "图斑类型": ["固废", "生态破坏", "土壤"],
        "图斑名称": ["南湖西侧堆土", "=HYPERLINK(\"http://x\")", "<b>开挖</b>"],
    }, geometry=[box(CX - 0.0015, CY - 0.0005, CX + 0.0005, CY + 0.0005),
                 box(CX - 0.0004, CY - 0.0004, CX + 0.0004, CY + 0.0004),
                 box(120.801, 30.721, 120.803, 30.7225)], crs="EPSG:4326").to_file(path)
    return path


@pytest.fixture
def project(small_project: Path, store_url: str, tmp_path: Path):
    with Store(store_url) as store:
        add_user(store, "grid_a", role="supervisor", scope=Scope.parse("grid:G00"),
                 password="s3cret-password", actor="test")
        add_user(store, "viewer", role="viewer", scope=Scope(), password="s3cret-password",
                 actor="test")
    return small_project, store_url, _write(tmp_path / "图斑.geojson")


def _run(project, *args: str, user: str | None = None) -> tuple[int, str]:
    config, url, _ = project
    full = [*args, "--config", str(config), "--db", url]
    if user:
        full += ["--as-user", user]
    result = CliRunner().invoke(main, full, catch_exceptions=False)
    return result.exit_code, result.output


def test_import_list_check_and_scope(project, tmp_path):
    _, url, file = project
    code, out = _run(project, "patches", "import", str(file), user="grid_a")
    assert code == 1 and "whole territory" in out
    code, out = _run(project, "patches", "import", str(file), user="viewer")
    assert code == 1 and "may not import" in out
    code, out = _run(project, "patches", "import", str(file), "--json")
    assert code == 0, out
    done = json.loads(out)
    assert (done["patches"], done["inserted"], done["in_protected"]) == (3, 3, 2)

    # a user of grid G00 sees only the patch lying in it
    code, out = _run(project, "patches", "list", "--json", user="grid_a")
    assert code == 0, out
    assert [r["patch_id"] for r in json.loads(out)] == ["TB-003"]
    code, out = _run(project, "patches", "list", "--json", user="viewer")
    rows = {r["patch_id"]: r for r in json.loads(out)}
    assert sorted(rows) == ["TB-001", "TB-002", "TB-003"]
    assert round(rows["TB-001"]["redline_share"], 4) == 0.75
    assert rows["TB-001"]["grid_id"] == "G11" and rows["TB-003"]["grid_id"] == "G00"

    # checks: outside the scope refused; confirmed creates a problem in the store
    code, out = _run(project, "patches", "check", "TB-001", "--confirmed", user="grid_a")
    assert code == 1 and "no patch 'TB-001' within grid:G00" in out
    code, out = _run(project, "patches", "check", "TB-001", "--confirmed", "--on",
                     "2026-10-20", "--deadline", "2026-11-20", "--inspector", "李四",
                     "--unit", "南湖区生态环境分局")
    assert code == 0, out
    assert "problem WXTB-TB-001" in out
    code, out = _run(project, "patches", "check", "TB-002", "--false-positive", "--on",
                     "2026-10-21")
    assert code == 0, out
    with Store(url) as store:
        issues = store.issues(layers=["county", "grid", "redline"]).set_index("issue_id")
        history = store.history()
        checks = patch_checks(store)
        stored = stored_patches(store).set_index("patch_id")
    problem = issues.loc["WXTB-TB-001"]
    assert (problem["source"], problem["category"], problem["status"]) == \
        ("satellite", "solid_waste", "assigned")
    assert problem["grid_id"] == "G11" and problem["redline_id"] == "RL1"
    assert problem["responsible_unit"] == "南湖区生态环境分局"
    # the deadline is the end of the local day 2026-11-20
    assert problem["deadline"] == pd.Timestamp("2026-11-20 23:59:59", tz="Asia/Shanghai")
    assert (history["issue_id"] == "WXTB-TB-001").sum() == 1
    assert stored.loc["TB-001", "status"] == "confirmed"
    assert stored.loc["TB-001", "issue_id"] == "WXTB-TB-001"
    assert stored.loc["TB-002", "status"] == "false_positive"
    assert pd.isna(stored.loc["TB-002", "issue_id"])
    assert checks["patch_id"].tolist() == ["TB-001", "TB-002"]
    assert checks["inspector"].tolist()[0] == "李四"

    # the grid user confirms their patch by linking it to the problem already stored
    code, out = _run(project, "patches", "check", "TB-003", "--confirmed", "--issue", "nope",
                     user="grid_a")
    assert code == 1 and "no such problem" in out
    code, out = _run(project, "patches", "check", "TB-003", "--confirmed", "--issue",
                     "WXTB-TB-001", user="grid_a")
    assert code == 0, out
    code, out = _run(project, "patches", "list", "--by", "grid", "--json")
    counts = {r["grid_id"]: r for r in json.loads(out)}
    assert (counts["G11"]["patches"], counts["G11"]["confirmed"],
            counts["G11"]["false_positive"], counts["G11"]["in_protected"]) == (2, 1, 1, 2)
    assert (counts["G00"]["confirmed"], counts["G00"]["in_protected"]) == (1, 0)

    # a second import keeps the checks; the export neutralises formulas
    code, out = _run(project, "patches", "import", str(file), "--json")
    assert json.loads(out)["updated"] == 3
    with Store(url) as store:
        assert stored_patches(store).set_index("patch_id").loc["TB-001", "status"] == \
            "confirmed"
        if store.postgis:  # the outline is a PostGIS geometry too
            table = store.table("patches")
            with store.engine.connect() as conn:
                area = conn.execute(sa.select(sa.func.ST_Area(sa.func.ST_Transform(
                    table.c.geom, 4549))).where(table.c.patch_id == "TB-002")).scalar()
            assert area == pytest.approx(stored.loc["TB-002", "area_m2"], rel=1e-6)
    code, out = _run(project, "patches", "list", "--out", str(tmp_path / "p.xlsx"))
    assert code == 0, out
    sheet = pd.read_excel(tmp_path / "p.xlsx")
    assert sheet.loc[sheet["patch_id"] == "TB-002", "name"].iloc[0].startswith("'=")
