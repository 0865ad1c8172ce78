"""``[evidence]`` of the project file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridwatch.errors import ConfigError

if TYPE_CHECKING:
    from gridwatch.config import Config

__all__ = ["EvidenceSettings", "evidence_folder", "parse_evidence_settings"]


@dataclass(frozen=True)
class EvidenceSettings:
    """``[evidence]``: where the photos are, and the after-photo rule.

    Example::

        [evidence]
        folder = "photos"            # relative to the project file
        require_after_photo = true   # flag problems closed without an after-photo
        thumbnail_px = 160
    """

    #: Folder of the photos: names in the photo columns are looked up there, and images named
    #: by problem id (``<id>_before.jpg``, ``<id>_整改后.jpg``...) are attached at import.
    folder: str | None = None
    #: Flag problems closed (or verified) without an after-photo (整改后照片).
    require_after_photo: bool = False
    #: Longest side of a thumbnail, in pixels.
    thumbnail_px: int = 160


def parse_evidence_settings(section: Mapping[str, Any]) -> EvidenceSettings:
    """Validate ``[evidence]``; raise ConfigError listing every problem."""
    from gridwatch.settings import type_name, unknown_keys

    problems = unknown_keys(section, ("folder", "require_after_photo", "thumbnail_px"),
                            "[evidence]")
    folder = section.get("folder")
    if folder is not None and (not isinstance(folder, str) or not folder.strip()):
        problems.append(f"[evidence] folder must be a folder name, got {type_name(folder)} "
                        f"({folder!r})")
    flag = section.get("require_after_photo", False)
    if not isinstance(flag, bool):
        problems.append(f"[evidence] require_after_photo must be true or false, got "
                        f"{type_name(flag)} ({flag!r})")
    px = section.get("thumbnail_px", 160)
    if isinstance(px, bool) or not isinstance(px, int) or not 16 <= px <= 1024:
        problems.append(f"[evidence] thumbnail_px must be a whole number from 16 to 1024, got "
                        f"{px!r}")
    if problems:
        raise ConfigError(f"[evidence] has {len(problems)} problem(s):", problems)
    return EvidenceSettings(folder=folder.strip() if isinstance(folder, str) else None,
                            require_after_photo=bool(flag), thumbnail_px=int(px))


def evidence_folder(config: Config | None) -> Path | None:
    """The project's photo folder (``[evidence] folder``, relative to the project file), or
    None when the project names none."""
    settings = config.settings.evidence if config is not None else None
    if settings is None or settings.folder is None:
        return None
    folder = Path(settings.folder)
    return folder if folder.is_absolute() else config.root / folder  # type: ignore[union-attr]
