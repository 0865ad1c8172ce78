import math

import openpyxl
import pandas as pd
import pytest
from helpers import REPORTS, SH, local, utc_columns

from gridwatch.errors import ConfigError
from gridwatch.supervision.context import SupervisionContext
from gridwatch.supervision.review import (
    REVIEW_TABLES,
    SUMMARY_ROWS,
    monthly_review,
    review_html,
    review_markdown,
    write_review,
)


def context(**kwargs) -> SupervisionContext:
    kwargs.setdefault("rebounds", rebounds().assign(rebound=False, rebound_of=None))
    return SupervisionContext.from_frames(issues(), settings=REPORTS, timezone=SH, **kwargs)


def issues() -> pd.DataFrame:
    rows = [
        # id, reported, deadline, closed, category, source, grid
        ("f1", "2024-02-05", "2024-02-20", "2024-02-19", "water", "hotline", "G1"),
        ("f2", "2024-02-10", "2024-02-20", "2024-03-05", "water", "grid_patrol", "G1"),
        ("m1", "2024-03-01", "2024-03-10", "2024-03-08", "air", "hotline", "G2"),
        ("m2", "2024-03-02", "2024-03-10", None, "air", "hotline", "<b>G3</b>"),
        ("m3", "2024-03-20", "2024-04-10", None, "water", "grid_patrol", "G1"),
        ("a1", "2024-04-02", "2024-04-10", None, "water", "grid_patrol", "G1"),
    ]
    frame = pd.DataFrame(rows, columns=["issue_id", "reported_at", "deadline", "closed_at",
                                        "category", "source", "grid_id"])
    frame["reported_at"] = [local(f"{d} 09:00") for d in frame["reported_at"]]
    frame["deadline"] = [local(f"{d} 23:59:59") for d in frame["deadline"]]
    frame["closed_at"] = [local(f"{d} 12:00") if pd.notna(d) else pd.NaT
                          for d in frame["closed_at"]]
    return utc_columns(frame, "reported_at", "deadline", "closed_at")


def rebounds() -> pd.DataFrame:
    return pd.DataFrame({"rebound": [False, False, False, False, True, False],
                         "rebound_of": [None, None, None, None, "f1", None],
                         "rebound_distance_m": [None, None, None, None, 12.0, None],
                         "rebound_days": [None, None, None, None, 29.9, None]})


def test_tables_and_figures() -> None:
    tables = monthly_review(context(rebounds=rebounds()), "2024-03", layer="grid")
    assert list(tables) == list(REVIEW_TABLES)
    summary = tables["summary"].set_index("metric")
    # March: found m1 m2 m3; closed f2 (late) and m1 (on time); at Mar 31 open m2 (red), m3.
    assert summary.loc["new", "2024-03"] == 3 and summary.loc["new", "2024-02"] == 2
    assert summary.loc["closed", "2024-03"] == 2 and summary.loc["closed", "2024-02"] == 1
    assert summary.loc["closure_rate", "2024-03"] == pytest.approx(2 / 3)
    assert summary.loc["on_time_rate", "2024-03"] == 0.5
    assert summary.loc["red", "2024-03"] == 1
    assert summary.loc["overdue_rate", "2024-03"] == 0.5
    # End of February: f2 open, due Feb 20 -> red.
    assert summary.loc["red", "2024-02"] == 1 and summary.loc["new", "change"] == 1
    assert summary.loc["rebounds", "2024-03"] == 1
    by_cat = tables["by_category"].set_index("category")
    assert by_cat.loc["water", "new"] == 1 and by_cat.loc["water", "new_previous"] == 2
    assert by_cat.loc["air", "closed"] == 1 and math.isnan(by_cat.loc["air", "new_previous"])
    by_source = tables["by_source"].set_index("source")
    assert by_source.loc["hotline", "new"] == 2
    assert tables["worst_areas"]["area_id"].tolist() == ["<b>G3</b>"]
    assert tables["rebounds"]["rebound_of"].tolist() == ["f1"]
    with pytest.raises(ConfigError, match="YYYY-MM"):
        monthly_review(context(), "2024-W10", layer="grid")


def test_workbook_and_escaped_summaries(tmp_path) -> None:
    tables = monthly_review(context(rebounds=rebounds()), "2024-03", layer="grid")
    written = write_review(tables, tmp_path / "review.xlsx", title="月复盘 2024-03")
    assert [p.suffix for p in written] == [".xlsx", ".md", ".html"]
    assert openpyxl.load_workbook(written[0]).sheetnames == list(REVIEW_TABLES)
    md = written[1].read_text(encoding="utf-8")
    page = written[2].read_text(encoding="utf-8")
    assert "<b>G3</b>" not in md and "&lt;b&gt;G3&lt;/b&gt;" in md
    assert "<b>G3</b>" not in page and "&lt;b&gt;G3&lt;/b&gt;" in page
    assert "http" not in page
    assert md.startswith("# 月复盘 2024-03")
    assert review_markdown({"empty": pd.DataFrame()}).count("(none)") == 1
    assert "<p>(none)</p>" in review_html({"empty": pd.DataFrame()})
    with pytest.raises(ConfigError, match=r"\.xlsx"):
        write_review(tables, tmp_path / "review.csv")


def test_summaries_show_the_first_rows_of_a_long_list_and_say_how_many(tmp_path) -> None:
    long = pd.DataFrame({"issue_id": [f"P{i:05d}" for i in range(SUMMARY_ROWS + 7)]})
    tables = {"summary": pd.DataFrame({"metric": ["new"], "2024-03": [3]}), "rebounds": long}
    written = write_review(tables, tmp_path / "review.xlsx")
    md, page = (p.read_text(encoding="utf-8") for p in written[1:])
    last_shown, first_cut = f"P{SUMMARY_ROWS - 1:05d}", f"P{SUMMARY_ROWS:05d}"
    for text in (md, page):
        assert last_shown in text and first_cut not in text
        assert f"{SUMMARY_ROWS:,} of {SUMMARY_ROWS + 7:,} rows shown" in text
    # the workbook keeps every row; a short table is shown whole, without a note
    assert openpyxl.load_workbook(written[0])["rebounds"].max_row == SUMMARY_ROWS + 8
    assert "rows shown" not in review_markdown(tables, max_rows=None)
    assert "rows shown" not in review_html({"summary": tables["summary"]})
