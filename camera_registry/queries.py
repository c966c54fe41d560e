"""Questions asked of the registry: cameras by area and attribute, near a point, counts, misplaced ones.

All return GeoDataFrames (EPSG:4326) or DataFrames; distances are geodesic metres (PostGIS geography).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from camera_registry.schema import parse_value
from gis.errors import InvalidData, RowError

if TYPE_CHECKING:  # GeoPandas loads where a frame is built, not for a plain listing (``camera_rows``)
    import geopandas as gpd
    import pandas as pd


def _filters(grid, community, street, programme, status, point_class) -> tuple[str | None, dict]:
    """The SQL condition and parameters of the area and attribute filters (``cameras``, ``camera_rows``)."""
    clauses, params = [], {}
    for column, value in (("grid_code", grid), ("community_code", community), ("street_code", street)):
        if value:
            clauses.append(f"{column} = :{column}")
            params[column] = str(value).strip()
    for column, value in (("programme", programme), ("status", status), ("point_class", point_class)):
        if value is None or str(value).strip() == "":
            continue
        try:
            params[column] = parse_value(column, str(value).strip(), centre=None)
        except ValueError as exc:
            raise InvalidData(RowError(None, column, str(exc))) from None
        clauses.append(f"{column} = :{column}")
    return " AND ".join(clauses) or None, params


def cameras(session: Session, *, grid: str | None = None, community: str | None = None, street: str | None = None,
            programme: str | None = None, status: str | None = None, point_class: int | str | None = None
            ) -> gpd.GeoDataFrame:
    """Cameras matching every filter given (网格 grid, 社区 community, 街道 street codes; programme,
    status and class in any accepted spelling: ``天网``/``skynet``, ``在线``/``ON``, ``一类``/``1``)."""
    from camera_registry.exporter import cameras_frame

    return cameras_frame(session, *_filters(grid, community, street, programme, status, point_class))


def camera_rows(session: Session, columns: list[str], *, grid: str | None = None, community: str | None = None,
                street: str | None = None, programme: str | None = None, status: str | None = None,
                point_class: int | str | None = None) -> list[dict]:
    """``columns`` of the cameras ``cameras`` would return, as plain rows in the same order (by device ID),
    without building a GeoDataFrame: what ``gridwatch cameras list`` prints."""
    from camera_registry.schema import COLUMNS

    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"not camera columns: {unknown}")
    where, params = _filters(grid, community, street, programme, status, point_class)
    sql = f"SELECT {', '.join(columns)} FROM cameras" + (f" WHERE {where}" if where else "") + " ORDER BY device_id"
    return [dict(r) for r in session.execute(text(sql), params).mappings()]


def cameras_by_grid(session: Session, grid_code: str) -> gpd.GeoDataFrame:
    return cameras(session, grid=grid_code)


def cameras_by_community(session: Session, community_code: str) -> gpd.GeoDataFrame:
    return cameras(session, community=community_code)


def cameras_by_street(session: Session, street_code: str) -> gpd.GeoDataFrame:
    return cameras(session, street=street_code)


def cameras_by_programme(session: Session, programme: str) -> gpd.GeoDataFrame:
    return cameras(session, programme=programme)


def cameras_by_status(session: Session, status: str) -> gpd.GeoDataFrame:
    return cameras(session, status=status)


def cameras_by_class(session: Session, point_class: int | str) -> gpd.GeoDataFrame:
    return cameras(session, point_class=point_class)


def cameras_within(session: Session, lon: float, lat: float, distance_m: float) -> gpd.GeoDataFrame:
    """Cameras within ``distance_m`` geodesic metres of WGS-84 ``lon``/``lat``, nearest first.

    The frame has a ``distance_m`` column (PostGIS geography distance on the WGS-84 spheroid).
    """
    try:
        lon, lat, distance_m = float(lon), float(lat), float(distance_m)
    except (TypeError, ValueError):
        raise InvalidData("lon, lat and distance must be numbers") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidData(RowError(None, "lon/lat", f"({lon}, {lat}) is not a WGS-84 position"))
    if distance_m < 0:
        raise InvalidData(RowError(None, "distance_m", "must not be negative"))
    sql = text(
        "WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS g) "
        "SELECT c.device_id, c.name, c.programme, c.status, c.point_class, c.azimuth, c.fov, c.range_m, "
        "c.grid_code, c.community_code, ST_Distance(c.geom::geography, p.g) AS distance_m, c.geom "
        "FROM cameras c, p WHERE c.lifecycle = 'active' AND ST_DWithin(c.geom::geography, p.g, :d) "
        "ORDER BY distance_m, c.device_id")
    import pandas as pd

    from gis.io import wkb_frame

    return wkb_frame(pd.read_sql(sql, session.connection(), params={"lon": lon, "lat": lat, "d": distance_m}),
                     crs=4326)


def _counts(session: Session, table: str, key: str) -> pd.DataFrame:
    # every area appears, with zero when it has no camera (a blind area is the interesting answer)
    sql = text(
        f"SELECT a.code, a.name, count(c.device_id) AS cameras, "
        f"count(c.device_id) FILTER (WHERE c.status = 'ON') AS online, "
        f"count(c.device_id) FILTER (WHERE c.programme = 'skynet') AS skynet "
        f"FROM {table} a LEFT JOIN cameras c ON c.{key} = a.code GROUP BY a.code, a.name ORDER BY a.code")
    import pandas as pd

    return pd.DataFrame(session.execute(sql).mappings().all(), columns=["code", "name", "cameras", "online", "skynet"])


def counts_per_grid(session: Session) -> pd.DataFrame:
    """code, name, cameras, online, skynet per grid (网格), zero included."""
    return _counts(session, "grids", "grid_code")


def counts_per_community(session: Session) -> pd.DataFrame:
    """code, name, cameras, online, skynet per community (社区), zero included."""
    return _counts(session, "communities", "community_code")


DECLARED_SQL = (
    "SELECT c.device_id, c.name, c.management_unit, c.community_code, "
    "coalesce(c.declared_community_code, m.code) AS declared_code, "
    "CASE WHEN c.declared_community_code IS NOT NULL THEN 'record' ELSE 'management unit' END AS declared_by, "
    "d.name AS declared_name, c.geom "
    "FROM cameras c "
    "LEFT JOIN LATERAL (SELECT code FROM communities WHERE c.declared_community_code IS NULL "
    "  AND c.management_unit IS NOT NULL AND name = c.management_unit ORDER BY code LIMIT 1) m ON true "
    "JOIN communities d ON d.code = coalesce(c.declared_community_code, m.code) "
    "WHERE NOT ST_Covers(d.geom, c.geom) ORDER BY c.device_id")


def cameras_outside_declared_community(session: Session) -> gpd.GeoDataFrame:
    """Cameras whose position is not covered by the community (社区) their record declares.

    The declared community is ``declared_community_code`` (an import column, 所属社区编码) or, when that
    is empty, the community whose name is the camera's management unit (community cameras are managed
    by their community: 管理单位 = 石门社区). Cameras declaring neither are not judged. The test is
    PostGIS ``ST_Covers`` on the community polygon, so a camera on the boundary counts as inside.
    Columns: device_id, name, management_unit, community_code (where it is), declared_code,
    declared_by ('record' or 'management unit'), declared_name, geom.
    """
    import pandas as pd

    from gis.io import wkb_frame

    return wkb_frame(pd.read_sql(text(DECLARED_SQL), session.connection()), crs=4326)


#: revision keys that are bookkeeping, not a change a reader of the history needs to see
_UNSHOWN = ("version",)


def timeline(session: Session, device_id: str) -> list[dict]:
    """A camera's history (履历), newest first: each event (ON, OFF, VLOST, DEFECT, ADD, DEL, UPDATE) with when,
    who, its note, the version it made and what changed: ``changes`` = ``[(field, before, after), …]``, the
    difference between the revision written with the event and the one before it (empty for the first).

    Every change writes one event and its revision together, stamped with one time
    (``history.record_change``, the importer). They are paired by that time and, among several of one time
    (two changes in one transaction stamped alike), in the order they were written (their ids): the n-th
    event of a time goes with the n-th revision of that time.
    """
    from camera_registry.history import events, revisions  # here: the history pulls SciPy (spacing)

    by_at: dict = {}
    previous: dict = {}
    for rev in revisions(session, device_id):  # oldest first: by time, then id
        before = previous
        after = {k: v for k, v in rev.data.items() if k not in _UNSHOWN}
        changes = [] if not before else [(k, before.get(k), after.get(k)) for k in after
                                         if before.get(k) != after.get(k)]
        by_at.setdefault(rev.at, []).append((rev.version, changes))
        previous = after
    out, taken = [], {}
    for e in events(session, device_id):  # by time, then id
        n = taken.get(e.at, 0)
        taken[e.at] = n + 1
        same_time = by_at.get(e.at, [])
        version, changes = same_time[n] if n < len(same_time) else (None, [])
        out.append({"at": e.at, "event": e.event, "actor": e.actor, "note": e.note, "version": version,
                    "changes": changes})
    return out[::-1]
