"""The app's enterprises page (AppTest): enterprises with the map of repeat offenders (names
escaped), petition batches and campaigns, as the library answers, within the user's scope."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _app_project import AS_OF, HOSTILE, build_app_project, sign_in, write_problems
from helpers import component_instances

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "app_pages/enterprises.py"
CODE_C1 = "91330402MA2APP001X"
CODE_C2 = "91330411MA2APP002Y"
BATCH = "第一轮督察第3批"


def _rows() -> pd.DataFrame:
    end = pd.Timestamp(AS_OF)
    rows = []

    def add(i: str, lon: float, lat: float, ago: int, closed_after: int | None, *,
            category: str = "水污染", source: str = "网格巡查", code: str = "", name: str = "",
            batch: str = "", campaign: str = "") -> None:
        reported = end - pd.Timedelta(days=ago) + pd.Timedelta(hours=9)
        closed = None if closed_after is None else reported + pd.Timedelta(days=closed_after)
        rows.append({
            "问题编号": i, "上报时间": f"{reported:%Y-%m-%d %H:%M:%S}", "问题类型": category,
            "问题来源": source, "问题描述": f"问题{i}", "经度": f"{lon:.6f}", "纬度": f"{lat:.6f}",
            "状态": "已办结" if closed is not None else "整改中",
            "整改期限": f"{reported + pd.Timedelta(days=10):%Y-%m-%d}",
            "办结时间": f"{closed:%Y-%m-%d %H:%M:%S}" if closed is not None else "",
            "责任单位": "南湖分局", "统一社会信用代码": code, "企业名称": name,
            "交办批次": batch, "交办日期": f"{end - pd.Timedelta(days=20):%Y-%m-%d}"
            if batch else "", "专项行动": campaign})

    # county C1: a chain of rebounds at one enterprise whose name is hostile text
    for k, ago in enumerate((80, 60, 40, 20)):
        add(f"E1{k}", 120.75, 30.72 + 0.01 * k, ago, 5 if k < 3 else None, code=CODE_C1,
            name=f"{HOSTILE}化工有限公司" if k % 2 == 0 else f"{HOSTILE}化工（有限责任公司）")
    # county C2: four problems of different categories, no rebound: four in the year
    for k, cat in enumerate(("水污染", "大气污染", "噪声", "固废")):
        add(f"E2{k}", 120.85, 30.72 + 0.01 * k, 100 - 20 * k, 3, category=cat, code=CODE_C2,
            name="秀洲印染有限公司")
    # a petition batch in C1, one followed by a hotline call at the same place
    for k in range(3):
        add(f"X{k}", 120.72 + 0.01 * k, 30.75, 18, None, source="督察交办", batch=BATCH)
    add("H0", 120.72, 30.75, 10, None, source="12345热线")
    add("W0", 120.76, 30.71, 5, None, category="固废", campaign="清废行动")
    add("W1", 120.86, 30.71, 5, 2, category="固废", campaign="清废行动")
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from gridwatch.config import load_config
    from gridwatch.pipeline import run_ingest
    from gridwatch.store.transactional import Store

    folder = tmp_path_factory.mktemp("app-enterprises")
    config_path, url = build_app_project(folder)
    export = write_problems(folder / "export_enterprises.csv", _rows())
    with Store(url) as store:
        run_ingest([export], config=load_config(config_path), store=store,
                   observed_at=pd.Timestamp(f"{AS_OF} 23:59:59", tz="Asia/Shanghai")
                   .to_pydatetime())
    return config_path, url


@pytest.fixture
def app_env(project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(project[0]))
    monkeypatch.setenv("GRIDWATCH_DB", project[1])
    yield


def _run(user: str = "admin") -> AppTest:
    at = sign_in(AppTest.from_file(APP, default_timeout=120), user)
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _tables(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def test_the_page_shows_what_the_library_answers(app_env: None,
                                                  project: tuple[Path, str]) -> None:
    from gridwatch.config import load_config
    from gridwatch.enterprises import batch_table, campaign_table, enterprise_table
    from gridwatch.supervision.context import open_context

    ctx = open_context(load_config(project[0]), project[1])
    at = _run()
    enterprises, batches, petitions, campaigns = _tables(at)
    offenders = enterprise_table(ctx, AS_OF)
    offenders = offenders[offenders["repeat_offender"]]
    assert set(enterprises["统一社会信用代码"]) == set(offenders["enterprise_code"]) \
        == {CODE_C1, CODE_C2}
    assert HOSTILE + "化工有限公司" in set(enterprises["企业名称"])  # shown as text
    expected = batch_table(ctx, AS_OF)
    assert batches["交办件数"].tolist() == expected["received"].tolist() == [3, 3]
    assert batches["重复投诉"].tolist() == expected["repeated"].tolist() == [1, 1]
    assert len(petitions) == 3
    assert campaigns["发现"].tolist() == campaign_table(ctx, AS_OF)["found"].tolist() == [2]
    (component,) = component_instances(at)
    args = json.loads(component.proto.json_args)
    raw = json.dumps(args, ensure_ascii=False)
    for link in [*args["js_links"], *args["css_links"]]:
        assert link.startswith("/app/static/gridwatch/"), link
    assert "<img src=x" not in raw and "${alert(document.cookie)}" not in raw
    assert "&lt;img src=x onerror=alert(1)&gt;&#36;{alert(document.cookie)}" in raw
    assert "秀洲印染" in raw


def test_a_county_user_sees_only_the_county(app_env: None) -> None:
    at = _run("c1")
    enterprises, batches, _petitions, campaigns = _tables(at)
    assert set(enterprises["统一社会信用代码"]) == {CODE_C1}
    assert batches["交办件数"].tolist() == [3, 3]
    assert campaigns["发现"].tolist() == [1]
    (component,) = component_instances(at)
    assert "秀洲印染" not in json.dumps(json.loads(component.proto.json_args),
                                     ensure_ascii=False)
    assert HOSTILE[:4] not in component.proto.json_args


def test_all_enterprises_and_a_campaign_split_by_unit(app_env: None) -> None:
    at = _run()
    at.checkbox(key="e_only").uncheck().run()
    at.selectbox(key="e_by").select("unit").run()
    assert not at.exception
    enterprises, *_rest, campaigns = _tables(at)
    assert len(enterprises) == 2  # both are offenders; no other enterprise
    assert campaigns["责任单位"].tolist() == ["南湖分局"]
