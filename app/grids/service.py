"""Grid (网格) import: read, convert to WGS-84, check topology (optionally repair), write, re-geocode.

Every row is checked first (names against the column's size and for control or bidi characters,
households and population against the integer column, coordinates that look projected when read as
degrees); a grid whose name, counts and geometry equal the stored ones is left alone, so importing
an export of the layer changes nothing.

What an import replaces is its *scope*: ``None`` upserts the file's grids and removes nothing (the
CLI's default); :data:`LAYER` replaces the whole layer and a community code (社区) replaces that
community's grids: a stored grid of the scope that the file no longer has is removed. A removed grid
that still has members (``member_roles``) is refused, naming them: the foreign key would delete their
roles with the grid. :func:`plan_import` says what an import would do (grids added, removed, reshaped,
renamed; the topology report); :func:`import_grids` writes it, all or nothing, and re-geocodes; a dry
run writes it inside a SAVEPOINT that is rolled back, so the incidents and cameras it says change grid
are exactly those the commit moves.
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

from app.grids.models import LEAD, Grid
from gis import crs as gcrs
from gis.codes import COMMUNITY, GRID
from gis.errors import Conflict, InvalidData, RowError
from gis.io import read_table
from gis.text import BLANKS, column_length, integer_range, text_problem
from gis.topology import TopologyReport, area_m2, check_grids, repair_grids

REPAIR_TOLERANCE_M = 1.0


#: the scope that replaces the whole grid layer (else a community code, or None: upsert, remove nothing)
LAYER = "layer"
#: the kinds of point that re-geocoding moves between grids: kind → (table, key column, the rows a move of
#: which is counted: a condition on ``:shown``, the lifecycles on the map, or None for every row). Every
#: camera is re-geocoded (a reinstated record is then right), but a retired one's move is not counted.
MOVED = {"incident": ("incidents", "id", None), "camera": ("cameras", "device_id", "lifecycle = ANY(:shown)")}


@dataclass(frozen=True)
class Reshape:
    """A grid whose geometry changes: its area (m², EPSG:4544) before and after."""

    code: str
    name: str
    area_before_m2: float
    area_after_m2: float


@dataclass(frozen=True)
class Rename:
    code: str
    before: str
    after: str


@dataclass(frozen=True)
class Move:
    """``n`` points of ``kind`` (incident, camera) whose grid changes from ``before`` to ``after`` (None: none)."""

    kind: str
    before: str | None
    after: str | None
    n: int


@dataclass(frozen=True)
class Holder:
    """A member (网格员) holding a role in a grid the import would remove."""

    grid_code: str
    member_id: int
    name: str
    role: str


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
    scope: str | None = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reshaped: list[Reshape] = field(default_factory=list)
    renamed: list[Rename] = field(default_factory=list)
    holders: list[Holder] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    #: the grids to write (EPSG:4326; repaired), the stored layer read, the file's line of each grid code
    written: gpd.GeoDataFrame | None = field(default=None, repr=False)
    stored: gpd.GeoDataFrame | None = field(default=None, repr=False)
    lines: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def removed_count(self) -> int:
        return len(self.removed)

    def moved(self, kind: str) -> int:
        """How many points of ``kind`` (incident, camera) change grid."""
        return sum(m.n for m in self.moves if m.kind == kind)

    @property
    def writes(self) -> bool:
        """Whether committing changes anything in the grids table."""
        return self.written is not None and (len(self.written) > 0 or bool(self.removed))


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


def _communities(session: Session) -> gpd.GeoDataFrame:
    from app.layers_db import read_layer

    return read_layer(session, "communities")


def check_scope(session: Session, scope: str | None) -> str | None:
    """``scope`` checked: None, :data:`LAYER` or the code of a stored community (InvalidData naming ``scope``)."""
    if scope is None or scope == LAYER:
        return scope
    try:
        COMMUNITY.validate(scope)
    except ValueError as exc:
        raise InvalidData(RowError(None, "scope", f"{LAYER!r} or a community code: {exc}")) from None
    if session.execute(text("SELECT 1 FROM communities WHERE code = :c"), {"c": scope}).first() is None:
        raise InvalidData(RowError(None, "scope", f"no community {scope} in the database"))
    return scope


def _code_errors(grids: gpd.GeoDataFrame, lines, known: set[str], scope: str | None) -> list[RowError]:
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
        elif scope not in (None, LAYER) and not c.startswith(scope):
            errors.append(RowError(lines[i], "code", f"grid {c} is not in community {scope}: this upload "
                                   f"replaces only the grids of community {scope}"))
    return errors


def _removed(stored: gpd.GeoDataFrame, codes: set[str], scope: str | None) -> list[str]:
    """Stored grids of ``scope`` that the file (``codes``) no longer has."""
    if scope is None:
        return []
    mine = stored["code"] if scope == LAYER else stored.loc[stored["community_code"] == scope, "code"]
    return sorted(set(mine) - codes)


def grid_holders(session: Session, codes) -> list[Holder]:
    """The members holding a role in any of the grids ``codes``, by grid, role and name."""
    rows = session.execute(text(
        "SELECT r.grid_code, m.id, m.name, r.role FROM member_roles r JOIN members m ON m.id = r.member_id "
        "WHERE r.grid_code = ANY(:codes) ORDER BY r.grid_code, r.role = :lead DESC, m.name, m.id"),
        {"codes": sorted(codes), "lead": LEAD}).all()
    return [Holder(*r) for r in rows]


def plan_import(session: Session, path: str | Path, *, crs: str | None = None, repair: bool = False,
                tolerance_m: float = REPAIR_TOLERANCE_M, scope: str | None = None) -> ImportResult:
    """What importing the grid layer file ``path`` would do, without writing anything.

    The layer that results (stored grids replaced by the file's grids of the same code, the removed
    grids of ``scope`` gone; repaired when ``repair``) is checked against the communities it touches:
    ``report`` holds the topology problems (a community left without its grids is one gap), ``holders``
    the members of removed grids. Raises InvalidData for a file or rows that cannot be read or whose
    codes do not fit (each row named by its line).
    """
    from app.layers_db import read_layer

    scope = check_scope(session, scope)
    grids, lines = read_grids(path, crs=crs)
    result = ImportResult(grids=len(grids), scope=scope)
    communities = _communities(session)
    errors = _code_errors(grids, lines, set(communities["code"]), scope)
    if errors:
        raise InvalidData(errors, source=str(path))
    result.lines = {c: lines[i] for i, c in enumerate(grids["code"])}

    stored = read_layer(session, "grids")
    result.stored = stored
    result.removed = _removed(stored, set(grids["code"]), scope)
    others = stored[~stored["code"].isin(grids["code"]) & ~stored["code"].isin(result.removed)]
    cols = ["code", "name", "households", "population"]
    layer = gpd.GeoDataFrame(
        pd.concat([grids[cols], pd.DataFrame(others[cols])], ignore_index=True),
        geometry=list(grids.geometry) + list(others.geometry), crs=gcrs.STORAGE_CRS)
    from_file = np.arange(len(layer)) < len(grids)
    if repair:
        before = layer.geometry.to_numpy()
        layer, result.changes = repair_grids(layer, communities, tolerance_m=tolerance_m)
        from_file |= ~shapely.equals_exact(layer.geometry.to_numpy(), before, 0)
    touched = {c[: COMMUNITY.length] for c in list(layer["code"]) + result.removed}
    result.report = check_grids(layer, communities[communities["code"].isin(touched)])
    result.holders = grid_holders(session, result.removed)
    _diff(result, layer[from_file], stored)
    return result


def _diff(result: ImportResult, grids: gpd.GeoDataFrame, stored: gpd.GeoDataFrame) -> None:
    """Fill what changes: grids added, renamed, reshaped (area before/after), unchanged; ``written``."""
    by_code, geom_col = stored.set_index("code"), stored.geometry.name
    same = np.zeros(len(grids), dtype=bool)
    reshaped = []
    for i, (code, name, households, population, geom) in enumerate(zip(
            grids["code"], grids["name"], grids["households"], grids["population"], grids.geometry)):
        if code not in by_code.index:
            result.added.append(code)
            continue
        old = by_code.loc[code]
        multi = shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom
        # normalised: a ring written the other way round or from another vertex (a Shapefile's) is the same
        moved = not shapely.equals_exact(shapely.normalize(multi), shapely.normalize(old[geom_col]), 0)
        if old["name"] != name:
            result.renamed.append(Rename(code, old["name"], name))
        if moved:
            reshaped.append((code, name, old[geom_col], geom))
        same[i] = not moved and (old["name"], int(old["households"]), int(old["population"])) == (
            name, int(households), int(population))
    if reshaped:
        before = area_m2(np.array([r[2] for r in reshaped], dtype=object))
        after = area_m2(np.array([r[3] for r in reshaped], dtype=object))
        result.reshaped = [Reshape(c, n, float(b), float(a)) for (c, n, _, _), b, a in zip(reshaped, before, after)]
    result.unchanged = int(same.sum())
    result.written = grids[~same]
    result.updated = len(result.written) - len(result.added)
    result.inserted = len(result.added)


def refuse(result: ImportResult, *, repair: bool, tolerance_m: float, source: str | None = None) -> None:
    """Raise what keeps ``result`` from being written: InvalidData for topology problems, Conflict naming
    the members of a removed grid."""
    report = result.report
    if report is not None and not report.ok:
        rows = [RowError(result.lines.get(p.codes[0]) if p.codes else None, p.kind, p.message)
                for p in report.errors]
        hint = ("" if repair else " (run with --repair to fix overlaps and gaps narrower than "
                f"{tolerance_m:g} m and invalid rings; run check-grids to see the problems on a map)")
        rows.append(RowError(None, None, f"grid layer refused: {report.summary()}{hint}"))
        raise InvalidData(rows, source=source)
    if result.holders:
        raise Conflict(holders_message(result.holders))


def holders_message(holders: list[Holder]) -> str:
    by_grid: dict[str, list[str]] = {}
    for h in holders:
        by_grid.setdefault(h.grid_code, []).append(f"{h.name} (#{h.member_id}, {h.role})")
    parts = "; ".join(f"grid {g}: {', '.join(names)}" for g, names in by_grid.items())
    return (f"{len(by_grid)} grid(s) to remove still have members, whose roles would be deleted with the grid: "
            f"{parts}. Move or unassign them first")


def _grid_codes(session: Session) -> dict[str, dict]:
    """kind → {key: grid code} of the points whose moves count (:data:`MOVED`)."""
    from app.cameras.service import DEFAULT_LIFECYCLES

    return {kind: dict(session.execute(text(f"SELECT {key}, grid_code FROM {table}"
                                            + (f" WHERE {counted}" if counted else "")),
                                       {"shown": list(DEFAULT_LIFECYCLES)}).all())
            for kind, (table, key, counted) in MOVED.items()}


def _moves(before: dict[str, dict], after: dict[str, dict]) -> list[Move]:
    out = []
    for kind in MOVED:
        pairs: dict[tuple, int] = {}
        old = before[kind]
        for key, code in after[kind].items():
            if key in old and old[key] != code:
                pairs[(old[key], code)] = pairs.get((old[key], code), 0) + 1
        out += [Move(kind, a, b, n) for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    return out


def _write(session: Session, result: ImportResult, *, guard: bool = True) -> None:
    """Write ``result`` (upsert the changed grids, delete the removed ones), re-geocode, record the moves.
    ``guard``: refuse (Conflict) when a grid to remove has members (only a rolled-back simulation skips it)."""
    from app.geocoding import regeocode_cameras, regeocode_incidents

    before = _grid_codes(session)
    grids = result.written
    if result.removed and guard:
        # no member may be given a role in a grid being removed until this transaction ends (the cascade
        # would delete it unseen): block writers of member_roles, then look again
        session.execute(text("LOCK TABLE member_roles IN SHARE MODE"))
        holders = grid_holders(session, result.removed)
        if holders:
            raise Conflict(holders_message(holders))
    if result.removed:
        session.execute(text("DELETE FROM grids WHERE code = ANY(:codes)"), {"codes": result.removed})
    if len(grids):
        session.execute(text(
            "INSERT INTO grids (code, name, community_code, households, population, geom) "
            "SELECT v.code, v.name, left(v.code, 12), v.households, v.population, "
            "ST_Multi(ST_GeomFromWKB(v.wkb, 4326)) "
            "FROM unnest(CAST(:codes AS text[]), CAST(:names AS text[]), CAST(:households AS integer[]), "
            "CAST(:population AS integer[]), CAST(:wkb AS bytea[])) AS v(code, name, households, population, wkb) "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, community_code = EXCLUDED.community_code, "
            "households = EXCLUDED.households, population = EXCLUDED.population, geom = EXCLUDED.geom"),
            {"codes": list(grids["code"]), "names": list(grids["name"]),
             "households": [int(v) for v in grids["households"]],
             "population": [int(v) for v in grids["population"]],
             "wkb": [shapely.to_wkb(g) for g in grids.geometry]})
    result.incidents_changed = regeocode_incidents(session)
    result.cameras_changed = regeocode_cameras(session)
    result.moves = _moves(before, _grid_codes(session))


def simulate(session: Session, result: ImportResult) -> ImportResult:
    """Write ``result`` inside a SAVEPOINT and roll it back: the re-geocoding counts and moves the commit
    would give, computed the way it computes them (nothing stays written, audit rows included). A grid
    to remove that has members is removed here too, so the preview shows where its points would go."""
    if not result.writes:
        return result
    nested = session.begin_nested()
    try:
        _write(session, result, guard=False)
    finally:
        nested.rollback()
    return result


def layer_stamp(session: Session) -> str:
    """A stamp of the grids table that changes with every write to it (count and latest ``updated_at``,
    which a trigger sets on every insert and update): a preview is stale when it differs."""
    n, latest = session.execute(text("SELECT count(*), max(updated_at) FROM grids")).one()
    return f"{n}:{latest.isoformat() if latest else '-'}"


def lock_grids(session: Session) -> None:
    """Serialise grid writers for the rest of the transaction (readers go on): plan and write see one layer."""
    session.execute(text("LOCK TABLE grids IN SHARE ROW EXCLUSIVE MODE"))


def import_grids(session: Session, path: str | Path, *, crs: str | None = None, repair: bool = False,
                 dry_run: bool = False, tolerance_m: float = REPAIR_TOLERANCE_M, scope: str | None = None
                 ) -> ImportResult:
    """Import a grid layer file into ``scope`` (None: upsert, :data:`LAYER`, or a community code).

    Refused when the resulting layer has topology errors (unless ``repair`` fixes them) or a grid to
    remove still has members. All or nothing: nothing is written when anything is refused. After
    writing, incidents and cameras are re-geocoded; a dry run computes the same inside a rolled-back
    SAVEPOINT (``moves``, ``incidents_changed``, ``cameras_changed``).
    """
    if not dry_run:
        lock_grids(session)
    result = plan_import(session, path, crs=crs, repair=repair, tolerance_m=tolerance_m, scope=scope)
    result.dry_run = dry_run
    refuse(result, repair=repair, tolerance_m=tolerance_m, source=str(path))
    if dry_run:
        return simulate(session, result)
    if result.writes:
        _write(session, result)
    return result
