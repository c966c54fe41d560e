"""Data behind the operator and grid-lead dashboards: incident lists, details, search (no Flask here).

Every function takes the grids the user may see (``grids``: None = the whole district, else a set of
grid codes, from ``app.accounts.auth.visible_grid_codes``) and filters in SQL, so scoping holds for
pages and JSON endpoints alike. Coordinates handed to the map are display coordinates
(``layers.base.to_display``: shifted to GCJ-02 only when the basemap is Amap).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import geopandas as gpd
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.incidents.models import OPEN_STATES, STATES
from gis.codes import COMMUNITY, STREET
from gis.errors import InvalidData, NotFound, RowError
from layers.base import display_crs, shift_lonlat, to_display
from layers.incidents import marker_properties

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


def _date(value: str, name: str, errors: list) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(value), time.min, tzinfo=timezone.utc)
    except ValueError:
        errors.append(RowError(None, name, f"{value!r} is not a date (YYYY-MM-DD)"))
        return None


def parse_filter(args, *, basemap: str = "none") -> IncidentFilter:
    """Build a filter from request arguments (a MultiDict); bad values raise InvalidData naming the field."""
    errors: list[RowError] = []
    flt = IncidentFilter()
    states = [s for s in args.getlist("state") if s]
    if states:
        bad = [s for s in states if s != "all" and s not in STATES]
        if bad:
            errors.append(RowError(None, "state", f"{bad[0]!r} is not one of {', '.join(STATES)}"))
        flt.states = [] if "all" in states else states
    flt.categories = [c for c in args.getlist("category") if c]
    if args.get("start"):
        flt.start = _date(args["start"], "start", errors)
    if args.get("end"):
        end = _date(args["end"], "end", errors)
        flt.end = end + timedelta(days=1) if end else None  # the end day is included
    for name, kind in (("street", STREET), ("community", COMMUNITY)):
        value = args.get(name)
        if value:
            try:
                kind.validate(value)
            except ValueError as exc:
                errors.append(RowError(None, name, str(exc)))
            setattr(flt, name, value)
    if args.get("since"):
        try:
            flt.since = datetime.fromisoformat(args["since"])
            if flt.since.tzinfo is None:
                flt.since = flt.since.replace(tzinfo=timezone.utc)
        except ValueError:
            errors.append(RowError(None, "since", f"{args['since']!r} is not an ISO time"))
    if args.get("bbox"):
        try:
            w, s, e, n = (float(v) for v in args["bbox"].split(","))
            if not (w < e and s < n):
                raise ValueError
            flt.bbox = display_bbox_to_wgs84((w, s, e, n), basemap)
        except ValueError:
            errors.append(RowError(None, "bbox", "use bbox=W,S,E,N in degrees with W < E and S < N"))
    if errors:
        raise InvalidData(errors)
    return flt


def display_bbox_to_wgs84(bbox, basemap: str) -> tuple[float, float, float, float]:
    """A bounding box seen on the map back in WGS-84; on a GCJ-02 basemap widened by 1 km so
    the ~0.5 km shift can never drop an incident at the edge of the view."""
    w, s, e, n = bbox
    if display_crs(basemap) == "gcj02":
        pad = 0.01
        return w - pad, s - pad, e + pad, n + pad
    return w, s, e, n


def _where(flt: IncidentFilter, grids) -> tuple[str, dict]:
    conds, params = ["TRUE"], {}
    if grids is not None:
        conds.append("i.grid_code = ANY(:grids)")
        params["grids"] = sorted(grids)
    if flt.states:
        conds.append("i.state = ANY(:states)")
        params["states"] = list(flt.states)
    if flt.categories:
        conds.append("i.category_code = ANY(:cats)")
        params["cats"] = list(flt.categories)
    if flt.start:
        conds.append("i.reported_at >= :start")
        params["start"] = flt.start
    if flt.end:
        conds.append("i.reported_at < :end")
        params["end"] = flt.end
    if flt.street:
        conds.append("left(i.community_code, 9) = :street")
        params["street"] = flt.street
    if flt.community:
        conds.append("i.community_code = :community")
        params["community"] = flt.community
    if flt.since:
        conds.append("i.updated_at > :since")
        params["since"] = flt.since
    if flt.bbox:
        conds.append("i.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)")
        params.update(zip("wsen", flt.bbox))
    return " AND ".join(conds), params


_INCIDENT_SQL = (
    "SELECT i.id, i.external_id, i.state, i.category_code, {cat} AS category, i.description, i.address, "
    "i.priority, i.reported_at, i.deadline, i.grid_code, i.community_code, i.updated_at, "
    "(i.state = ANY(:open) AND i.deadline < now()) AS overdue, i.geom "
    "FROM incidents i JOIN categories k ON k.code = i.category_code WHERE {where} "
    "ORDER BY i.reported_at DESC, i.id DESC LIMIT :limit")


def incident_frame(s: Session, flt: IncidentFilter, grids, *, limit: int = PAGE_MARKERS, lang: str = "zh"
                   ) -> tuple[gpd.GeoDataFrame, int]:
    """(newest ``limit`` incidents matching ``flt`` in EPSG:4326, how many match in total)."""
    where, params = _where(flt, grids)
    sql = _INCIDENT_SQL.format(cat="k.name_en" if lang == "en" else "k.name_zh", where=where)
    frame = gpd.read_postgis(text(sql), s.connection(), geom_col="geom", crs=4326,
                             params={**params, "open": list(OPEN_STATES), "limit": limit})
    total = len(frame) if len(frame) < limit else s.execute(
        text(f"SELECT count(*) FROM incidents i WHERE {where}"), params).scalar()
    for col in ("reported_at", "deadline", "updated_at"):
        frame[col] = frame[col].map(_iso_minute)
    return frame, int(total)


def _iso_minute(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M")


def incident_geojson(s: Session, flt: IncidentFilter, grids, *, basemap: str, lang: str = "zh",
                     limit: int = API_LIMIT) -> dict:
    """GeoJSON of matching incidents for the map script: ``id``, ``colour``, ``stroke``, ``popup`` (escaped)."""
    frame, total = incident_frame(s, flt, grids, limit=limit, lang=lang)
    now = s.execute(text("SELECT now()")).scalar()
    shown = to_display(frame, basemap)
    props = marker_properties(frame)
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
                 "properties": {**p, "state": st}}
                for x, y, p, st in zip(shown.geometry.x, shown.geometry.y, props.to_dict("records"), frame["state"])]
    return {"type": "FeatureCollection", "features": features, "total": total, "truncated": total > len(frame),
            "now": now.isoformat()}


def heat_cells(s: Session, flt: IncidentFilter, grids) -> gpd.GeoDataFrame:
    """Matching incidents counted per ~100 m cell (column ``n``): a heat layer of bounded size."""
    where, params = _where(flt, grids)
    sql = (f"SELECT count(*) AS n, ST_SnapToGrid(i.geom, {HEAT_CELL_DEG}) AS geom FROM incidents i "
           f"WHERE {where} GROUP BY 2")
    return gpd.read_postgis(text(sql), s.connection(), geom_col="geom", crs=4326, params=params)
