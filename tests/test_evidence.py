"""Evidence photos: names in the export or images named by problem id in a folder, kept with
the problem in the store (both backends) and its analytical copy, thumbnails as data URIs,
escaped names, the after-photo rule and the review's evidence table."""

from __future__ import annotations

import base64
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import grid_cell_centre
from PIL import Image

from gridwatch.cli import main
from gridwatch.config import load_config
from gridwatch.errors import ConfigError
from gridwatch.evidence import (
    attach_folder_photos,
    folder_photos,
    missing_after_photo,
    parse_evidence_settings,
    photo_names,
    problem_thumbnails,
    resolve_photo,
    thumbnail_uri,
)
from gridwatch.evidence.review import closed_evidence
from gridwatch.store import Store
from gridwatch.ui.maps import thumbnails_html


def _image(path: Path, size: tuple[int, int] = (640, 480), colour: str = "green") -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("JX-001.jpg", "JX-001_2.png", "JX-001_after.jpg", "JX-001-整改后-2.jpg",
                 "A_1.jpg", "A_1_后.jpg", "unrelated.jpg", "JX-0011.jpg"):
        _image(folder / name)
    (folder / "JX-001.txt").write_text("not an image", encoding="utf-8")
    return folder


def test_folder_photos_by_problem_id(photos: Path) -> None:
    found = folder_photos(photos, ["JX-001", "A_1", "B"]).set_index("issue_id")
    assert sorted(found.index) == ["A_1", "JX-001"]
    assert photo_names(found.loc["JX-001", "photo_before"]) == ["JX-001.jpg", "JX-001_2.png"]
    assert photo_names(found.loc["JX-001", "photo_after"]) == ["JX-001-整改后-2.jpg",
                                                               "JX-001_after.jpg"]
    assert found.loc["A_1", "photo_before"] == "A_1.jpg"
    assert found.loc["A_1", "photo_after"] == "A_1_后.jpg"


def test_attach_keeps_what_the_file_says(photos: Path) -> None:
    records = pd.DataFrame({"issue_id": ["JX-001", "A_1", "C"],
                            "photo_before": ["given.jpg", None, None],
                            "photo_after": [None, "", None]}).astype("str")
    out = attach_folder_photos(records, photos)
    assert out["photo_before"].tolist()[:2] == ["given.jpg", "A_1.jpg"]
    assert out["photo_after"].tolist()[1] == "A_1_后.jpg"
    assert pd.isna(out["photo_before"].iloc[2]) and pd.isna(out["photo_after"].iloc[2])


def test_names_resolve_only_inside_the_folder(photos: Path, tmp_path: Path) -> None:
    outside = _image(tmp_path / "secret.jpg")
    assert resolve_photo("JX-001.jpg", photos) == (photos / "JX-001.jpg").resolve()
    assert resolve_photo("../secret.jpg", photos) is None
    assert resolve_photo(str(outside), photos) is None
    assert resolve_photo("JX-001.txt", photos) is None
    assert resolve_photo("missing.jpg", photos) is None
    assert resolve_photo("HTTP://img.intranet/a.jpg", None) == "HTTP://img.intranet/a.jpg"


def test_thumbnails_are_small_data_uris(photos: Path) -> None:
    uri = thumbnail_uri(photos / "JX-001.jpg", px=64)
    assert uri is not None and uri.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert max(image.size) == 64 and image.size == (64, 48)
    assert thumbnail_uri(photos / "JX-001.txt") is None
    issues = pd.DataFrame({"photo_before": ["JX-001.jpg;A_1.jpg", "http://intranet/x.jpg"],
                           "photo_after": [None, "../../etc/passwd"]})
    thumbs = problem_thumbnails(issues, photos, px=32, per_problem=2)
    assert [name for name, _ in thumbs["photo_before"].iloc[0]] == ["JX-001.jpg", "A_1.jpg"]
    assert thumbs["photo_before"].iloc[1] == [] and thumbs["photo_after"].tolist() == [[], []]


