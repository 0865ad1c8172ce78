"""Satellite patches (卫星图斑): polygons found on satellite images, checked on site.

``read`` reads a patch file (GeoJSON, GeoPackage, Shapefile, KML; any coordinate system,
GCJ-02 included), ``measure`` measures each patch and its overlap with every layer in the
project's metric CRS, ``load`` stores them (:mod:`gridwatch.store.patches`), lists and counts
them in a user's scope, and records on-site checks, a confirmed patch becoming a problem.
See docs/patches.md.
"""

from __future__ import annotations

from gridwatch.patches.load import (
    PatchImport,
    check_patch,
    import_patch_file,
    patch_counts,
    patch_list,
    problem_of_patch,
)
from gridwatch.patches.measure import measure_patches, patch_summary
from gridwatch.patches.read import read_patches

__all__ = [
    "PatchImport",
    "check_patch",
    "import_patch_file",
    "measure_patches",
    "patch_counts",
    "patch_list",
    "patch_summary",
    "problem_of_patch",
    "read_patches",
]
