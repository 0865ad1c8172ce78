"""Field results back into the store: reopening, escalating, counting, keeping every row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import SH, local

from gridwatch.errors import SchemaError
from gridwatch.planning.package import RESULT_LABELS
from gridwatch.planning.results import apply_results, field_counts, import_results, read_results
from gridwatch.store.transactional import Store

LAYERS = [("county", "admin"), ("grid", "grid"), ("redline", "redline")]
T0 = local("2026-10-01 09:00")


def _problems() -> pd.DataFrame:
    """Five problems: P1, P3 open; P2, P4 closed; P5 verified."""
    ids = ["P1", "P2", "P3", "P4", "P5"]
    n = len(ids)
    closed = [pd.NaT, T0 + pd.Timedelta(days=3), pd.NaT, T0 + pd.Timedelta(days=4),
              T0 + pd.Timedelta(days=2)]
    frame = pd.DataFrame({
        "issue_id": ids,
        "reported_at": [T0 + pd.Timedelta(hours=i) for i in range(n)],
        "category": "water", "source": "grid_patrol",
        "description": "河道漂浮物", "lon": [120.81 + 0.01 * i for i in range(n)],
        "lat": 30.73, "coord_system": "wgs84", "address": "南湖区某路",
        "reported_grid": "G1",
        "status": ["assigned", "closed", "rectifying", "closed", "verified"],
        "deadline": [T0 + pd.Timedelta(days=7)] * n,
        "closed_at": closed,
        "responsible_unit": "南湖区生态环境分局",
        "severity": ["一般", "一般", "严重", "较重", "一般"],
        "task_type": "常规", "location_flag": "", "grid_mismatch": False,
        "county_id": "330402", "grid_id": "G1", "redline_id": None,
        "in_redline": False, "near_redline": False, "redline_dist_m": 900.0,
    })
    for column in ("reported_at", "deadline", "closed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    return frame


def _checklist(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A filled checklist as the package writes it (Chinese headers), saved by a person."""
    frame = pd.DataFrame({"团队": 1, "日": 1, "问题编号": [r[0] for r in rows],
                          "检查结果": [r[1] for r in rows], "备注": [r[2] for r in rows],
                          "照片": ["IMG_001.jpg"] * len(rows),
                          "检查时间": "2026-11-20 14:30", "检查人": "张三"})
    if path.suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    else:
        frame.to_excel(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_each_result_does_what_is_defined(store_url: str, tmp_path: Path, suffix: str) -> None:
    path = _checklist(tmp_path / f"checklist{suffix}", [
        ("P1", "未整改", "仍在排放"),     # open -> escalated: severity up, rectifying
        ("P2", "未整改", ""),             # closed -> reopened
        ("P3", "已整改", "+86 <b>${x}</b>"),  # open -> closed at the check time
        ("P4", "反弹", "又有漂浮物"),      # closed -> reopened, counted as a rebound
        ("P5", "未找到", ""),             # nothing changes
        ("P1", "", ""),                   # not checked: skipped
    ])
    with Store(store_url) as store:
        store.import_records(_problems(), layers=LAYERS, files=["day.csv"], rows_in=5,
                             rejected=0, observed_at=T0 + pd.Timedelta(days=10))
        before_runs = len(store.runs())
        summary = import_results(path, store=store, layers=LAYERS, timezone=SH)
        issues = store.issues().set_index("issue_id")
        history = store.history()
        kept = store.field_results()
        assert len(store.runs()) == before_runs + 1
    checked = local("2026-11-20 14:30")
    assert summary.rows == 5
    assert summary.results == {"rectified": 1, "not_rectified": 2, "rebound": 1,
                               "not_found": 1}
    assert summary.actions == {"closed": 1, "verified": 0, "reopened": 2, "escalated": 1,
                               "none": 1}
    assert issues.loc["P1", "severity"] == "较重" and issues.loc["P1", "status"] == "rectifying"
    for reopened in ("P2", "P4"):
        assert issues.loc[reopened, "status"] == "rectifying"
        assert pd.isna(issues.loc[reopened, "closed_at"])
    assert issues.loc["P3", "status"] == "closed" and issues.loc["P3", "closed_at"] == checked
    assert issues.loc["P5", "status"] == "verified"
    # every status change is in the history under the results' run
    mine = history[history["run_id"] == summary.run_id].set_index("issue_id")
    assert sorted(mine.index) == ["P1", "P2", "P3", "P4"]
    assert mine.loc["P2", "previous_status"] == "closed"
    assert mine.loc["P3", "changed_at"] == checked
    assert summary.status_changes == 4
    # every result is kept, with what it did
    assert kept["issue_id"].tolist() == ["P1", "P2", "P3", "P4", "P5"]
    assert kept["action"].tolist() == ["escalated", "reopened", "closed", "reopened", "none"]
    assert (kept["run_id"] == summary.run_id).all()
    assert kept.loc[2, "remarks"] == "+86 <b>${x}</b>"  # data, kept as written
    assert kept.loc[0, "inspector"] == "张三" and (kept["checked_at"] == checked).all()
    counts = field_counts(kept)
    assert counts.loc["P1", "not_rectified"] == 1 and counts.loc["P4", "rebound"] == 1
    assert counts.loc["P2", "not_rectified"] == 1 and counts.loc["P4", "not_rectified"] == 0


def test_a_second_not_rectified_escalates_again_up_to_the_top() -> None:
    issues = _problems()
    results = pd.DataFrame({"issue_id": ["P1", "P1", "P1"], "result": ["not_rectified"] * 3,
                            "checked_at": pd.NaT, "source_row": [2, 3, 4]})
    changed, actions = apply_results(results, issues, now=T0)
    assert changed.set_index("issue_id").loc["P1", "severity"] == "严重"
    assert actions.tolist() == ["escalated"] * 3


def test_bad_rows_are_all_named_and_nothing_is_written(store_url: str, tmp_path: Path) -> None:
    path = _checklist(tmp_path / "bad.xlsx", [("P1", "整改了", ""), ("P2", "已整改", ""),
                                              ("", "未找到", "")])
    with pytest.raises(SchemaError) as info:
        read_results(path, timezone=SH)
    lines = str(info.value).splitlines()
    assert "2 row(s) cannot be imported" in lines[0]
    assert lines[1:] == [
        f"  - row 2: 检查结果 '整改了' is not one of {', '.join(RESULT_LABELS)} "
        "(rectified, not_rectified, rebound, not_found)",
        "  - row 4: 问题编号 is empty"]
    unknown = _checklist(tmp_path / "unknown.xlsx", [("P1", "已整改", ""), ("NOPE", "已整改", "")])
    with Store(store_url) as store:
        store.import_records(_problems(), layers=LAYERS, files=["day.csv"], rows_in=5,
                             rejected=0)
        runs = len(store.runs())
        with pytest.raises(SchemaError, match="row 3: 问题编号 'NOPE' is not in the store"):
            import_results(unknown, store=store, layers=LAYERS, timezone=SH)
        assert len(store.runs()) == runs and store.field_results().empty
        assert store.issues().set_index("issue_id").loc["P1", "status"] == "assigned"


def test_a_checklist_without_the_columns_says_what_it_found(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    pd.DataFrame({"编号": ["P1"], "结果": ["已整改"]}).to_csv(path, index=False)
    with pytest.raises(SchemaError,
                       match="no column 问题编号, 检查结果; columns found: 编号, 结果"):
        read_results(path, timezone=SH)


def test_results_cli_exit_codes(tmp_path: Path, small_project: Path) -> None:
    from helpers import invoke, sqlite_url

    url = sqlite_url(tmp_path / "s.sqlite")
    with Store(url) as store:
        store.import_records(_problems(), layers=LAYERS, files=["day.csv"], rows_in=5,
                             rejected=0)
    bad = _checklist(tmp_path / "bad.csv", [("P1", "整改了", "")])
    result = invoke(["plan", "results", str(bad), "--config", str(small_project), "--db", url])
    assert result.exit_code == 2 and "row 2" in result.output
    good = _checklist(tmp_path / "good.csv", [("P1", "已整改", "")])
    result = invoke(["plan", "results", str(good), "--config", str(small_project), "--db", url,
                     "--json"])
    assert result.exit_code == 0, result.output
    assert '"closed": 1' in result.output


def test_results_that_change_nothing_are_still_a_run_and_kept(store_url: str,
                                                              tmp_path: Path) -> None:
    path = _checklist(tmp_path / "c.csv", [("P5", "未找到", "门口无人"), ("P2", "已整改", "")])
    with Store(store_url) as store:
        store.import_records(_problems(), layers=LAYERS, files=["day.csv"], rows_in=5,
                             rejected=0)
        before = store.issues()
        summary = import_results(path, store=store, layers=LAYERS, timezone=SH)
        after = store.issues()
        kept = store.field_results()
        runs = store.runs()
    # P2 is closed already: 已整改 verifies it; P5 is not touched
    assert summary.actions["verified"] == 1 and summary.actions["none"] == 1
    assert after.set_index("issue_id").loc["P2", "status"] == "verified"
    p5 = (before["issue_id"] == "P5").to_numpy()
    assert after[p5].drop(columns=["last_seen_at"]).equals(
        before[p5].drop(columns=["last_seen_at"]))
    assert kept["result"].tolist() == ["not_found", "rectified"]
    assert kept.loc[0, "remarks"] == "门口无人"
    assert runs["files"].iloc[-1] == ["c.csv"] and bool(runs["ok"].iloc[-1])
