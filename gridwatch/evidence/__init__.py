"""Evidence photos before and after rectification: names kept with each problem, found in a
folder by problem id, shown as thumbnails the app serves itself, and the after-photo rule.
See docs/patches.md (evidence)."""

from __future__ import annotations

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
