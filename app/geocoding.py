"""The application side of geocoding: grid/community/street codes for stored points.

Grid codes of incidents and cameras are stored values computed by :class:`gis.geocode.GridIndex`
(DESIGN.md), refreshed by :func:`regeocode_incidents` / :func:`regeocode_cameras` when grids change.
The index is kept in memory per process and rebuilt when the grids table changes.
"""
from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.geocode import GridIndex

_LOCK = threading.Lock()
_CACHE: dict[tuple, tuple] = {}   # (database, table) -> (key, index, extra)

# A trigger (migration 0006) stamps updated_at with clock_timestamp() on every insert or update, so
# (count, max(updated_at)) changes with any edit, by any writer: one cheap query per lookup.
_KEY_SQL = {table: f"SELECT count(*), max(updated_at) FROM {table}" for table in ("grids", "communities")}
# both keys in one round trip, for lookups that need both indexes (every geocoded report), as columns
# ``gn, gt, cn, ct`` of one row (a writer's CTE uses it too), and the condition that they equal the
# parameters ``:gn, :gt, :cn, :ct`` (the keys an index was located with)
KEYS_SQL = ("SELECT g.n AS gn, g.t AS gt, c.n AS cn, c.t AS ct "
            "FROM (SELECT count(*) AS n, max(updated_at) AS t FROM grids) AS g, "
            "(SELECT count(*) AS n, max(updated_at) AS t FROM communities) AS c")
KEYS_MATCH_SQL = ("gn = :gn AND cn = :cn AND gt IS NOT DISTINCT FROM CAST(:gt AS timestamptz) "
                  "AND ct IS NOT DISTINCT FROM CAST(:ct AS timestamptz)")


def database_id(session: Session) -> str:
    bind = session.get_bind()
    url = bind.engine.url if hasattr(bind, "engine") else bind.url
    return url.render_as_string(hide_password=True)


def _cached(session: Session, table: str, key: tuple | None = None) -> tuple[GridIndex, dict]:
    from app.layers_db import read_layer

    if key is None:
        key = tuple(session.execute(text(_KEY_SQL[table])).one())
    slot = (database_id(session), table)
    with _LOCK:
        hit = _CACHE.get(slot)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
    frame = read_layer(session, table)
    index = GridIndex.from_frame(frame, code="code")
    parent = "community_code" if table == "grids" else "street_code"
    parents = dict(zip(frame["code"], frame[parent]))
    with _LOCK:
        _CACHE[slot] = (key, index, parents)
    return index, parents


def grid_index(session: Session) -> GridIndex:
    """The process-wide :class:`GridIndex` of the stored grids (网格), rebuilt when the grids change."""
    return _cached(session, "grids")[0]


def community_index(session: Session) -> GridIndex:
    """The same for communities (社区): used for points that fall in no grid."""
    return _cached(session, "communities")[0]


def index_keys(session: Session) -> tuple:
    """The stored grids' and communities' freshness keys, ``(grid count, grid stamp, community count,
    community stamp)``: one query. A writer that checks the keys in its own statement (``KEYS_MATCH_SQL``)
    can locate with :func:`cached_keys` instead and ask only when they differ."""
    return tuple(session.execute(text(KEYS_SQL)).one())


def cached_keys(session: Session) -> tuple | None:
    """The keys of the grid and community indexes this process holds for ``session``'s database, or None
    when it holds either not yet: no query (they may be stale; a writer checks them as it writes)."""
    db = database_id(session)
    with _LOCK:
        grids, communities = _CACHE.get((db, "grids")), _CACHE.get((db, "communities"))
    if grids is None or communities is None:
        return None
    return grids[0] + communities[0]


def locate_all(session: Session, lon, lat, keys: tuple | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid_codes, community_codes, street_codes) for lon/lat arrays (EPSG:4326); None where none.

    The community is the grid's community; a point in no grid gets the community covering it.
    The street is the community's street. ``keys``: the indexes' keys (:func:`index_keys`) when the
    caller has them, else they are asked for.
    """
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    keys = tuple(keys) if keys is not None else index_keys(session)
    gindex, grid_parent = _cached(session, "grids", keys[:2])
    cindex, community_parent = _cached(session, "communities", keys[2:])
    grids = gindex.locate(lon, lat)
    communities = np.array([grid_parent.get(g) if g is not None else None for g in grids], dtype=object)
    missing = np.flatnonzero(communities == None)  # noqa: E711 (element-wise on an object array)
    if len(missing):
        communities[missing] = cindex.locate(lon[missing], lat[missing])
    streets = np.array([community_parent.get(c) if c is not None else None for c in communities], dtype=object)
    return grids, communities, streets


def locate_codes(session: Session, lon, lat, keys: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(grid_codes, community_codes) object arrays for lon/lat (EPSG:4326); None outside."""
    grids, communities, _ = locate_all(session, lon, lat, keys)
    return grids, communities


def _points(session: Session, sql: str):
    rows = session.execute(text(sql)).all()
    ids = [r[0] for r in rows]
    lon = np.array([r[1] for r in rows], dtype=float)
    lat = np.array([r[2] for r in rows], dtype=float)
    return ids, lon, lat


def regeocode_incidents(session: Session) -> int:
    """Recompute every incident's grid and community code; returns how many rows changed."""
    ids, lon, lat = _points(session, "SELECT id, ST_X(geom), ST_Y(geom) FROM incidents ORDER BY id")
    if not ids:
        return 0
    grids, communities = locate_codes(session, lon, lat)
    result = session.execute(text(
        "UPDATE incidents AS i SET grid_code = v.g, community_code = v.c "
        "FROM unnest(CAST(:ids AS integer[]), CAST(:g AS text[]), CAST(:c AS text[])) AS v(id, g, c) "
        "WHERE i.id = v.id AND (i.grid_code IS DISTINCT FROM v.g OR i.community_code IS DISTINCT FROM v.c)"),
        {"ids": ids, "g": list(grids), "c": list(communities)})
    return result.rowcount


def regeocode_cameras(session: Session) -> int:
    """Recompute every camera's grid, community and street code, retired ones too (so a record put back in
    service is right); returns how many of the cameras on the map (planned and active:
    ``app.cameras.service.DEFAULT_LIFECYCLES``) changed: a retired record's change is not news.

    Derived codes are not user edits: the camera's ``version`` and ``updated_at`` are left alone.
    """
    from app.cameras.service import DEFAULT_LIFECYCLES

    ids, lon, lat = _points(session, "SELECT device_id, ST_X(geom), ST_Y(geom) FROM cameras ORDER BY device_id")
    if not ids:
        return 0
    grids, communities, streets = locate_all(session, lon, lat)
    result = session.execute(text(
        "UPDATE cameras AS k SET grid_code = v.g, community_code = v.c, street_code = v.s "
        "FROM unnest(CAST(:ids AS text[]), CAST(:g AS text[]), CAST(:c AS text[]), CAST(:s AS text[])) "
        "AS v(id, g, c, s) WHERE k.device_id = v.id AND (k.grid_code IS DISTINCT FROM v.g "
        "OR k.community_code IS DISTINCT FROM v.c OR k.street_code IS DISTINCT FROM v.s) RETURNING k.lifecycle"),
        {"ids": ids, "g": list(grids), "c": list(communities), "s": list(streets)})
    return sum(1 for (lifecycle,) in result if lifecycle in DEFAULT_LIFECYCLES)
