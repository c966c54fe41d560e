"""Data behind the operator and grid-lead dashboards: incident lists, details, search (no Flask here).

Every function takes the grids the user may see (``grids``: None = the whole district, else a set of
grid codes, from ``app.accounts.auth.visible_grid_codes``) and filters in SQL, so scoping holds for
pages and JSON endpoints alike. Coordinates handed to the map are display coordinates
(``layers.base.to_display``: shifted to GCJ-02 only when the basemap is Amap).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from sqlalchemy import Text, and_, case, cast, false, func, literal, not_, select, text
from sqlalchemy.orm import Session

from app.incidents.models import OPEN_STATES, Category, Incident
from app.incidents.queries import incident_conditions, overdue_condition
from app.layers_db import read_postgis
from gis.geojson import collection_text, feature_text, point_geojson
from layers.base import shift_lonlat
from layers.incidents import PROPERTIES as MARKER_PROPERTIES

#: the snapshot a read runs under, as the cursor of the live refresh (``after``), and the clock
CURSOR_SQL = text("SELECT CAST(pg_current_snapshot() AS text), now()")
PAGE_MARKERS = 1000       # most markers a page embeds; beyond that the page loads by bounding box
API_LIMIT = 2000          # most features one /api/incidents answer carries
HEAT_CELL_DEG = 0.001     # heat layer cell (about 100 m × 110 m at Da'an): one weighted point per cell


@dataclass
class IncidentFilter:
    """Filters of the incident map and list; every field optional."""

    states: list[str] = field(default_factory=lambda: list(OPEN_STATES))
    categories: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    street: str | None = None
    community: str | None = None
    since: datetime | None = None
    after: str | None = None  # a cursor an answer gave (``Markers.cursor``): what changed since that answer
    bbox: tuple[float, float, float, float] | None = None

    def query_string(self) -> dict:
        out = {"state": self.states, "category": self.categories}
        if self.start:
            out["start"] = self.start.date().isoformat()
        if self.end:
            out["end"] = (self.end - timedelta(days=1)).date().isoformat()
        if self.street:
            out["street"] = self.street
        if self.community:
            out["community"] = self.community
        return out


# request arguments → IncidentFilter / spot: app.dashboards.params (parse_filter, parse_spot), checked there


def _conditions(flt: IncidentFilter, grids) -> list:
    return incident_conditions(states=flt.states, categories=flt.categories, start=flt.start, end=flt.end,
                               street=flt.street, community=flt.community, since=flt.since, after=flt.after,
                               bbox=flt.bbox, grid_codes=sorted(grids) if grids is not None else None)


def incident_frame(s: Session, flt: IncidentFilter, grids, *, tz: str, limit: int = PAGE_MARKERS,
                   lang: str = "zh") -> tuple[gpd.GeoDataFrame, int]:
    """(newest ``limit`` incidents matching ``flt`` in EPSG:4326, how many match in total); times as
    ``iso_minute`` text in the district's zone ``tz``."""
    conds = _conditions(flt, grids)
    overdue = overdue_condition()
    stmt = (select(Incident.id, Incident.external_id, Incident.state, Incident.category_code,
                   (Category.name_en if lang == "en" else Category.name_zh).label("category"),
                   Incident.description, Incident.address, Incident.priority, Incident.reported_at,
                   Incident.deadline, Incident.grid_code, Incident.community_code, Incident.updated_at,
                   overdue.label("overdue"), func.ST_AsEWKB(Incident.geom).label("geom"))
            .join(Category, Category.code == Incident.category_code).where(*conds)
            .order_by(Incident.reported_at.desc(), Incident.id.desc()).limit(limit))
    frame = read_postgis(s.connection(), stmt)
    total = len(frame) if len(frame) < limit else s.scalar(
        select(func.count()).select_from(Incident).where(*conds))
    for col in ("reported_at", "deadline", "updated_at"):
        frame[col] = frame[col].map(lambda v: iso_minute(v, tz))
    return frame, int(total)


