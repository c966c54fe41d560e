"""The OGC API's collections (图层): which source each reads, who may read it, what it may be filtered on.

DB-backed collections read the ``gis`` schema's views (migration ``0010_gis``): their columns are the
views' columns, read from the database once per process, so a view is the one definition of a layer's
columns for analysts' PostGIS connections and for this API alike. Computed collections (grid coverage,
camera view cones, blind spots, proposed sites) are frames computed in Python by the coverage service,
memoised by a fingerprint of their inputs (:mod:`app.ogc.computed`) and bound into the request's SQL as
arrays (``unnest``), so bbox, datetime, property and CQL2 filters and paging have one code path.

Access: ``readers`` are the roles that may read a collection (from a capability in
``app.accounts.capabilities`` or the page-role table a dashboard uses), and ``grid_column`` names the
column that grid scoping (``visible_grid_codes``) filters for field roles.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts.auth import PAGE_ROLES
from app.accounts.capabilities import roles_for
from app.accounts.models import ACCOUNT_ROLES
from app.grids.models import STREET_KINDS
from app.incidents.models import PRIORITIES, SOURCES, STATES
from app.ogc.queryables import Queryable
from camera_registry.models import PROGRAMMES, STATUSES
from gis.errors import NotFound

#: PostgreSQL types (information_schema ``data_type``) → queryable types
_PG_TYPES = {"text": "string", "character varying": "string", "character": "string", "integer": "integer",
             "bigint": "integer", "smallint": "integer", "double precision": "number", "real": "number",
             "numeric": "number", "boolean": "boolean", "date": "date",
             "timestamp with time zone": "datetime", "timestamp without time zone": "datetime",
             "ARRAY": "string", "USER-DEFINED": "geometry"}


@dataclass(frozen=True)
class Temporal:
    """The time of a feature for ``datetime``: a start column and an end column (the same for an instant);
    ``is_date``: the columns are dates (compared by the district's calendar day)."""

    start: str
    end: str | None = None
    is_date: bool = False
    # the collection's (first, last) time when min/max over the view would read every row: SQL returning one
    # row of two values (an interval at least as wide as the features', as OGC allows)
    extent_sql: str | None = None


@dataclass(frozen=True)
class Collection:
    """One collection. ``source``: a ``gis`` view's name, or None for a computed frame (``computed``);
    ``joined``: a computed frame joined to the view on ``id_column`` (grids' coverage)."""

    id: str
    title_zh: str
    title_en: str
    description: str
    readers: tuple[str, ...]
    rule: str  # who may read it, in words (the docs and the collection's description)
    id_column: str
    geometry_type: str
    source: str | None = None
    computed: str | None = None  # name in app.ogc.computed.SOURCES
    joined: str | None = None    # name in app.ogc.computed.SOURCES, LEFT JOINed on id_column
    grid_column: str | None = None
    temporal: Temporal | None = None
    enums: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)  # column → app.labels kind (HTML pages show names)

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_zh


_CAMERA = roles_for("camera.read")
_GRID = roles_for("grid.read")
_PLAN = roles_for("coverage.plan")
_ANY = ACCOUNT_ROLES  # /api/incidents: every account, scoped to its grids

COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection("streets", "街道/镇", "Streets and towns",
               "The district's streets, towns and townships (街道/镇).",
               _GRID, "grid.read", "code", "MultiPolygon", source="streets",
               enums={"kind": STREET_KINDS}, labels={"kind": "street_kind"}),
    Collection("communities", "社区", "Communities", "Communities (社区) with households and population.",
               _GRID, "grid.read", "code", "MultiPolygon", source="communities", temporal=Temporal("updated_at")),
    Collection("grids", "网格", "Grids", "Grids (网格) with the grid lead's name and camera coverage: "
               "coverage_pct (share of the grid's area a working camera sees, %) and cameras (built cameras "
               "standing in it).", _GRID, "grid.read (field roles: their grids)", "code", "MultiPolygon",
               source="grids", joined="grid_coverage", grid_column="code", temporal=Temporal("updated_at")),
    Collection("cameras", "摄像机", "Cameras", "Installed cameras (GB/T 28181 device IDs) with status.",
               _CAMERA, "camera.read (field roles: their grids)", "device_id", "Point", source="cameras",
               grid_column="grid_code", temporal=Temporal("install_date", is_date=True),
               enums={"status": STATUSES, "programme": PROGRAMMES},
               labels={"status": "camera_status", "programme": "programme", "ptz_type": "ptz_type",
                       "point_class": "point_class"}),
    Collection("camera_views", "摄像机视域", "Camera view cones",
               "What each working camera sees: its view sector (azimuth, field of view, range).",
               _CAMERA, "camera.read (field roles: their grids)", "device_id", "Polygon",
               computed="camera_views", grid_column="grid_code",
               enums={"status": STATUSES, "programme": PROGRAMMES},
               labels={"status": "camera_status", "programme": "programme"}),
    Collection("incidents", "事件", "Incidents", "Grid incidents (事件) without reporter details.",
               _ANY, "every account, as /api/incidents (field roles: their grids)", "id", "Point",
               source="incidents", grid_column="grid_code", temporal=Temporal("reported_at"),
               enums={"state": STATES, "priority": PRIORITIES, "source": SOURCES},
               labels={"state": "state", "priority": "priority", "source": "source"}),
    Collection("patrol_tracks", "巡查轨迹", "Patrol tracks",
               "Grid members' patrol tracks (one per track or day, and grid).",
               PAGE_ROLES["grid"], "the grid page's roles: admin, grid_lead, member (field roles: their grids)",
               "id", "LineString", source="patrol_tracks", grid_column="grid_code",
               # the view groups every point; each member's first and last point are two index probes
               temporal=Temporal("started_at", "ended_at", extent_sql=(
                   "SELECT min(f), max(l) FROM (SELECT "
                   "(SELECT min(p.at) FROM public.patrol_points p WHERE p.member_id = m.id) AS f, "
                   "(SELECT max(p.at) FROM public.patrol_points p WHERE p.member_id = m.id) AS l "
                   "FROM public.members m) e"))),
    Collection("service_centres", "社区服务中心", "Service centres", "Urban community service centres.",
               _GRID, "grid.read", "id", "Point", source="service_centres"),
    Collection("renovation_sites", "老旧小区改造", "Renovation sites", "Old-compound renovation sites.",
               _GRID, "grid.read", "id", "Point", source="renovation_sites"),
    Collection("blind_spots", "监控盲区", "Blind spots",
               "The parts of each grid no working camera sees (盲区), with their area in m².",
               _PLAN, "coverage.plan", "id", "Polygon", computed="blind_spots", grid_column="grid_code"),
    Collection("proposed_sites", "建议点位", "Proposed sites",
               "The planner's proposed new camera sites (the what-if's default K), ranked by the demand they add.",
               _PLAN, "coverage.plan", "rank", "Point", computed="proposed_sites", grid_column="grid_code"),
    Collection("planned_cameras", "规划摄像机", "Planned cameras", "Cameras adopted from the plan, not built yet.",
               _CAMERA, "camera.read (field roles: their grids)", "device_id", "Point", source="planned_cameras",
               grid_column="grid_code", temporal=Temporal("updated_at"), enums={"programme": PROGRAMMES},
               labels={"programme": "programme"}),
)}


def get(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFound(f"collection: no collection {collection_id[:100]!r}; see /ogc/collections")
    return found


def readable(user, collection: Collection) -> bool:
    return user is not None and user.role in collection.readers


# -- columns ----------------------------------------------------------------------------------------
_VIEW_COLUMNS: dict[str, list[tuple[str, str]]] = {}


def view_columns(s: Session, view: str) -> list[tuple[str, str]]:
    """``[(column, queryable type)]`` of ``gis.<view>`` in order (read once per process)."""
    if view not in _VIEW_COLUMNS:
        rows = s.execute(text("SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_schema = 'gis' AND table_name = :v ORDER BY ordinal_position"),
                         {"v": view}).all()
        if not rows:
            raise NotFound(f"collection: the view gis.{view} is missing (run gridwatch db migrate)")
        _VIEW_COLUMNS[view] = [(name, _PG_TYPES.get(kind, "string")) for name, kind in rows]
    return _VIEW_COLUMNS[view]


def columns(s: Session, c: Collection) -> list[tuple[str, str]]:
    """The collection's columns (``geom`` included, last or where the view has it) with their types."""
    from app.ogc import computed

    if c.source is not None:
        cols = list(view_columns(s, c.source))
        if c.joined is not None:
            cols += [(n, t) for n, t in computed.SOURCES[c.joined].columns if n != c.id_column]
        return cols
    return list(computed.SOURCES[c.computed].columns) + [("geom", "geometry")]


def properties(s: Session, c: Collection) -> list[tuple[str, str]]:
    """The columns written as a feature's properties (all but the geometry)."""
    return [(n, t) for n, t in columns(s, c) if t != "geometry"]


def queryables(s: Session, c: Collection) -> list[Queryable]:
    """What ``c`` may be filtered on: every property (by its column) and ``geometry``."""
    out = [Queryable(n, f't."{n}"', t, title=n, enum=tuple(c.enums[n]) if n in c.enums else None)
           for n, t in properties(s, c)]
    return out + [Queryable("geometry", "t.geom", "geometry", title="geometry (EPSG:4326)")]
