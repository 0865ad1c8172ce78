"""H3 hexagons: counts per cell, ring-1 weights, and Gi* finding a planted dense cluster."""

from __future__ import annotations

import h3
import numpy as np
import pytest
import shapely

from gridwatch.errors import ConfigError
from gridwatch.hotspots import hex_counts, hex_hotspots, points_to_cells


@pytest.fixture
def points() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    lon = rng.uniform(120.70, 120.80, 1500)
    lat = rng.uniform(30.70, 30.80, 1500)
    centre = h3.cell_to_latlng(h3.latlng_to_cell(30.75, 120.75, 8))
    lon = np.r_[lon, centre[1] + rng.normal(0, 0.002, 400)]
    lat = np.r_[lat, centre[0] + rng.normal(0, 0.002, 400)]
    overdue = rng.random(lon.size) < 0.2
    overdue[1500:] = rng.random(400) < 0.8  # the cluster is mostly overdue
    return lon, lat, overdue


def test_points_to_cells_skips_missing_coordinates():
    cells = points_to_cells(np.array([120.75, np.nan, 200.0]), np.array([30.75, 30.0, 30.0]),
                            resolution=9)
    assert cells.tolist() == [h3.latlng_to_cell(30.75, 120.75, 9), "", ""]
    with pytest.raises(ConfigError, match="resolution must be a whole number from 0 to 15"):
        points_to_cells(np.array([120.0]), np.array([30.0]), resolution=16)


def test_counts_per_cell_and_halo(points):
    lon, lat, overdue = points
    cells = hex_counts(lon, lat, resolution=8, overdue=overdue)
    assert cells["problems"].sum() == lon.size
    assert cells["overdue"].sum() == overdue.sum()
    occupied = set(points_to_cells(lon, lat, resolution=8))
    assert occupied < set(cells["area_id"])  # plus the ring-1 halo of zeros
    assert (cells.loc[~cells["area_id"].isin(occupied), "problems"] == 0).all()
    first = cells.iloc[0]
    ring = [(x, y) for y, x in h3.cell_to_boundary(first["area_id"])]
    assert shapely.equals(first.geometry, shapely.Polygon(ring))
    assert cells.crs.to_epsg() == 4326


def test_study_area_fills_every_cell_inside():
    square = shapely.box(120.70, 30.70, 120.72, 30.72)
    cells = hex_counts(np.array([120.71]), np.array([30.71]), resolution=9, study_area=square)
    assert len(cells) >= len(h3.geo_to_cells(square, 9))
    assert cells["problems"].sum() == 1


def test_hex_gi_star_finds_the_planted_cluster(points):
    lon, lat, overdue = points
    result = hex_hotspots(lon, lat, resolution=8, overdue=overdue, permutations=999, seed=2)
    centre = h3.latlng_to_cell(30.75, 120.75, 8)
    bins = result.set_index("area_id")["bin"]
    assert bins[centre] == 3
    ring = [c for c in h3.grid_disk(centre, 1) if c != centre]
    assert (bins[ring] >= 2).sum() >= 3
    far_hot = bins[(bins == 3) & ~bins.index.isin(h3.grid_disk(centre, 2))]
    assert far_hot.size <= 0.02 * bins.size  # few false alarms on uniform noise
    assert result.attrs["method"] == "hex"
    assert result.attrs["weights"] == "H3 resolution 8, ring-1 neighbours"
    inner = result["area_id"].tolist().index(centre)
    assert result["n_neighbours"].iloc[inner] == 6
    assert result["overdue"].iloc[inner] == result["value"].iloc[inner] > 50


def test_problems_variable_and_errors(points):
    lon, lat, overdue = points
    result = hex_hotspots(lon, lat, resolution=8, variable="problems", inference="analytical")
    assert result["value"].sum() == lon.size
    with pytest.raises(ConfigError, match="needs the overdue flag"):
        hex_hotspots(lon, lat, variable="overdue")
    with pytest.raises(ConfigError, match="variable 'red'"):
        hex_hotspots(lon, lat, variable="red", overdue=overdue)
