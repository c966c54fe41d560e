"""The OGC API – Features operations as plain functions (no Flask): each takes the session, the caller and
the checked parameters and returns a JSON-able dict or GeoJSON text; ``app.ogc.views`` wraps them.

Items are written by PostgreSQL (``json_build_object`` with ``ST_AsGeoJSON``, joined with ``string_agg``):
no Python per feature, no GeoPandas on the items path of a DB-backed collection.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts.auth import visible_grid_codes
from app.ogc import collections as cols, computed, crs as crs_mod
from app.ogc.params import ItemsQuery
from gis.errors import InvalidData, NotFound

SPATIAL_DECIMALS = 6
#: views whose id is their table's primary key (one row each, never null, indexed): an items page past the
#: first finds its ids first (``items``). Not patrol_tracks: its id is a GROUP BY's, read twice that way
KEYED_VIEWS = frozenset({"streets", "communities", "cameras", "planned_cameras", "incidents", "service_centres",
                         "renovation_sites"})


@dataclass
class Page:
    """One items page: the features' GeoJSON texts joined by commas, and the counts."""

    features: str
    matched: int
    returned: int


def source(s: Session, settings, c: cols.Collection) -> tuple[str, dict]:
    """The FROM item (aliased ``t``) of collection ``c`` and its parameters."""
    if c.computed is not None:
        sql, params = computed.source_sql(c.computed, computed.arrays(s, settings, c.computed))
        return f"{sql} AS t", params
    view = f"gis.{c.source}"
    if c.joined is None:
        return f"{view} AS t", {}
    joined, params = computed.source_sql(c.joined, computed.arrays(s, settings, c.joined), prefix="ogc_j")
    extra = ", ".join(f'j."{n}"' for n, _t in computed.SOURCES[c.joined].columns if n != c.id_column)
    return (f'(SELECT v.*, {extra} FROM {view} AS v LEFT JOIN {joined} AS j ON j."{c.id_column}" = v."{c.id_column}")'
            " AS t"), params


def _typed(q, raw: str, name: str):
    """A property filter's value as the queryable's type (InvalidData naming the property)."""
    try:
        if q.type == "integer":
            return int(raw)
        if q.type == "number":
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(raw)
            return value
        if q.type == "boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        if q.type == "date":
            return dt.date.fromisoformat(raw)
        if q.type == "datetime":
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if value.tzinfo is None:
                raise ValueError(raw)
            return value
    except (ValueError, OverflowError):
        raise InvalidData(f"{name}: {raw[:50]!r} is not a valid {q.type}") from None
    if q.enum is not None and raw not in q.enum:
        raise InvalidData(f"{name}: {raw[:50]!r} is not one of {', '.join(map(str, q.enum))}")
    return raw


def _temporal_where(c: cols.Collection, q: ItemsQuery, params: dict) -> list[str]:
    if q.datetime is None:
        return []
    if c.temporal is None:
        raise InvalidData(f"datetime: collection {c.id} has no time; leave datetime out")
    tm = c.temporal
    start, end = f't."{tm.start}"', f't."{tm.end or tm.start}"'
    lo, hi = q.datetime_dates if tm.is_date else q.datetime
    out = []
    if lo is not None:
        params["ogc_t_lo"] = lo
        out.append(f"{end} >= :ogc_t_lo")
    if hi is not None:
        params["ogc_t_hi"] = hi
        out.append(f"{start} <= :ogc_t_hi")
    return out


def where(s: Session, user, c: cols.Collection, q: ItemsQuery | None) -> tuple[list[str], dict]:
    """The WHERE conditions (on alias ``t``) of the caller's scope and the query's filters."""
    out, params = [], {}
    if c.grid_column is not None:
        grids = visible_grid_codes(user, s)
        if grids is not None:
            params["ogc_grids"] = sorted(grids)
            out.append(f't."{c.grid_column}" = ANY(CAST(:ogc_grids AS text[]))')
    if q is None:
        return out, params
    if q.bbox is not None:
        x1, y1, x2, y2 = q.bbox
        params.update(bbox_x1=x1, bbox_y1=y1, bbox_x2=x2, bbox_y2=y2)
        env = crs_mod.envelope_sql(q.bbox_crs)
        out.append(f"t.geom && ({env}) AND ST_Intersects(t.geom, {env})")
    out += _temporal_where(c, q, params)
    if q.properties:
        by_name = {x.name: x for x in cols.queryables(s, c)}
        for i, (name, raw) in enumerate(q.properties.items()):
            qb = by_name[name]
            params[f"ogc_p{i}"] = _typed(qb, raw, name)
            out.append(f"{qb.column} = :ogc_p{i}")
    if q.filter is not None:
        sql, fparams = compile_filter(q.filter, cols.queryables(s, c), q.filter_crs, q.filter_lang)
        out.append(f"({sql})")
        params.update(fparams)
    return out, params


