"""``gridwatch ingest``: what is checked before anything is stored, and the exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gridwatch.cli import main
from gridwatch.store.transactional import Store

ROWS = "问题编号,上报时间,问题类型,经度,纬度\nA1,2024-03-15 08:00,水污染,120.75,30.76\n"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "day.csv"
    path.write_text(ROWS + "A2,不详,水污染,120.75,30.76\n", encoding="utf-8")
    return path


def _ingest(*args: str) -> object:
    return CliRunner().invoke(main, ["ingest", *args])


def _runs(db: Path) -> int:
    with Store(f"sqlite:///{db}") as store:
        return len(store.runs())


def test_rejects_path_that_cannot_be_written_stops_before_storing(
        small_project: Path, export: Path, tmp_path: Path) -> None:
    # Before: the run was stored, then "unexpected FileNotFoundError" and exit 1.
    db = tmp_path / "s.sqlite"
    result = _ingest(str(export), "--config", str(small_project), "--db", f"sqlite:///{db}",
                     "--rejects", "/proc/r.csv")
    assert result.exit_code == 1
    assert "--rejects '/proc/r.csv': cannot create a file in /proc" in result.output
    assert "unexpected" not in result.output
    assert not db.exists()


def test_rejects_path_naming_an_input_file_is_refused(
        small_project: Path, export: Path, tmp_path: Path) -> None:
    # Before: the rejects silently overwrote the export they came from.
    before = export.read_bytes()
    db = tmp_path / "s.sqlite"
    result = _ingest(str(export), "--config", str(small_project), "--db", f"sqlite:///{db}",
                     "--rejects", str(export))
    assert result.exit_code == 1
    assert "is also an input of this command" in result.output
    assert export.read_bytes() == before
    assert not db.exists()
    store_as_rejects = _ingest(str(export), "--config", str(small_project), "--db",
                               f"sqlite:///{db}", "--rejects", str(db))
    assert store_as_rejects.exit_code == 1 and "also an input" in store_as_rejects.output


def test_rejects_into_a_new_folder_is_written(small_project: Path, export: Path,
                                              tmp_path: Path) -> None:
    out = tmp_path / "new" / "folder" / "rejects.csv"
    db = tmp_path / "s.sqlite"
    result = _ingest(str(export), "--config", str(small_project), "--db", f"sqlite:///{db}",
                     "--rejects", str(out))
    assert result.exit_code == 0, result.output
    assert "不详" in out.read_text(encoding="utf-8-sig")
    assert _runs(db) == 1
    assert not list(tmp_path.rglob(".gridwatch-probe-*"))


def test_missing_input_creates_no_store(small_project: Path, export: Path,
                                        tmp_path: Path) -> None:
    # Before: exit 2, but an empty store file was left behind.
    db = tmp_path / "s.sqlite"
    result = _ingest(str(export), str(tmp_path / "nope.csv"), str(tmp_path / "gone.csv"),
                     "--config", str(small_project), "--db", f"sqlite:///{db}")
    assert result.exit_code == 2
    assert "nope.csv" in result.output and "gone.csv" in result.output
    assert not db.exists()


def test_one_over_long_id_does_not_abort_a_multi_file_import(
        small_project: Path, store_url: str, tmp_path: Path) -> None:
    # Before: PostGIS failed the whole run with "index row size ... exceeds btree maximum".
    import random

    from gridwatch.config import load_config
    from gridwatch.pipeline import run_ingest

    rng = random.Random(5)
    pasted = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(3000))  # incompressible
    first = tmp_path / "a.csv"
    first.write_text(ROWS, encoding="utf-8")
    second = tmp_path / "b.csv"
    second.write_text(ROWS.replace("A1,", "B1,") + f"{pasted},2024-03-15 09:00,水污染,120.75,"
                      "30.76\n", encoding="utf-8")
    with Store(store_url) as store:
        summary, rejects = run_ingest([first, second], config=load_config(small_project),
                                      store=store)
        stored = sorted(store.issues()["issue_id"])
    assert stored == ["A1", "B1"]
    assert (summary.accepted, summary.rejected) == (2, 1)
    assert rejects["reason"].iloc[0].startswith("issue_id too long")


def test_a_file_over_max_rows_exits_2_naming_the_limit(small_project: Path,
                                                       tmp_path: Path) -> None:
    config = small_project.read_text(encoding="utf-8")
    small_project.write_text(config.replace('[input]\n', '[input]\nmax_rows = 3\n'),
                             encoding="utf-8")
    path = tmp_path / "day.csv"
    path.write_text(ROWS + "".join(f"B{i},2024-03-15 08:00,水污染,120.75,30.76\n"
                                   for i in range(3)), encoding="utf-8")
    result = _ingest(str(path), "--config", str(small_project), "--db",
                     f"sqlite:///{tmp_path / 's.sqlite'}")
    assert result.exit_code == 2
    assert f"error: input file '{path}' has more than 3 rows, the max_rows limit (raise " \
           "[input] max_rows to allow it" in result.output
    assert _runs(tmp_path / "s.sqlite") == 0