def iso_minute(value, tz: str) -> str | None:
    """A time as the map shows it: ``YYYY-MM-DD HH:MM`` in the district's zone ``tz`` (None stays None)."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert(tz).strftime("%Y-%m-%d %H:%M")


def local_iso(value: datetime | None, tz: str) -> str | None:
    """ISO 8601 in the district's zone ``tz`` with its offset, to the second: the page shows the first
    16 characters as the local time, and any client can still parse it exactly."""
    return None if value is None else value.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


@dataclass
class Markers:
    """The incident markers of a map or an ``/api/incidents`` answer, as the database wrote them."""

    features: list[str]   # one compact GeoJSON Feature text each (``gis.geojson.feature_text``), newest first
    total: int            # how many incidents match the filter (more than ``len(features)`` when capped)
    now: datetime         # the database's clock when they were read (for ``since``)
    cursor: str           # the snapshot they were read under (the live refresh's next ``after``)


def _json_value(expr):
    # PostgreSQL writes a JSON string as json.dumps(ensure_ascii=False) does (same escapes, UTF-8 kept)
    return func.coalesce(cast(func.to_json(expr), Text), "null")


def _local_minute(column, tz: str):
    # iso_minute in SQL: the time in the district's zone as YYYY-MM-DD HH:MM
    return _json_value(func.to_char(func.timezone(tz, column), "YYYY-MM-DD HH24:MI"))


@lru_cache(maxsize=16)
def _marker_json(tz: str, lang: str):
    """SQL writing each incident's ``marker_properties`` as compact JSON text, keys in that order
    (built once per zone and language: SQLAlchemy expressions are immutable)."""
    overdue = overdue_condition()
    values = {
        "id": cast(Incident.id, Text),
        "no": _json_value(func.coalesce(func.nullif(Incident.external_id, ""), cast(Incident.id, Text))),
        "state": _json_value(Incident.state),
        "overdue": case((overdue, "true"), else_="false"),
        "category": _json_value(Category.name_en if lang == "en" else Category.name_zh),
        "reported_at": _local_minute(Incident.reported_at, tz),
        "deadline": _local_minute(Incident.deadline, tz),
        "grid_code": _json_value(Incident.grid_code),
    }
    parts = []
    for i, key in enumerate(MARKER_PROPERTIES):  # KeyError here = a marker property without SQL
        parts += [literal(("{" if i == 0 else ",") + json.dumps(key) + ":"), values[key]]
    return func.concat(*parts, literal("}"))


def incident_markers(s: Session, flt: IncidentFilter, grids, *, basemap: str, tz: str, lang: str = "zh",
                     limit: int = API_LIMIT) -> Markers:
    """The newest ``limit`` matching incidents as marker features in display coordinates, in one query.

    The database writes each marker's properties (``layers.incidents.marker_properties``: same keys,
    order and values, times in the district's zone ``tz``); only the point goes through
    ``gis.geojson.point_geojson`` after ``shift_lonlat``, so a page's embedded markers and the live
    refresh read exactly as ``geojson_text`` would write them, at a fraction of the cost.
    """
    conds = _conditions(flt, grids)
    conn = s.connection()  # plain rows: the ORM's row processing cost more than the JSON
    # the cursor first: a statement sees at least what an earlier snapshot saw, so whatever that snapshot
    # missed (a transaction still running) is changed "after" it and comes with the next poll
    cursor, now = conn.execute(CURSOR_SQL).one()
    stmt = (select(_marker_json(tz, lang), func.ST_X(Incident.geom), func.ST_Y(Incident.geom))
            .join(Category, Category.code == Incident.category_code).where(*conds)
            .order_by(Incident.reported_at.desc(), Incident.id.desc()).limit(limit))
    rows = conn.execute(stmt).all()
    total = len(rows) if len(rows) < limit else s.scalar(select(func.count()).select_from(Incident).where(*conds))
    props = [r[0] for r in rows]
    lon, lat = shift_lonlat([r[1] for r in rows], [r[2] for r in rows], basemap)
    return Markers([feature_text(g, p) for g, p in zip(point_geojson(lon, lat), props)], int(total), now, cursor)


def gone_ids(s: Session, flt: IncidentFilter, grids, *, limit: int = API_LIMIT) -> tuple[list[int], bool]:
    """For a poll of changes (``since`` or ``after``): the incidents in ``grids`` (None: all) changed then
    that no longer match the rest of ``flt`` (closed while the map shows open ones, moved out of the view,
    …), so the map drops their markers. At most ``limit`` ids, and whether there were more."""
    if flt.since is None and flt.after is None:
        return [], False
    rest = incident_conditions(states=flt.states, categories=flt.categories, start=flt.start, end=flt.end,
                               street=flt.street, community=flt.community, bbox=flt.bbox)
    if not rest:  # nothing to stop matching
        return [], False
    changed = incident_conditions(since=flt.since, after=flt.after,
                                  grid_codes=sorted(grids) if grids is not None else None)
    stmt = (select(Incident.id).where(*changed, not_(func.coalesce(and_(*rest), false())))
            .order_by(Incident.id).limit(limit + 1))
    ids = list(s.connection().execute(stmt).scalars())
    return ids[:limit], len(ids) > limit


def incident_geojson(s: Session, flt: IncidentFilter, grids, *, basemap: str, tz: str, lang: str = "zh",
                     limit: int = API_LIMIT) -> str:
    """GeoJSON text of matching incidents for the map script (``incident_markers``), serialised like
    the page's markers (the page draws them with the marker layer's own options), plus ``total``,
    ``truncated``, ``now`` and ``cursor``; a poll of changes (``since``/``after``) also ``gone`` and
    ``gone_truncated`` (``gone_ids``)."""
    m = incident_markers(s, flt, grids, basemap=basemap, tz=tz, lang=lang, limit=limit)
    extra = {"total": m.total, "truncated": m.total > len(m.features), "now": m.now.isoformat(), "cursor": m.cursor}
    if flt.since is not None or flt.after is not None:
        extra["gone"], extra["gone_truncated"] = gone_ids(s, flt, grids, limit=limit)
    return collection_text(m.features, extra=extra)


def heat_cells(s: Session, flt: IncidentFilter, grids) -> gpd.GeoDataFrame:
    """Matching incidents counted per ~100 m cell (column ``n``): a heat layer of bounded size."""
    cell = func.ST_SnapToGrid(Incident.geom, HEAT_CELL_DEG)
    stmt = (select(func.count().label("n"), func.ST_AsEWKB(cell).label("geom"))
            .where(*_conditions(flt, grids)).group_by(cell))
    return read_postgis(s.connection(), stmt)
