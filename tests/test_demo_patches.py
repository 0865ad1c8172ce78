"""The demo city's satellite patches and photos: the planted cases are found through the CLI
(patches in redline zones, problems closed without an after-photo)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from gridwatch.cli import main
from gridwatch.evidence import missing_after_photo, photo_names


def test_demo_patches_in_redlines_are_found(plan_city: Any) -> None:
    planted = plan_city["planted"]["patches"]
    folder = Path(plan_city["config_path"]).parent
    args = ["--config", str(plan_city["config_path"]), "--db", plan_city["url"]]
    result = CliRunner().invoke(main, ["patches", "import", str(folder / planted["file"]),
                                       "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["patches"] == planted["count"] == 12
    result = CliRunner().invoke(main, ["patches", "list", "--json", *args],
                                catch_exceptions=False)
    rows = {r["patch_id"]: r for r in json.loads(result.output)}
    assert len(rows) == 12
    inside = {k for k, r in rows.items() if r["redline_share"] > 0}
    assert inside == set(planted["in_redline"])
    for patch_id, truth in planted["in_redline"].items():
        row = rows[patch_id]
        assert truth["zone"] in row["redline_zones"].split(";")
        # the generator measured in its own local metres; the store in CGCS2000 / GK
        assert abs(row["redline_share"] - truth["share"]) < 0.03, (patch_id, row, truth)
        assert row["status"] == "suspected" and row["town_id"]


def test_demo_photos_are_kept_and_the_rule_flags_the_planted(plan_city: Any) -> None:
    planted = plan_city["planted"]["evidence"]
    issues = plan_city["issues"].set_index("issue_id")
    for issue in planted["with_after_photo"]:
        assert photo_names(issues.loc[issue, "photo_after"]) == [f"{issue}_整改后.jpg"]
        assert photo_names(issues.loc[issue, "photo_before"]) == [f"{issue}_整改前.jpg"]
    flagged = missing_after_photo(issues)
    photographed = issues["photo_before"].notna()
    assert set(issues.index[flagged & photographed]) == set(planted["without_after_photo"])
    assert len(planted["without_after_photo"]) >= 1
