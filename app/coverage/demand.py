"""The demand incidents kept between requests (事件需求缓存): the planner page at 1.6M incidents (issue 16).

The coverage report counts, per area, the demand incidents (``service.demand_incidents``: those of the last
``days`` days up to the newest incident, not voided) and how many of them a working camera sees. At ``gw_i100``
(1.6M incidents, ten demo years packed into each year) the period holds 160,000 incidents: reading them, making
their points and testing them against the views and the grids took 0.8 s of the planner page's 0.9 s, on every
page, although a few of them change between two pages.

A :class:`DemandTracker` keeps, per database and period, every incident reported since a floor (its id, time,
voided or not, metric coordinates) and, for the views and the areas last asked about, whether a camera sees it
and the area it counts in. A request reads only the incidents written since the tracker's cursor and tests only
those; the answer is the one :func:`app.coverage.service.demand_incidents` and ``gis.coverage`` give, to the
incident (``tests/app/test_demand_tracker.py`` compares them after inserts, moves, voids, deletes and camera
changes).

Why the answer stays exact:

- **Writes** are found by the live map's cursor (``app.incidents.queries.CHANGED_AFTER_SQL``: the writing
  transaction's id, stamped by a trigger, that the cursor's snapshot could not see). The cursor is read before
  the changes, so a write that commits between the two is read now and again next time (applying it twice is
  applying it once).
- **Deletes** leave nothing to find. Each request therefore counts the incidents since the floor (an index-only
  scan: 13 ms at 161,750) in the same statement, under the same snapshot, as the changes. The tracker holds
  exactly the incidents since the floor, so a count that differs means rows went away (or were written with the
  trigger disabled): it reads them all again. A new table (``TRUNCATE``, a restore: another relfilenode) or
  another database under the same URL does too.
- **The period** moves with the newest incident; incidents before it are left out by time. Should it start
  before the floor (the newest incident deleted), everything is read again.
- **Cameras and areas** are named by content keys (``gis.coverage.ViewSet.key``, a digest of the areas' metric
  WKB): other views or other areas recompute ``seen`` or the areas for all the incidents held, nothing else.
- **Only read-only transactions on the primary** use it: a transaction that has written incidents would not
  see its own writes as changes (its id is no "later" for its own snapshot), and a hot standby's snapshots
  name no transaction running on the primary; there it computes afresh and keeps nothing. A snapshot older
  than the one held (a long REPEATABLE READ transaction; another cluster's lower ids) reads afresh too.

One tracker per process (:data:`TRACKER`); a page asks under its lock, so two pages of one worker never update it
at once. It holds about 40 bytes per incident of the period (6.5 MB at 160,000).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.geocoding import database_id
from app.incidents.queries import CHANGED_AFTER_SQL
from app.layers_db import binary_rows
from gis import coverage
from gis.crs import METRIC_CRS, metric_transformer

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
#: the (database, period) pairs kept, the last asked about (a deployment asks about one)
_SLOTS = 4
#: compact (drop incidents before the period, raise the floor) once this share of those held are before it
_COMPACT_SHARE = 0.1

#: the snapshot a request reads from; whether what it reads may be kept: not when its transaction has written,
#: nor on a hot standby (whose snapshots list no running transaction of the primary: a cursor taken there
#: would count a primary's write still in flight as seen); the database
_CURSOR_SQL = ("SELECT CAST(pg_current_snapshot() AS text), "
               "pg_current_xact_id_if_assigned() IS NULL AND NOT pg_is_in_recovery(), "
               "(SELECT oid FROM pg_database WHERE datname = current_database())")
#: where the demand's period starts: ``:days`` days before the newest incident (``service.demand_window``)
PERIOD_START_SQL = "SELECT max(reported_at) - make_interval(days => :days) FROM incidents"
_SINCE_SQL = f"({PERIOD_START_SQL})"
#: the columns of an incident the tracker holds, as arrays (read in binary, one row)
_ARRAYS = ("array_agg(id), array_agg(CAST(extract(epoch FROM reported_at) * 1000000 AS bigint)), "
           "array_agg(state = ANY(:not_demand)), array_agg(ST_X(geom)), array_agg(ST_Y(geom))")
_BUILD_SQL = f"SELECT {_SINCE_SQL}, pg_relation_filenode('incidents')"
_ROWS_SQL = f"SELECT {_ARRAYS} FROM incidents WHERE reported_at >= CAST(:floor AS timestamptz)"
#: one statement, one snapshot: the changes since the cursor, the period's start, the count since the floor
_UPDATE_SQL = (f"SELECT {_SINCE_SQL}, pg_relation_filenode('incidents'), "
               f"(SELECT count(*) FROM incidents WHERE reported_at >= CAST(:floor AS timestamptz)), c.* "
               f"FROM (SELECT {_ARRAYS} FROM incidents WHERE {CHANGED_AFTER_SQL}) AS c")


def _xmax(snapshot: str) -> int:
    """The xmax of a ``pg_snapshot`` text (``xmin:xmax:xip,…``): every transaction id from it on is unseen."""
    return int(snapshot.split(":")[1])


def _us(when: datetime) -> int:
    return (when - _EPOCH) // _US  # exact: timestamptz is a whole number of microseconds


@dataclass
class _Held:
    """The incidents reported since ``floor`` as of ``cursor``, ascending by id, with their derived answers."""

    database: tuple
    cursor: str
    floor: datetime
    ids: np.ndarray
    when: np.ndarray  # µs since 1970 (UTC)
    voided: np.ndarray
    x: np.ndarray  # metric (EPSG:4544)
    y: np.ndarray
    #: (key, per incident): whether the views of key see it, the area of key it counts in
    seen: tuple[bytes, np.ndarray] | None = None
    area: tuple[bytes, np.ndarray] | None = None
    since: datetime | None = None
    #: the incidents added since the answers were last derived (their ``seen`` and ``area`` not yet known)
    pending: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Demand:
    """The demand incidents of a period: ``ids`` ascending, ``seen`` (a working camera's view contains it) and
    ``area`` (the index of the first area that covers it, ``gis.coverage.first_area``; -1 for none)."""

    ids: np.ndarray
    seen: np.ndarray
    area: np.ndarray


def area_key(targets: np.ndarray) -> bytes:
    """A digest of the areas (metric polygons, in order): equal keys, equal ``first_area`` answers."""
    h = hashlib.blake2b(digest_size=20)
    for w in shapely.to_wkb(targets):
        h.update(len(w).to_bytes(8, "little"))
        h.update(w)
    return h.digest()


def _arrays(row) -> tuple[np.ndarray, ...]:
    ids, when, voided, lon, lat = row
    ids = np.asarray(ids or [], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    x, y = np.asarray(lon or [], dtype=float)[order], np.asarray(lat or [], dtype=float)[order]
    if len(x):  # projected as demand_incidents(metric=True) projects them: the same metres to the bit
        x, y = (np.asarray(v, dtype=float) for v in metric_transformer().transform(x, y))
    return (ids[order], np.asarray(when or [], dtype=np.int64)[order], np.asarray(voided or [], dtype=bool)[order],
            x, y)


def _points(x: np.ndarray, y: np.ndarray) -> gpd.GeoSeries:
    return gpd.GeoSeries(gpd.points_from_xy(x, y), crs=METRIC_CRS)


class DemandTracker:
    """Demand incidents per (database, period), kept current by the change cursor; see the module's notes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held: OrderedDict[tuple, _Held] = OrderedDict()
        #: how the last answer was made ("built", "updated", "fresh"), and how many incidents it read: for tests
        #: and benchmarks, which must tell a kept answer from one computed again
        self.last: tuple[str, int] = ("", 0)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()

    def demand(self, session: Session, days: int, cameras: gpd.GeoDataFrame, targets: np.ndarray, *,
               include_offline: bool = False, not_demand: tuple[str, ...],
               views: coverage.ViewSet | None = None) -> Demand | None:
        """The demand of the ``days`` days up to the newest incident, seen by ``cameras``'s working views
        (``include_offline`` as in ``gis.coverage.working``) and counted in ``targets`` (metric area polygons);
        ``not_demand``: the states that are no demand; ``views``: ``gis.coverage.view_set`` of those cameras
        when the caller has it. None when the period holds no incident."""
        conn = session.connection()
        params = {"days": int(days), "not_demand": list(not_demand)}
        views = views if views is not None else coverage.view_set(cameras, include_offline=include_offline)
        with self._lock:  # the cursor read under the lock: one request after another, each cursor no older
            cursor, read_only, db_oid = session.execute(text(_CURSOR_SQL)).one()
            slot = (database_id(session), int(days), tuple(not_demand))
            try:
                held = self._answer(conn, slot, cursor, read_only, db_oid, params)
                if held is None:
                    return None
                self._derive(held, cameras, views.key, include_offline, targets)
            except BaseException:  # half brought up to date: read it all again next time
                self._held.pop(slot, None)
                raise
            if read_only:
                self._held[slot] = held
                self._held.move_to_end(slot)
                while len(self._held) > _SLOTS:
                    self._held.popitem(last=False)
            keep = (held.when >= _us(held.since)) & ~held.voided
            return Demand(held.ids[keep], held.seen[1][keep], held.area[1][keep])

    def _answer(self, conn, slot: tuple, cursor: str, read_only: bool, db_oid: int, params: dict) -> _Held | None:
        """The held incidents brought up to date, or read afresh (the first time, after a delete, in a
        transaction that wrote: then what is held stays as it was, for the next read-only request)."""
        held = self._held.get(slot) if read_only else None
        if held is not None and _xmax(cursor) < _xmax(held.cursor):
            # a snapshot older than what is held (a transaction that took it before the last update) would be
            # told about writes it cannot see; or the ids went backwards (another cluster): read afresh
            held = None
        if held is not None:
            held = self._update(conn, held, cursor, db_oid, params)
        if held is None:
            held = self._build(conn, cursor, db_oid, params)
            self.last = ("built" if read_only else "fresh", len(held.ids) if held else 0)
            if held is None and read_only:
                self._held.pop(slot, None)
        return held

    # -- reading ---------------------------------------------------------------------------------------
    def _build(self, conn, cursor: str, db_oid: int, params: dict) -> _Held | None:
        since, node = binary_rows(conn, _BUILD_SQL, params)[1][0]
        if since is None:  # no incident at all
            return None
        (row,) = binary_rows(conn, _ROWS_SQL, {**params, "floor": since})[1]
        ids, when, voided, x, y = _arrays(row)
        return _Held((db_oid, node), cursor, since, ids, when, voided, x, y, since=since)

    def _update(self, conn, held: _Held, cursor: str, db_oid: int, params: dict) -> _Held | None:
        """``held`` brought up to ``cursor``'s time, in place; None when it must be read again."""
        row = binary_rows(conn, _UPDATE_SQL, {**params, "floor": held.floor, "after_snapshot": held.cursor})[1][0]
        since, node, count = row[:3]
        if (db_oid, node) != held.database or since is None or since < held.floor:
            return None
        ids, when, voided, x, y = _arrays(row[3:])
        if len(ids):
            self._apply(held, ids, when, voided, x, y)
        if len(held.ids) != count:  # rows went away (or were written past the trigger): read them all
            return None
        held.cursor, held.since = cursor, since
        below = held.when < _us(since)
        if below.sum() > _COMPACT_SHARE * len(held.ids):
            self._take(held, ~below)
            held.floor = since
        self.last = ("updated", len(ids))
        return held

    @staticmethod
    def _take(held: _Held, keep: np.ndarray) -> None:
        for name in ("ids", "when", "voided", "x", "y", "pending"):
            got = getattr(held, name)
            if got is not None:
                setattr(held, name, got[keep])
        for name in ("seen", "area"):
            got = getattr(held, name)
            if got is not None:
                setattr(held, name, (got[0], got[1][keep]))

    def _apply(self, held: _Held, ids, when, voided, x, y) -> None:
        """Replace the changed incidents: drop the held copies, add those reported since the floor; their
        derived answers are blank and marked ``pending``, for :meth:`_derive` to fill."""
        at = np.searchsorted(held.ids, ids)
        found = at < len(held.ids)
        found[found] = held.ids[at[found]] == ids[found]
        keep = np.ones(len(held.ids), dtype=bool)
        keep[at[found]] = False
        self._take(held, keep)
        new = when >= _us(held.floor)
        ids, when, voided, x, y = ids[new], when[new], voided[new], x[new], y[new]
        order = None
        if len(ids) and len(held.ids) and ids[0] <= held.ids[-1]:  # not all after the held ones: sort again
            order = np.argsort(np.concatenate([held.ids, ids]), kind="stable")
        for name, extra in (("ids", ids), ("when", when), ("voided", voided), ("x", x), ("y", y)):
            joined = np.concatenate([getattr(held, name), extra])
            setattr(held, name, joined if order is None else joined[order])
        pending = np.concatenate([np.zeros(len(keep) - found.sum(), dtype=bool), np.ones(len(ids), dtype=bool)])
        held.pending = pending if order is None else pending[order]
        for name, blank in (("seen", False), ("area", -1)):
            got = getattr(held, name)
            if got is not None:
                joined = np.concatenate([got[1], np.full(len(ids), blank, dtype=got[1].dtype)])
                setattr(held, name, (got[0], joined if order is None else joined[order]))

    @staticmethod
    def _derive(held: _Held, cameras, views_key: bytes, include_offline: bool, targets: np.ndarray) -> None:
        """``seen`` and ``area`` for the views and areas asked about: of the pending incidents when the keys are
        those held, of every incident otherwise."""
        pending, held.pending = held.pending, None
        for name, key in (("seen", views_key + bytes([include_offline])), ("area", area_key(targets))):
            got = getattr(held, name)
            if got is not None and got[0] == key:
                ask = pending if pending is not None else np.zeros(len(held.ids), dtype=bool)
                values = got[1]
            else:
                ask = np.ones(len(held.ids), dtype=bool)
                values = np.zeros(len(held.ids), dtype=bool) if name == "seen" else np.full(len(held.ids), -1)
            if ask.any():
                pts = _points(held.x[ask], held.y[ask])
                values[ask] = (coverage.seen_mask(cameras, pts, include_offline=include_offline) if name == "seen"
                               else coverage.first_area(targets, pts.to_numpy()))
            setattr(held, name, (key, values))


#: the process's tracker (one per worker process)
TRACKER = DemandTracker()
