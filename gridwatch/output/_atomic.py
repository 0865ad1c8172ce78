"""Write a file all at once or not at all.

Writers write to a file of the same name in a fresh hidden folder beside the target (so a GDAL
driver sees the right extension and a GeoPackage gets no stale layers), and that file then
replaces the target with :func:`os.replace`, which is atomic on one file system. If anything
fails (a full disk, a writer's error, Ctrl-C) the temporary folder is removed and any previous
file under the target's name is left untouched: never a truncated CSV or a broken XLSX.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing"]


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    Parameters
    ----------
    path
        The file to (re)place; its folder is created when missing.

    Yields
    ------
    Path
        Where to write, with ``path``'s file name, in a hidden folder beside it.

    Examples
    --------
    >>> with replacing(Path("out.csv")) as tmp:            # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        written = folder / target.name
        yield written
        os.replace(written, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
