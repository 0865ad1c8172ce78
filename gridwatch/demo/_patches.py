"""The demo's satellite patches (卫星图斑) and evidence photos.

A dozen patches are written as a WGS84 GeoJSON (``patches.geojson``): some lie wholly or partly
in redline zones (the planted cases), the rest in towns away from them. A handful of small
photos are drawn with Pillow and named by problem id in ``photos/``: before- and after-photos of
some closed problems, and before-photos only of others, which the after-photo rule flags.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridwatch.demo._city import City, to_degrees, to_metric
from gridwatch.placing.coords import gcj02_to_wgs84

__all__ = ["write_patches", "write_photos"]

PATCHES = 12
IN_REDLINE = 5
_KINDS = ("固废", "生态破坏", "土壤", "生态破坏")
_NAMES = ("疑似建筑垃圾堆放", "疑似林地开挖", "疑似土方堆放", "疑似违规建设", "疑似河岸填埋")


def _to_wgs84(geoms: np.ndarray) -> np.ndarray:
    def apply(xy: np.ndarray) -> np.ndarray:
        x, y = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])
    return shapely.transform(geoms, apply)


def write_patches(city: City, out: Path, *, end: np.datetime64,
                  rng: np.random.Generator) -> tuple[Path, dict[str, object]]:
    """Write ``patches.geojson``; return it and what was planted (ids in redline zones, with
    the share of each inside its zone as drawn)."""
    zones = city.redline.reset_index(drop=True)
    zone_m = to_metric(np.asarray(zones.geometry.array, dtype=object))
    picked = rng.choice(len(zones), size=min(IN_REDLINE, len(zones)), replace=False)
    shapes, planted = [], {}
    for k, z in enumerate(picked):
        centre = shapely.point_on_surface(zone_m[z])
        w, h = rng.uniform(80, 200), rng.uniform(60, 150)
        if k % 2:  # straddling the zone's edge: partly inside
            edge = shapely.get_exterior_ring(zone_m[z]) if zone_m[z].geom_type == "Polygon" \
                else shapely.get_exterior_ring(max(zone_m[z].geoms, key=lambda g: g.area))
            centre = shapely.line_interpolate_point(edge, rng.uniform(0, 1), normalized=True)
        x, y = shapely.get_x(centre), shapely.get_y(centre)
        shapes.append(shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2))
        patch_id = f"WX2026-{k + 1:03d}"
        inside = shapely.area(shapely.intersection(shapes[-1], zone_m[z])) / shapes[-1].area
        planted[patch_id] = {"zone": str(zones.loc[z, "code"]), "share": round(float(inside), 3)}
    towns = city.town.reset_index(drop=True)
    union = shapely.union_all(zone_m)
    k = len(shapes)
    while k < PATCHES:
        town = towns.geometry.iloc[int(rng.integers(len(towns)))]
        centre = shapely.point_on_surface(to_metric(np.array([town], dtype=object))[0])
        x = shapely.get_x(centre) + rng.uniform(-500, 500)
        y = shapely.get_y(centre) + rng.uniform(-500, 500)
        box = shapely.box(x - 60, y - 40, x + 60, y + 40)
        if box.distance(union) < 600:  # clearly away from every zone
            continue
        shapes.append(box)
        k += 1
    day = pd.Timestamp(end) - pd.Timedelta(days=20)
    frame = gpd.GeoDataFrame({
        "图斑编号": [f"WX2026-{i + 1:03d}" for i in range(PATCHES)],
        "图斑名称": [_NAMES[i % len(_NAMES)] for i in range(PATCHES)],
        "图斑类型": [_KINDS[i % len(_KINDS)] for i in range(PATCHES)],
        "监测日期": [(day + pd.Timedelta(days=int(i))).strftime("%Y-%m-%d")
                 for i in range(PATCHES)],
    }, geometry=_to_wgs84(to_degrees(np.array(shapes, dtype=object))), crs="EPSG:4326")
    path = out / "patches.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path, {"file": path.name, "count": PATCHES, "in_redline": planted}


def write_photos(frame: pd.DataFrame, out: Path, *,
                 rng: np.random.Generator) -> dict[str, list[str]]:
    """Draw before/after photos of a few closed problems into ``photos/``; return the ids
    with both photos and those with a before-photo only (closed without an after-photo)."""
    from PIL import Image, ImageDraw

    folder = out / "photos"
    folder.mkdir(exist_ok=True)
    closed = frame.loc[frame["closed_at"].notna() & (frame["tag"] == ""), "issue_id"]
    ids = sorted(rng.choice(closed.astype(str).to_numpy(), size=min(8, len(closed)),
                            replace=False).tolist())
    both, before_only = ids[:5], ids[5:]
    for issue in ids:
        stages = [("整改前", (150, 110, 70)), ("整改后", (70, 150, 90))]
        for stage, colour in stages if issue in both else stages[:1]:
            image = Image.new("RGB", (320, 240), colour)
            draw = ImageDraw.Draw(image)
            draw.rectangle((20, 20, 300, 220), outline=(255, 255, 255), width=3)
            draw.text((32, 32), issue, fill=(255, 255, 255))
            draw.text((32, 52), "before" if stage == "整改前" else "after",
                      fill=(255, 255, 255))
            image.save(folder / f"{issue}_{stage}.jpg", quality=70)
    return {"with_after_photo": both, "without_after_photo": before_only}
