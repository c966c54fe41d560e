"""Grid (网格) import: read, convert to WGS-84, check topology (optionally repair), upsert, re-geocode.

Every row is checked first (names against the column's size and for control or bidi characters,
households and population against the integer column, coordinates that look projected when read as
degrees); a grid whose name, counts and geometry equal the stored ones is left alone, so importing
an export of the layer changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.grids.models import Grid
from gis import crs as gcrs
from gis.codes import COMMUNITY, GRID
from gis.errors import InvalidData, RowError
from gis.io import read_table
from gis.text import BLANKS, column_length, integer_range, text_problem
from gis.topology import TopologyReport, check_grids, repair_grids

REPAIR_TOLERANCE_M = 1.0


@dataclass
class ImportResult:
    grids: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
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
    geoms = np.asarray(table.geometry.to_numpy(), dtype=object)
    errors = geometry_errors(geoms, table.lines, gcrs.parse_crs(crs))
    codes = frame["code"].str.strip(BLANKS)
    names = frame["name"].str.strip(BLANKS) if "name" in frame else codes
    limit = column_length(Grid.__table__.c.name)
    for i, name in enumerate(names):
        problem = text_problem(name, max_len=limit)
        if problem is not None:
            errors.append(RowError(table.lines[i], "name", problem))
    counts = {col: _counts(frame[col] if col in frame else pd.Series(["0"] * len(frame)), col, table.lines, errors)
              for col in ("households", "population")}
    if errors:
        raise InvalidData(sorted(errors, key=lambda e: (e.line or 0, e.field or "")), source=str(path))
    out = gpd.GeoDataFrame({"code": codes, "name": names, **counts},
                           geometry=geometry_to_wgs84(geoms, crs), crs=gcrs.STORAGE_CRS)
    return out, table.lines


def geometry_errors(geoms, lines, crs: str) -> list[RowError]:
    """Geometries that are no polygon, or whose degrees cannot be degrees (:func:`projected_errors`)."""
    errors = []
    for i, g in enumerate(geoms):
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            kind = "empty" if g is None or g.is_empty else g.geom_type
            errors.append(RowError(lines[i], "geometry", f"a grid must be a polygon, got {kind}"))
    return errors + projected_errors(geoms, lines, crs)


def projected_errors(geoms, lines, crs: str) -> list[RowError]:
    """Geometries in a geographic ``crs`` (a ``parse_crs`` value) with a vertex beyond ±180°/±90°: metres of
    a projected CRS read as degrees (a file without its CRS, no --crs); the reason says what to pass."""
    if not gcrs.is_geographic(crs):
        return []
    errors = []
    for line, g in zip(lines, geoms):
        xy = shapely.get_coordinates(g) if g is not None else np.empty((0, 2))
        if len(xy) and gcrs.looks_projected(xy[:, 0], xy[:, 1]).any():
            errors.append(RowError(line, "geometry", f"({xy[0, 0]:g}, {xy[0, 1]:g}) in {crs}: {gcrs.PROJECTED_HINT}"))
    return errors


def _counts(values: pd.Series, col: str, lines, errors: list[RowError]) -> list[int]:
    """Whole numbers ≥ 0 that the integer column holds (an empty cell is 0); others are row errors."""
    _, top = integer_range(Grid.__table__.c[col])
    out = []
    for line, raw in zip(lines, values.astype(str).str.strip(BLANKS)):
        raw = raw or "0"
        if not raw.isascii() or not raw.isdigit():
            errors.append(RowError(line, col, f"{raw!r} is not a whole number ≥ 0"))
        elif int(raw) > top:
            errors.append(RowError(line, col, f"{raw} is larger than the column holds (at most {top})"))
        else:
            out.append(int(raw))
            continue
        out.append(0)
    return out


def _unchanged(grids: gpd.GeoDataFrame, stored: gpd.GeoDataFrame) -> np.ndarray:
    """Where a grid equals its stored self: name, counts and every vertex (stored grids are multi-polygons)."""
    by_code, geom_col = stored.set_index("code"), stored.geometry.name
    out = np.zeros(len(grids), dtype=bool)
    for i, (code, name, households, population, geom) in enumerate(zip(
            grids["code"], grids["name"], grids["households"], grids["population"], grids.geometry)):
        if code not in by_code.index:
            continue
        old = by_code.loc[code]
        multi = shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom
        out[i] = ((old["name"], int(old["households"]), int(old["population"])) == (name, int(households),
                                                                                     int(population))
                  and shapely.equals_exact(multi, old[geom_col], 0))
    return out


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
    same = _unchanged(grids, stored)
    result.unchanged = int(same.sum())
    grids = grids[~same]
    result.updated = int(grids["code"].isin(set(stored["code"])).sum())
    result.inserted = len(grids) - result.updated
    if dry_run or grids.empty:
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
