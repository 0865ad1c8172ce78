"""Hexagon density hot spots on H3 cells: independent of where grid lines are drawn.

Problems are counted per H3 cell (resolution 8 ≈ 0.74 km², 9 ≈ 0.11 km²) and Gi* runs over the
cells with their ring-1 neighbours (the six cells around each) as binary weights. The cells
analysed are the occupied ones plus their ring-1 halo, so empty surroundings count as zeros;
a study area can be given to analyse every cell inside it instead.
"""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.errors import ConfigError
from gridwatch.hotspots._weights import weights_from_neighbours
from gridwatch.hotspots.gistar import Inference, gi_star

__all__ = ["hex_counts", "hex_hotspots", "points_to_cells"]


def points_to_cells(lon: np.ndarray, lat: np.ndarray, *, resolution: int) -> np.ndarray:
    """H3 cell (hex string) of each WGS84 point; ``""`` where the point has no coordinates."""
    import h3

    _check_resolution(resolution)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    out = np.full(lon.shape[0], "", dtype=object)
    to_cell = h3.latlng_to_cell
    out[ok] = [to_cell(y, x, resolution) for x, y in zip(lon[ok].tolist(), lat[ok].tolist(),
                                                          strict=True)]
    return out


def hex_counts(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    resolution: int = 8,
    overdue: np.ndarray | None = None,
    study_area: shapely.Geometry | None = None,
) -> gpd.GeoDataFrame:
    """Problems (and overdue problems) per H3 cell, as areas ready for the hotspot functions.

    Parameters
    ----------
    lon, lat
        WGS84 coordinates of the problems (NaN rows are skipped and counted in
        ``attrs["points_without_location"]``).
    resolution
        H3 resolution (0–15; 8 or 9 for a city).
    overdue
        Boolean per problem: counted in the ``overdue`` column.
    study_area
        WGS84 polygon; when given every cell whose centre lies inside is analysed, plus the
        occupied cells. Otherwise occupied cells and their ring-1 neighbours.

    Returns
    -------
    GeoDataFrame
        ``area_id`` and ``area_name`` (the H3 index), ``problems``, ``overdue``, hexagon
        ``geometry`` in EPSG:4326, sorted by cell.
    """
    import h3

    cells = points_to_cells(lon, lat, resolution=resolution)
    located = cells != ""
    flags = (np.zeros(cells.shape[0], dtype=bool) if overdue is None
             else np.asarray(overdue, dtype=bool))
    if flags.shape[0] != cells.shape[0]:
        raise ConfigError(f"overdue has {flags.shape[0]} values but there are "
                          f"{cells.shape[0]} points")
    frame = pd.DataFrame({"cell": cells[located].astype(str), "overdue": flags[located]})
    grouped = frame.groupby("cell").agg(problems=("overdue", "size"), overdue=("overdue", "sum"))
    occupied = set(grouped.index)
    if study_area is not None:
        universe = set(h3.geo_to_cells(study_area, resolution)) | occupied
    else:
        universe = set(occupied)
        for cell in occupied:
            universe.update(h3.grid_disk(cell, 1))
    ids = sorted(universe)
    table = grouped.reindex(ids).fillna(0).astype("int64")
    polygons = [shapely.Polygon([(x, y) for y, x in h3.cell_to_boundary(c)]) for c in ids]
    result = gpd.GeoDataFrame(
        {"area_id": pd.array(ids, dtype="str"), "area_name": pd.array(ids, dtype="str"),
         "problems": table["problems"].to_numpy(), "overdue": table["overdue"].to_numpy()},
        geometry=polygons, crs="EPSG:4326",
    )
    result.attrs["points_without_location"] = int((~located).sum())
    result.attrs["resolution"] = resolution
    return result


def hex_hotspots(
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    resolution: int = 8,
    overdue: np.ndarray | None = None,
    variable: Literal["problems", "overdue"] = "overdue",
    study_area: shapely.Geometry | None = None,
    permutations: int = 999,
    seed: int = 20240101,
    inference: Inference = "permutation",
    fdr: bool = False,
) -> gpd.GeoDataFrame:
    """Gi* hot and cold spots of problem (or overdue) counts on H3 cells.

    Parameters are those of :func:`hex_counts` and :func:`~gridwatch.hotspots.gi_star`;
    ``variable`` picks the count analysed (``overdue`` needs the ``overdue`` flags).

    Returns
    -------
    GeoDataFrame
        The Gi* output per cell (``value`` is the chosen count) plus ``problems`` and
        ``overdue``.
    """
    import h3

    if variable not in ("problems", "overdue"):
        raise ConfigError(f"variable {variable!r} is not allowed for hexagons; use 'problems' or "
                          "'overdue'")
    if variable == "overdue" and overdue is None:
        raise ConfigError("variable 'overdue' needs the overdue flag of every problem "
                          "(overdue=...)")
    cells = hex_counts(lon, lat, resolution=resolution, overdue=overdue, study_area=study_area)
    if len(cells) < 3:
        raise ConfigError(f"hexagon hot spots need at least 3 cells, got {len(cells)}; "
                          "use a finer resolution or more problems")
    ids = cells["area_id"].tolist()
    position = {cell: i for i, cell in enumerate(ids)}
    neighbours = ([position[c] for c in h3.grid_disk(cell, 1) if c in position] for cell in ids)
    weights = weights_from_neighbours(ids, neighbours, kind="h3_ring1",
                                      description=f"H3 resolution {resolution}, ring-1 neighbours")
    result = gi_star(cells, cells[variable], weights=weights, permutations=permutations,
                     seed=seed, inference=inference, fdr=fdr)
    result["problems"] = cells["problems"].to_numpy()
    result["overdue"] = cells["overdue"].to_numpy()
    result = result[[c for c in result.columns if c != "geometry"] + ["geometry"]]
    result.attrs.update(cells.attrs)
    result.attrs["method"] = "hex"
    return result


def _check_resolution(resolution: int) -> None:
    if not isinstance(resolution, int | np.integer) or not 0 <= resolution <= 15:
        raise ConfigError(f"H3 resolution must be a whole number from 0 to 15 (8–9 for a city), "
                          f"got {resolution!r}")