def test_popup_thumbnails_escape_names_and_refuse_other_uris() -> None:
    hostile = '<img src=x onerror=alert(1)>${x}`.jpg'
    html = thumbnails_html([(hostile, "data:image/jpeg;base64,QUJD"),
                            ("b.jpg", "http://internet/b.jpg"),
                            ("c.jpg", 'data:image/png;base64,x" onerror="alert(1)')])
    assert html.count("<img") == 1
    assert "onerror=alert" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "${" not in html and "`" not in html and "http://" not in html


def test_after_photo_rule_by_hand() -> None:
    statuses = ["closed", "verified", "closed", "rectifying", "reported", "verified"]
    after = ["a.jpg", None, "  ", None, "b.jpg", "http://intranet/c.jpg"]
    frame = pd.DataFrame({"status": statuses, "photo_after": after})
    expected = [s in ("closed", "verified") and not (a and a.strip())
                for s, a in zip(statuses, after, strict=True)]
    assert missing_after_photo(frame).tolist() == expected == [False, True, True, False,
                                                               False, False]


def test_settings_are_checked() -> None:
    assert parse_evidence_settings({"folder": "photos", "require_after_photo": True}) \
        .require_after_photo
    with pytest.raises(ConfigError) as err:
        parse_evidence_settings({"folder": 3, "require_after_photos": True, "thumbnail_px": 2})
    assert len(err.value.problems) == 3


def test_review_lists_closed_problems_without_after_photo() -> None:
    frame = pd.DataFrame({
        "issue_id": ["a", "b", "c", "d"], "status": ["closed", "verified", "closed", "assigned"],
        "closed_at": pd.to_datetime(["2026-03-31 15:00", "2026-03-10 00:00", "2026-03-31 17:00",
                                     None], utc=True),
        "photo_after": [None, "b.jpg", None, None]})
    table = closed_evidence(frame, dt.date(2026, 3, 1), dt.date(2026, 3, 31),
                            timezone="Asia/Shanghai")
    # c closed at 01:00 on 1 April local time: next month
    assert table["issue_id"].tolist() == ["a", "b"]
    assert table["missing_after_photo"].tolist() == [True, False]


def test_ingest_keeps_photos_with_the_problem(small_project: Path, store_url: str,
                                              tmp_path: Path, photos: Path) -> None:
    text = small_project.read_text(encoding="utf-8")
    small_project.write_text(text + f'\n[evidence]\nfolder = "{photos.as_posix()}"\n'
                             "require_after_photo = true\n", encoding="utf-8")
    assert load_config(small_project).settings.evidence.require_after_photo
    lon, lat = grid_cell_centre(0, 0)
    frame = pd.DataFrame({
        "问题编号": ["JX-001", "A_1", "JX-002"], "上报时间": ["2026-09-01 09:00"] * 3,
        "问题类型": ["水污染"] * 3, "经度": [lon] * 3, "纬度": [lat] * 3, "坐标系": ["wgs84"] * 3,
        "状态": ["已办结", "整改中", "已办结"], "办结时间": ["2026-09-10", "", "2026-09-11"],
        "整改后照片": ["", "", "http://img.intranet/JX-002-after.jpg"]})
    path = tmp_path / "day.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    result = CliRunner().invoke(main, ["ingest", str(path), "--config", str(small_project),
                                       "--db", store_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Store(store_url) as store:
        stored = store.issues().set_index("issue_id")
        copy, _, _ = store.analytical()  # the columnar copy questions read
    assert photo_names(stored.loc["JX-001", "photo_after"]) == ["JX-001-整改后-2.jpg",
                                                                "JX-001_after.jpg"]
    assert stored.loc["A_1", "photo_before"] == "A_1.jpg"
    assert stored.loc["JX-002", "photo_after"] == "http://img.intranet/JX-002-after.jpg"
    assert missing_after_photo(stored.reset_index()).sum() == 0
    assert copy.set_index("issue_id").loc["A_1", "photo_before"] == "A_1.jpg"
