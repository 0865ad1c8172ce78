"""Thumbnails of evidence photos as ``data:`` URIs, so the app serves them itself.

A thumbnail is a small JPEG (longest side ``px``) made with Pillow and kept in memory per file
and modification time. Nothing is fetched from any network: intranet URLs are shown as links,
not as images.
"""

from __future__ import annotations

import base64
import functools
import io
from pathlib import Path

import pandas as pd

from gridwatch.evidence.photos import PHOTO_COLUMNS, photo_names, resolve_photo

__all__ = ["MAX_SOURCE_BYTES", "problem_thumbnails", "thumbnail_uri"]

#: Larger files are not opened for a thumbnail (a decompression bomb or a scan, not a photo).
MAX_SOURCE_BYTES = 30_000_000


@functools.lru_cache(maxsize=4096)
def _thumbnail(path: str, mtime_ns: int, px: int) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.thumbnail((px, px))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=80)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def thumbnail_uri(path: str | Path, *, px: int = 160) -> str | None:
    """A JPEG thumbnail of the image at ``path`` as a ``data:`` URI; None when it is not an
    image Pillow reads or is too large."""
    file = Path(path)
    try:
        stat = file.stat()
    except OSError:
        return None
    if stat.st_size > MAX_SOURCE_BYTES:
        return None
    return _thumbnail(str(file), stat.st_mtime_ns, int(px))


def problem_thumbnails(issues: pd.DataFrame, folder: str | Path | None, *, px: int = 160,
                       per_problem: int = 1) -> pd.DataFrame:
    """The first ``per_problem`` thumbnails of each problem's before- and after-photos.

    Parameters
    ----------
    issues
        Problems with ``photo_before`` / ``photo_after`` (same index in the result).
    folder
        The project's photo folder (``[evidence] folder``).
    px, per_problem
        Thumbnail size; photos per column.

    Returns
    -------
    pandas.DataFrame
        Columns ``photo_before``, ``photo_after``: lists of ``(name, data URI)`` (empty lists
        where a photo is missing or is an intranet URL).
    """
    out = pd.DataFrame(index=issues.index)
    for column in PHOTO_COLUMNS:
        values = issues[column] if column in issues else pd.Series(None, index=issues.index)
        cells = []
        for value in values.tolist():
            shown: list[tuple[str, str]] = []
            for name in photo_names(value):
                where = resolve_photo(name, folder)
                if isinstance(where, Path):
                    uri = thumbnail_uri(where, px=px)
                    if uri is not None:
                        shown.append((name, uri))
                if len(shown) >= per_problem:
                    break
            cells.append(shown)
        out[column] = cells
    return out