def compile_filter(filter_text: str, queryables, filter_crs: crs_mod.Crs, lang: str) -> tuple[str, dict]:
    """CQL2-text or CQL2-JSON (``lang``) → (SQL, parameters) by ``app.ogc.cql.compile_filter`` (its errors
    name ``filter``); literals in ``filter-crs``'s own axis order (EPSG:4326 lat/lon, EPSG:4544 northing/easting)."""
    from app.ogc import cql

    return cql.compile_filter(filter_text, {q.name: q for q in queryables}, filter_srid=filter_crs.srid,
                              swap_axes=filter_crs.flipped, lang=lang)


def _feature_sql(s: Session, c: cols.Collection, crs: crs_mod.Crs) -> str:
    props = ", ".join(f"'{n}', t.\"{n}\"" for n, _t in cols.properties(s, c))
    return (f"json_build_object('type', 'Feature', 'id', t.\"{c.id_column}\", "
            f"'geometry', {crs_mod.geometry_sql('t.geom', crs)}::json, "
            f"'properties', json_build_object({props}))::text")


def items(s: Session, settings, user, c: cols.Collection, q: ItemsQuery) -> Page:
    """One page of ``c``'s features the caller may see, matching ``q``, ordered by id."""
    src, params = source(s, settings, c)
    conds, more = where(s, user, c, q)
    params.update(more, ogc_limit=q.limit, ogc_offset=q.offset)
    cond = " AND ".join(conds) or "TRUE"
    key = f't."{c.id_column}"'
    rows = f"SELECT * FROM {src} WHERE {cond} ORDER BY {key} LIMIT :ogc_limit OFFSET :ogc_offset"
    if q.offset >= 2 * q.limit and c.computed is None and c.joined is None and c.source in KEYED_VIEWS:
        # deep in the collection, the page's ids first: the rows OFFSET skips are read for their id only,
        # not built whole with the view's columns; then the page's rows by their table's primary key
        # (incidents, 1,000 a page: 31 → 26 ms at offset 15,174; from offset 2,000 on it pays)
        rows = (f"SELECT * FROM {src} WHERE {key} = ANY(ARRAY(SELECT {key} FROM {src} WHERE {cond} "
                f"ORDER BY {key} LIMIT :ogc_limit OFFSET :ogc_offset))")
    sql = (f"SELECT coalesce(string_agg(f, ',' ORDER BY n), ''), count(*) FROM ("
           f"SELECT row_number() OVER (ORDER BY {key}) AS n, {_feature_sql(s, c, q.crs)} AS f "
           f"FROM ({rows}) AS t) AS x")
    features, returned = s.execute(text(sql), params).one()
    if returned < q.limit and (returned or not q.offset):
        matched = q.offset + returned  # the last page: no second query
    else:
        matched = s.execute(text(f"SELECT count(*) FROM {src} WHERE {cond}"), params).scalar_one()
    return Page(features, matched, returned)


def feature(s: Session, settings, user, c: cols.Collection, feature_id: str, crs: crs_mod.Crs) -> str:
    """One feature's GeoJSON text; NotFound when it does not exist or the caller may not see it."""
    id_type = dict(cols.columns(s, c)).get(c.id_column, "string")
    value: object = feature_id
    if "\x00" in feature_id:
        raise NotFound(f"featureId: no such feature in {c.id}")
    if id_type == "integer":
        if not (feature_id.isascii() and feature_id.isdigit()) or len(feature_id) > 18:  # ('²'.isdigit())
            raise NotFound(f"featureId: no feature {feature_id[:50]!r} in {c.id}")
        value = int(feature_id)
    src, params = source(s, settings, c)
    conds, more = where(s, user, c, None)
    params.update(more, ogc_id=value)
    conds.append(f"t.\"{c.id_column}\" = :ogc_id")
    found = s.execute(text(f"SELECT {_feature_sql(s, c, crs)} FROM {src} WHERE {' AND '.join(conds)}"),
                      params).scalar()
    if found is None:
        raise NotFound(f"featureId: no feature {feature_id[:50]!r} in {c.id}")
    return found


def temporal_extent(s: Session, c: cols.Collection, tz) -> list[str | None] | None:
    """[first, last] time of collection ``c``'s features as RFC 3339 UTC instants, exact to the microsecond
    (None: an open end, or no features), or None for a collection without time. Date columns span their
    whole days in ``tz``."""
    tm = c.temporal
    if tm is None or (c.source is None and tm.extent_sql is None):
        return None
    sql = tm.extent_sql or f'SELECT min(t."{tm.start}"), max(t."{tm.end or tm.start}") FROM gis."{c.source}" t'
    first, last = s.execute(text(sql)).one()
    if tm.is_date:
        first = None if first is None else dt.datetime.combine(first, dt.time.min, tz)
        last = None if last is None else dt.datetime.combine(last, dt.time.max.replace(microsecond=0), tz)

    def utc(v):
        return None if v is None else v.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")

    return [utc(first), utc(last)]


def district_extent(s: Session) -> list[float] | None:
    row = s.execute(text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                         "FROM (SELECT ST_Extent(geom) AS e FROM gis.streets) s")).one()
    return None if row[0] is None else [round(float(v), SPATIAL_DECIMALS) for v in row]
