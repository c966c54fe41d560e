"""Grid (网格) import: read, convert to WGS-84, check topology (optionally repair), upsert, re-geocode."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis import crs as gcrs
from gis.codes import COMMUNITY, GRID
from gis.errors import InvalidData, RowError
from gis.io import read_table
from gis.topology import TopologyReport, check_grids, repair_grids

REPAIR_TOLERANCE_M = 1.0


@dataclass
class ImportResult:
    grids: int = 0
    inserted: int = 0
    updated: int = 0
    changes: list[str] = field(default_factory=list)
    report: TopologyReport | None = None
    incidents_changed: int = 0
    cameras_changed: int = 0
    dry_run: bool = False


def geometry_to_wgs84(geoms, crs: str):
    """Shapely geometries in ``crs`` (a parse_crs value) → EPSG:4326, vertex by vertex."""
    crs = gcrs.parse_crs(crs)
    if crs == "wgs84":
        return np.asarray(geoms, dtype=object)
    return shapely.transform(np.asarray(geoms, dtype=object),
                             lambda xy: np.column_stack(gcrs.to_wgs84(xy[:, 0], xy[:, 1], crs)))


def read_grids(path: str | Path, *, crs: str | None = None) -> tuple[gpd.GeoDataFrame, list[int]]:
    """Read a grid layer file into a GeoDataFrame (EPSG:4326) with code/name/households/population."""
    table = read_table(path)
    if table.geometry is None:
        raise InvalidData("the file has no geometry; give a GeoJSON, GeoPackage or Shapefile of grid polygons",
                          source=str(path))
    frame = table.frame
    if "code" not in frame.columns:
        raise InvalidData(RowError(None, "code", "missing column 'code' (the 15-digit grid code)"), source=str(path))
    if crs is None:
        crs = table.crs or "wgs84"
        crs = "wgs84" if crs in ("EPSG:4326", "OGC:CRS84") else crs
    errors = []
    geoms = np.asarray(table.geometry.to_numpy(), dtype=object)
    for i, g in enumerate(geoms):
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            kind = "empty" if g is None or g.is_empty else g.geom_type
            errors.append(RowError(table.lines[i], "geometry", f"a grid must be a polygon, got {kind}"))
    if errors:
        raise InvalidData(errors, source=str(path))
    out = gpd.GeoDataFrame({
        "code": frame["code"].str.strip(),
        "name": frame["name"].str.strip() if "name" in frame else frame["code"].str.strip(),
    }, geometry=geometry_to_wgs84(geoms, crs), crs=gcrs.STORAGE_CRS)
    for col in ("households", "population"):
        values = frame[col].str.strip() if col in frame else "0"
        out[col] = values
    for col in ("households", "population"):
        bad = ~out[col].replace("", "0").str.fullmatch(r"\d+")
        for i in np.flatnonzero(bad.to_numpy()):
            errors.append(RowError(table.lines[i], col, f"{out[col].iloc[i]!r} is not a whole number"))
        out[col] = out[col].replace("", "0").where(~bad, "0").astype(int)
    if errors:
        raise InvalidData(errors, source=str(path))
    return out, table.lines


def _communities(session: Session) -> gpd.GeoDataFrame:
    from app.layers_db import read_layer

    return read_layer(session, "communities")


def import_grids(session: Session, path: str | Path, *, crs: str | None = None, repair: bool = False,
                 dry_run: bool = False, tolerance_m: float = REPAIR_TOLERANCE_M) -> ImportResult:
    """Import (upsert) a grid layer; refuse it when it has topology errors unless ``repair``.

    The layer that results (stored grids replaced by the file's grids of the same code) is checked
    against the stored communities. All or nothing: nothing is written when anything is refused.
    After writing, incidents and cameras are re-geocoded.
    """
    from app.geocoding import regeocode_cameras, regeocode_incidents
    from app.layers_db import read_layer

    grids, lines = read_grids(path, crs=crs)
    result = ImportResult(grids=len(grids), dry_run=dry_run)
    communities = _communities(session)
    known = set(communities["code"])
    errors = []
    for i, c in enumerate(grids["code"]):
        try:
            GRID.validate(c)
        except ValueError as exc:
            errors.append(RowError(lines[i], "code", str(exc)))
            continue
        if c[: COMMUNITY.length] not in known:
            errors.append(RowError(lines[i], "code", f"grid {c}: no community {c[:COMMUNITY.length]} in the "
                                   "database; load the communities first"))
    if errors:
        raise InvalidData(errors, source=str(path))

    # the layer that results: the file's grids plus the stored grids it does not replace
    stored = read_layer(session, "grids")
    others = stored[~stored["code"].isin(grids["code"])]
    cols = ["code", "name", "households", "population"]
    layer = gpd.GeoDataFrame(
        pd.concat([grids[cols], pd.DataFrame(others[cols])], ignore_index=True),
        geometry=list(grids.geometry) + list(others.geometry), crs=gcrs.STORAGE_CRS)
    from_file = np.arange(len(layer)) < len(grids)
    if repair:
        before = layer.geometry.to_numpy()
        layer, result.changes = repair_grids(layer, communities, tolerance_m=tolerance_m)
        from_file |= ~shapely.equals_exact(layer.geometry.to_numpy(), before, 0)
    touched = {c[: COMMUNITY.length] for c in layer["code"]}
    report = check_grids(layer, communities[communities["code"].isin(touched)])
    result.report = report
    if not report.ok:
        line_of = {c: lines[i] for i, c in enumerate(grids["code"])}
        rows = [RowError(line_of.get(p.codes[0]) if p.codes else None, p.kind, p.message) for p in report.errors]
        hint = ("" if repair else " (run with --repair to fix overlaps and gaps narrower than "
                f"{tolerance_m:g} m and invalid rings; run check-grids to see the problems on a map)")
        rows.append(RowError(None, None, f"grid layer refused: {report.summary()}{hint}"))
        raise InvalidData(rows, source=str(path))
    grids = layer[from_file]

    existing = set(stored["code"])
    result.updated = int(grids["code"].isin(existing).sum())
    result.inserted = len(grids) - result.updated
    if dry_run:
        return result
    session.execute(text(
        "INSERT INTO grids (code, name, community_code, households, population, geom) "
        "SELECT v.code, v.name, left(v.code, 12), v.households, v.population, "
        "ST_Multi(ST_GeomFromWKB(v.wkb, 4326)) "
        "FROM unnest(CAST(:codes AS text[]), CAST(:names AS text[]), CAST(:households AS integer[]), "
        "CAST(:population AS integer[]), CAST(:wkb AS bytea[])) AS v(code, name, households, population, wkb) "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, community_code = EXCLUDED.community_code, "
        "households = EXCLUDED.households, population = EXCLUDED.population, geom = EXCLUDED.geom"),
        {"codes": list(grids["code"]), "names": list(grids["name"]),
         "households": [int(v) for v in grids["households"]], "population": [int(v) for v in grids["population"]],
         "wkb": [shapely.to_wkb(g) for g in grids.geometry]})
    result.incidents_changed = regeocode_incidents(session)
    result.cameras_changed = regeocode_cameras(session)
    return result
