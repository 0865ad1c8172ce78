"""Evidence photos before and after rectification: names kept with each problem, found in a
folder by problem id, shown as thumbnails the app serves itself, and the after-photo rule.
See docs/patches.md (evidence)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridwatch._lazy import lazy_exports

if TYPE_CHECKING:
    from gridwatch.evidence.photos import (
        PHOTO_COLUMNS,
        attach_folder_photos,
        folder_photos,
        missing_after_photo,
        photo_names,
        resolve_photo,
    )
    from gridwatch.evidence.settings import (
        EvidenceSettings,
        evidence_folder,
        parse_evidence_settings,
    )
    from gridwatch.evidence.thumbs import problem_thumbnails, thumbnail_uri

__all__ = [
    "PHOTO_COLUMNS",
    "EvidenceSettings",
    "attach_folder_photos",
    "evidence_folder",
    "folder_photos",
    "missing_after_photo",
    "parse_evidence_settings",
    "photo_names",
    "problem_thumbnails",
    "resolve_photo",
    "thumbnail_uri",
]

# the project file's [evidence] section is parsed without importing pandas
_PHOTOS = "gridwatch.evidence.photos"
_SETTINGS = "gridwatch.evidence.settings"
_THUMBS = "gridwatch.evidence.thumbs"
__getattr__, __dir__ = lazy_exports(__name__, {
    "PHOTO_COLUMNS": _PHOTOS, "attach_folder_photos": _PHOTOS, "folder_photos": _PHOTOS,
    "missing_after_photo": _PHOTOS, "photo_names": _PHOTOS, "resolve_photo": _PHOTOS,
    "EvidenceSettings": _SETTINGS, "evidence_folder": _SETTINGS,
    "parse_evidence_settings": _SETTINGS,
    "problem_thumbnails": _THUMBS, "thumbnail_uri": _THUMBS,
})
