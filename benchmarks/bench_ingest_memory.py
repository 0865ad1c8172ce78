"""Peak memory of ``gridwatch ingest`` on inputs that are small on disk and large in memory
(not a unit test).

Writes, into ``--folder``: a one-layer project (the real Jiaxing counties), a CSV of the demo
city's daily exports joined to ``--csv-mb`` megabytes (GB18030), an XLSX export with one stray
value in column XFD (16,384) of its last row, the same with the stray value in row 1, and a
40 KB XLSX whose identical rows unpack to 84,000 rows. Each input is then ingested by a fresh
``gridwatch ingest`` process into a fresh SQLite store, and read by a fresh process that only
calls ``read_issues``. Printed per input: the peak resident memory of the whole command, and
the growth of the reading alone above the process after its imports. The baselines are the same
command on a one-row CSV (the fixed cost of imports, layers and placing) and ``pandas.read_csv``
of the same file (what plain pandas takes to hold it as text).

Run::

    .venv/bin/python benchmarks/bench_ingest_memory.py --folder /tmp/gw-memory
    PYTHONPATH=/path/to/other/checkout .venv/bin/python benchmarks/bench_ingest_memory.py ...

(the second form measures another checkout's gridwatch with the same inputs: every command
runs in ``--folder``, so the checkout it is started from is not on the path).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COUNTIES = REPO / "data" / "boundaries" / "jiaxing_counties.geojson"
PROJECT = f"""[territory]
name = "嘉兴市"
timezone = "Asia/Shanghai"

[input]
crs = "gcj02"

[[layers]]
name = "county"
path = "{COUNTIES.as_posix()}"
id_field = "adcode"
name_field = "name"
kind = "admin"
crs = "gcj02"
"""
# Run in a fresh process: the growth of read_issues above the process after its imports.
READ_ONLY = """
import sys
import pandas, pyarrow.csv, openpyxl
from gridwatch.ingest import read_issues

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) // 1024

read_issues([sys.argv[2]])  # a one-row file: lazy imports and first-use costs are not counted
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # resets the peak (VmHWM) to the present size
if sys.argv[1] == "gridwatch":
    try:
        read_issues([sys.argv[3]])
    except OSError:  # a file refused (InputFileError): how far it got is what counts
        pass
else:
    pandas.read_csv(sys.argv[3], dtype=str, keep_default_na=False, encoding=sys.argv[1])
print(status("VmHWM") - base)
"""


def write_inputs(folder: Path, csv_mb: float) -> dict[str, Path]:
    """The project and the inputs (kept when already there: the demo takes a while)."""
    import csv
    import io

    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gridwatch.toml").write_text(PROJECT, encoding="utf-8")
    city = folder / "city"
    if not (city / "daily").is_dir():
        subprocess.run([sys.executable, "-c", "from gridwatch.cli import main; main()", "demo",
                        "generate", "--out", str(city), "--problems", "30000", "--scale", "0.05"],
                       check=True, capture_output=True, cwd=folder)
    daily = sorted((city / "daily").glob("*.csv"))
    header, *body = daily[0].read_bytes().splitlines(keepends=True)
    paths = {"one row": folder / "one.csv", f"{csv_mb:g} MB CSV": folder / "export.csv"}
    paths["one row"].write_bytes(header + body[0])
    with open(paths[f"{csv_mb:g} MB CSV"], "wb") as out:
        out.write(header)
        size, round_ = 0, 0
        while size < csv_mb * 1048576:  # the year again and again, ids made new each time
            for path in daily:
                rows = path.read_bytes().splitlines(keepends=True)[1:]
                rows = [b"%d-%s" % (round_, r) for r in rows] if round_ else rows
                out.writelines(rows)
                size += sum(map(len, rows))
                if size >= csv_mb * 1048576:
                    break
            round_ += 1
    text = daily[0].read_text(encoding="gb18030")
    rows = list(csv.reader(io.StringIO(text)))
    for label, stray_row in (("XLSX, XFD in a data row", None), ("XLSX, XFD in row 1", 1)):
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(rows[0])
        for i in range(1500):
            sheet.append([f"X{i:06d}", *rows[1 + i % (len(rows) - 1)][1:]])
        sheet.cell(row=stray_row or sheet.max_row, column=16384, value="x")
        paths[label] = folder / f"xfd_{stray_row or 'data'}.xlsx"
        book.save(paths[label])
    paths["XLSX of 84,000 identical rows"] = _identical_rows(folder / "rows84k.xlsx", 84_000)
    return paths


def _identical_rows(path: Path, n: int) -> Path:
    """An XLSX whose sheet repeats one row n times without row or cell references, so the rows
    are byte for byte the same and deflate about 250:1."""
    import xlsxwriter

    template = path.with_suffix(".template.xlsx")
    book = xlsxwriter.Workbook(template)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["问题编号", "上报时间", "问题类型", "经度", "纬度"])
    sheet.write_row(1, 0, ["JX1", "2025-11-01 06:38:52", "水污染", 120.9048, 30.3984])
    book.close()
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(
            path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                xml = data.decode("utf-8")
                head, row = re.findall(r"<row[^>]*>.*?</row>", xml, re.S)
                bare = [re.sub(r' (r|spans)="[^"]*"', "", r) for r in (head, row)]
                rows = bare[0] + bare[1] * n
                xml = re.sub(r"<sheetData>.*</sheetData>", f"<sheetData>{rows}</sheetData>",
                             xml, flags=re.S)
                data = xml.encode("utf-8")
            target.writestr(item.filename, data)
    template.unlink()
    return path


def peak_of_ingest(path: Path, folder: Path) -> tuple[int, int, str]:
    """Peak RSS (MB) of ``gridwatch ingest`` of ``path``, its exit code and its last error."""
    store = folder / "store.sqlite"
    for leftover in folder.glob("store.sqlite*"):
        if leftover.is_dir():
            import shutil

            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    process = subprocess.Popen(
        [sys.executable, "-c", "from gridwatch.cli import main; main()", "ingest", str(path),
         "--config", str(folder / "gridwatch.toml"), "--db", f"sqlite:///{store}", "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=folder)
    assert process.stderr is not None
    stderr = process.stderr.read().decode("utf-8", "replace")
    _pid, status, usage = os.wait4(process.pid, 0)
    errors = [line for line in stderr.splitlines() if line.startswith("error")]
    return usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status), (errors or [""])[-1]


def growth_of_reading(path: Path, one_row: Path, reader: str) -> int:
    out = subprocess.run([sys.executable, "-c", READ_ONLY, reader, str(one_row), str(path)],
                         capture_output=True, text=True, cwd=path.parent)
    return int(out.stdout.strip()) if out.returncode == 0 else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--csv-mb", type=float, default=4.0)
    args = parser.parse_args()
    paths = write_inputs(args.folder, args.csv_mb)
    print(f"{'input':32} {'on disk':>10} {'ingest peak':>12} {'reading':>9} {'pandas':>7}  exit")
    for label, path in paths.items():
        peak, code, error = peak_of_ingest(path, args.folder)
        reading = growth_of_reading(path, paths["one row"], "gridwatch")
        plain = (growth_of_reading(path, paths["one row"], "gb18030")
                 if path.suffix == ".csv" else None)
        size = path.stat().st_size
        shown = f"{size / 1048576:.1f} MB" if size > 1048576 else f"{size / 1024:.0f} KB"
        print(f"{label:32} {shown:>10} {peak:>9} MB {reading:>6} MB "
              f"{'' if plain is None else f'{plain:>4} MB':>7}  {code} {error[:90]}")


if __name__ == "__main__":
    main()
