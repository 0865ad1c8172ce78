"""Photos before and after rectification (整改前/整改后照片), kept with each problem.

A problem's photos are named in its ``photo_before`` / ``photo_after`` columns (file names,
relative to the project's photo folder, or intranet URLs; several separated by ``;``), or found
in the photo folder by the problem's id: ``<id>.jpg`` and ``<id>_2.png`` are before-photos,
``<id>_after.jpg``, ``<id>_后.jpg`` or ``<id>-整改后-2.jpg`` after-photos. Names are data: they
are resolved only inside the folder (no ``..``, no absolute paths) and escaped wherever shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from gridwatch.schema import CLOSED_STATUSES

__all__ = ["IMAGE_SUFFIXES", "PHOTO_COLUMNS", "attach_folder_photos", "folder_photos",
           "missing_after_photo", "photo_names", "resolve_photo"]

PHOTO_COLUMNS: tuple[str, ...] = ("photo_before", "photo_after")
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp")
_SPLIT = re.compile(r"[;；,，、|\n\r]+")
_STAGES = {"before": "photo_before", "前": "photo_before", "整改前": "photo_before",
           "after": "photo_after", "后": "photo_after", "整改后": "photo_after"}
_TAIL = re.compile(r"[_-](?:(?P<stage>before|after|整改前|整改后|前|后)(?:[_-](?P<n1>\d+))?"
                   r"|(?P<n2>\d+))$", re.IGNORECASE)


def photo_names(value: object) -> list[str]:
    """The photo names or URLs in one cell, in order, blanks dropped.

    Examples
    --------
    >>> photo_names("a.jpg; b.jpg，http://img.intranet/c.png")
    ['a.jpg', 'b.jpg', 'http://img.intranet/c.png']
    >>> photo_names(None)
    []
    """
    if not isinstance(value, str):
        return []
    return [part.strip() for part in _SPLIT.split(value) if part.strip()]


def _candidates(name: str) -> list[tuple[str, str]]:
    """The (issue id, photo column) an image file name may stand for, most specific first:
    the whole stem, then the stem without a stage and/or number suffix."""
    stem = Path(name).stem
    found = [(stem, "photo_before")]
    match = _TAIL.search(stem)
    if match is not None:
        stage = (match.group("stage") or "").lower()
        found.append((stem[:match.start()], _STAGES.get(stage, "photo_before")))
    return found


def folder_photos(folder: str | Path, ids: Iterable[str] | pd.Series) -> pd.DataFrame:
    """The images of ``folder`` (not its sub-folders) named by one of ``ids``.

    Returns
    -------
    pandas.DataFrame
        ``issue_id``, ``photo_before``, ``photo_after``: the file names, ``;``-separated in
        name order (NA when none), one row per problem with at least one image.
    """
    root = Path(folder)
    files = sorted(p.name for p in root.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES) if root.is_dir() \
        else []
    candidates = {name: _candidates(name) for name in files}
    wanted = sorted({issue for found in candidates.values() for issue, _ in found})
    # one vectorised look-up of the few candidate ids among (up to millions of) problems
    every = pd.Series(ids if isinstance(ids, pd.Series) else list(ids), dtype="str")
    known = set(every[every.isin(wanted)].tolist()) if wanted else set()
    grouped: dict[tuple[str, str], list[str]] = {}
    for name in files:
        hit = next((c for c in candidates[name] if c[0] in known), None)
        if hit is not None:
            grouped.setdefault(hit, []).append(name)
    rows: dict[str, dict[str, str]] = {}
    for (issue, column), names in grouped.items():
        rows.setdefault(issue, {})[column] = ";".join(names)
    frame = pd.DataFrame([{"issue_id": k, **v} for k, v in sorted(rows.items())],
                         columns=["issue_id", *PHOTO_COLUMNS])
    return frame.astype("str")


def attach_folder_photos(records: pd.DataFrame, folder: str | Path) -> pd.DataFrame:
    """Fill empty photo columns of ``records`` with the images of ``folder`` named by their
    ``issue_id``; a photo column the file already fills is kept as it is."""
    out = records.copy(deep=False)  # copy-on-write: the columns set here are new ones
    for column in PHOTO_COLUMNS:
        if column not in out:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="str")
    if out.empty:
        return out
    ids = out["issue_id"].astype("str")
    photos = folder_photos(folder, ids)
    if photos.empty:
        return out
    table = photos.set_index("issue_id")
    rows = np.flatnonzero(ids.isin(table.index).to_numpy())  # only the rows with photos
    for column in PHOTO_COLUMNS:
        given = out[column].astype("str")
        part = given.iloc[rows]
        empty = (part.isna() | (part.str.strip() == "")).to_numpy()
        found = ids.iloc[rows].map(table[column]).to_numpy(dtype=object)
        values = given.to_numpy(dtype=object, na_value=None).copy()
        values[rows[empty]] = found[empty]
        out[column] = pd.Series(values, index=out.index, dtype="str")
    return out


def resolve_photo(name: str, folder: str | Path | None) -> Path | str | None:
    """Where one photo is: a URL (``http(s)://``) as it is, a file inside ``folder``, or None
    (missing, outside the folder, or no folder).

    Examples
    --------
    >>> resolve_photo("http://img.intranet/a.jpg", None)
    'http://img.intranet/a.jpg'
    >>> resolve_photo("../../etc/passwd", "/tmp") is None
    True
    """
    text = name.strip()
    if re.match(r"^https?://", text, re.IGNORECASE):
        return text
    if folder is None or not text:
        return None
    root = Path(folder).resolve()
    try:
        path = (root / text).resolve()
    except (OSError, ValueError):
        return None
    if not path.is_relative_to(root) or not path.is_file() or \
            path.suffix.lower() not in IMAGE_SUFFIXES:
        return None
    return path


def missing_after_photo(issues: pd.DataFrame) -> pd.Series:
    """The after-photo rule: True for a problem closed or verified without an after-photo.

    Examples
    --------
    >>> frame = pd.DataFrame({"status": ["closed", "closed", "rectifying"],
    ...                       "photo_after": ["a.jpg", None, None]})
    >>> missing_after_photo(frame).tolist()
    [False, True, False]
    """
    closed = issues["status"].astype("str").isin(CLOSED_STATUSES).to_numpy(dtype=bool,
                                                                           na_value=False)
    if "photo_after" in issues:
        after = issues["photo_after"].astype("str").str.strip()
        has = (after.notna() & (after != "")).to_numpy(dtype=bool, na_value=False)
    else:
        has = np.zeros(len(issues), dtype=bool)
    return pd.Series(closed & ~has, index=issues.index, name="missing_after_photo")
