"""The camera list and a camera's page (摄像机管理): filters, the selection, who may edit which field.

No Flask here. Every function takes the account (``user``) and limits what it reads to the grids the
account may see (``app.accounts.auth.visible_grid_codes``: None = the whole district); a camera outside
them is "not found", as if it did not exist. Which fields an account may change is
:func:`editable_fields`, read from the capability table (``app.accounts.capabilities``): the API, the
page's forms and the map editor (helper interface ``js["camera"]["editable"]``) all use it.

Interfaces other areas use (kept stable): :func:`parse_filters`, :func:`select_cameras`,
:func:`filtered_ids` (the export of the selection).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, String, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from app.accounts.capabilities import PLACEMENT_FIELDS, can
from app.dashboards.params import Params
from app.grids.models import Community, Grid, Street
from camera_registry.gb28181 import INDUSTRY_NAMES
from camera_registry.history import RECORD_FIELDS
from camera_registry.models import LIFECYCLES, PROGRAMMES, PTZ_TYPES, STATUSES, Camera, CatalogNode
from camera_registry.schema import parse_value
from gis.codes import COMMUNITY, GRID, STREET
from gis.errors import NotFound

#: lifecycles the list shows unless asked (retired cameras on request: ``lifecycle=retired``)
DEFAULT_LIFECYCLES = ("planned", "active")
#: rows of one page: the default and the most a client may ask for (the API's ``limit``)
PAGE_DEFAULT = 50
PAGE_MAX = 500
#: the most markers the list page's map draws (the district has a few hundred cameras)
MAP_MAX = 5000
#: free text (``q``) is matched against these columns
TEXT_COLUMNS = ("device_id", "name", "address")
Q_MAX_LEN = 100
#: what the list sorts by (``sort=name``, ``sort=-updated_at`` descending); device_id breaks ties
SORTS = ("device_id", "name", "programme", "status", "lifecycle", "ptz_type", "grid_code", "address", "updated_at")
DEFAULT_SORT = "device_id"
#: the fields an edit form and PATCH may send: the record's (not the status: it changes with a reason,
#: POST …/status) and the position
EDIT_FIELDS = tuple(f for f in RECORD_FIELDS if f != "status") + ("lon", "lat")
#: GB/T 28181 ID digits 9–10 (1-based): the industry (行业编码)
INDUSTRY_DIGITS = (9, 2)  # start (1-based), length: SQL substring
#: a catalog node's ID as the ``node`` filter takes it (an area code of 2–8 digits … a 20-digit group)
NODE_DIGITS = (2, 20)
#: the deepest a catalog tree is followed (a camera's path, the subtree of a filter): a cycle in a
#: platform's tree (A → B → A) stops here instead of running on
CATALOG_DEPTH_MAX = 32
#: the most groups and virtual organisations the list page offers in its select
NODE_OPTIONS_MAX = 2000


@dataclass
class CameraFilter:
    """The list's filters; an empty list means no filter on that field."""

    programmes: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    lifecycles: list[str] = field(default_factory=lambda: list(DEFAULT_LIFECYCLES))
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    ptz_types: list[int] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    q: str | None = None
    #: a catalog node: the cameras in it or under it (``parent_id`` / ``business_group_id``, :func:`subtree`)
    node: str | None = None
    #: a video platform's SIP ID (``cameras.platform``); with ``node``, the platform whose tree is followed
    platform: str | None = None

    def query_string(self) -> dict:
        """The filter as query parameters (lists for the repeatable ones): links, paging, the export."""
        out = {"programme": self.programmes, "status": self.statuses, "ptz_type": [str(p) for p in self.ptz_types],
               "industry": self.industries, "street": self.street, "community": self.community, "grid": self.grid,
               "q": self.q, "node": self.node, "platform": self.platform}
        if sorted(self.lifecycles) != sorted(DEFAULT_LIFECYCLES):
            out["lifecycle"] = self.lifecycles
        return {k: v for k, v in out.items() if v}


def parse_filters(args) -> CameraFilter:
    """A :class:`CameraFilter` from request arguments (a ``MultiDict`` or a JSON object); every bad value is
    named in one :class:`~gis.errors.InvalidData` (422).

    ``programme``, ``status``, ``lifecycle``, ``ptz_type``, ``industry`` repeatable, each from its code list
    (``lifecycle=all`` for every one); ``street``/``community``/``grid`` codes; ``q`` free text; ``node`` a
    catalog node's ID (2–20 digits: the cameras in its subtree) and ``platform`` a platform's SIP ID.
    """
    p = Params(args)
    flt = read_filters(p)
    p.done()
    return flt


def read_filters(p: Params) -> CameraFilter:
    """The filters from checked parameters (errors recorded in ``p``, for callers reading more parameters)."""
    flt = CameraFilter(programmes=p.choices("programme", set(PROGRAMMES)), statuses=p.choices("status", set(STATUSES)),
                       street=p.code("street", STREET), community=p.code("community", COMMUNITY),
                       grid=p.code("grid", GRID), industries=p.choices("industry", set(INDUSTRY_NAMES)),
                       ptz_types=[int(v) for v in p.choices("ptz_type", {str(t) for t in PTZ_TYPES})],
                       q=p.text("q", max_len=Q_MAX_LEN), node=_node(p), platform=_platform(p))
    lifecycles = p.choices("lifecycle", set(LIFECYCLES) | {"all"})
    if lifecycles:
        flt.lifecycles = list(LIFECYCLES) if "all" in lifecycles else lifecycles
    return flt


def _node(p: Params) -> str | None:
    value = p.raw("node")
    if value is None:
        return None
    lo, hi = NODE_DIGITS
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and lo <= len(value) <= hi):
        shown = repr(value)[:40] if isinstance(value, str) else type(value).__name__
        p.bad("node", f"{shown} is not a catalog node's ID ({lo}–{hi} digits)")
        return None
    return value


def _platform(p: Params) -> str | None:
    value = p.raw("platform")
    if value is None:
        return None
    if not isinstance(value, str):
        p.bad("platform", f"must be text, not {type(value).__name__}")
        return None
    try:  # the registry's own rule for a platform ID (camera_registry.schema)
        return parse_value("platform", value, centre=None)
    except ValueError as exc:
        p.bad("platform", str(exc)[:200])
        return None


def read_sort(p: Params) -> str:
    """``sort``: one of :data:`SORTS`, ``-`` in front for descending."""
    return p.choice("sort", set(SORTS) | {f"-{s}" for s in SORTS}, default=DEFAULT_SORT) or DEFAULT_SORT


def _conditions(flt: CameraFilter, grids) -> list:
    conds = []
    if grids is not None:
        conds.append(Camera.grid_code.in_(sorted(grids)))
    for column, values in ((Camera.programme, flt.programmes), (Camera.status, flt.statuses),
                           (Camera.lifecycle, flt.lifecycles), (Camera.ptz_type, flt.ptz_types)):
        if values:
            conds.append(column.in_(list(values)))
    if flt.industries:
        conds.append(func.substr(Camera.device_id, *INDUSTRY_DIGITS).in_(list(flt.industries)))
    for column, value in ((Camera.street_code, flt.street), (Camera.community_code, flt.community),
                          (Camera.grid_code, flt.grid)):
        if value:
            conds.append(column == value)
    if flt.q:
        conds.append(or_(*(getattr(Camera, c).icontains(flt.q, autoescape=True) for c in TEXT_COLUMNS)))
    if flt.node:
        tree = subtree(flt.node, flt.platform)
        conds.append(select(literal(1)).select_from(tree).where(
            or_(tree.c.platform.is_(None), Camera.platform == tree.c.platform),
            or_(Camera.parent_id == tree.c.node_id, Camera.business_group_id == tree.c.node_id)).exists())
    elif flt.platform:
        conds.append(Camera.platform == flt.platform)
    return conds


def subtree(node: str, platform: str | None = None):
    """A recursive CTE ``(platform, node_id, depth)``: catalog node ``node`` and every node under it (whose
    ``parent_id`` or ``business_group_id`` is in the set), at most :data:`CATALOG_DEPTH_MAX` levels down.

    The seed is the node itself (also when ``catalog_nodes`` lacks it: cameras may name a parent the catalog
    did not list), of ``platform``, or of every platform (``platform`` NULL) when none is given; below it each
    platform's tree is followed on its own (a node's children are of its platform). A cycle ends at the bound.
    """
    n = CatalogNode.__table__
    seed = select(literal(platform, String(20)).label("platform"), literal(node, String(20)).label("node_id"),
                  literal(0).label("depth"))
    tree = seed.cte("catalog_subtree", recursive=True)
    child = select(n.c.platform, n.c.node_id, (tree.c.depth + 1).label("depth")).join(
        tree, and_(or_(tree.c.platform.is_(None), n.c.platform == tree.c.platform),
                   or_(n.c.parent_id == tree.c.node_id, n.c.business_group_id == tree.c.node_id))
    ).where(tree.c.depth < CATALOG_DEPTH_MAX)
    return tree.union(child)


def catalog_path(session: Session, platform: str | None, node_id: str | None) -> list[dict]:
    """The catalog nodes from the root down to ``node_id`` (a camera's parent), each ``{node_id, kind, name}``
    (``kind``/``name`` None for an ID the platform's catalog does not hold: the walk stops there). Followed up
    ``parent_id`` within ``platform`` (any platform when None), at most :data:`CATALOG_DEPTH_MAX` steps and
    never through a node twice (a cycle ends the walk)."""
    path, seen = [], set()
    current = node_id
    while current and current not in seen and len(path) < CATALOG_DEPTH_MAX:
        seen.add(current)
        stmt = select(CatalogNode).where(CatalogNode.node_id == current)
        if platform is not None:
            stmt = stmt.where(CatalogNode.platform == platform)
        row = session.scalars(stmt.order_by(CatalogNode.platform).limit(1)).first()
        if row is None:
            path.append({"node_id": current, "kind": None, "name": None})
            break
        path.append({"node_id": row.node_id, "kind": row.kind, "name": row.name})
        current = row.parent_id
    return path[::-1]


def catalog_node(session: Session, platform: str | None, node_id: str | None) -> dict | None:
    """One node ``{node_id, kind, name}`` (``kind``/``name`` None when the catalog lacks it), None for no ID."""
    if not node_id:
        return None
    stmt = select(CatalogNode).where(CatalogNode.node_id == node_id)
    if platform is not None:
        stmt = stmt.where(CatalogNode.platform == platform)
    row = session.scalars(stmt.order_by(CatalogNode.platform).limit(1)).first()
    return {"node_id": node_id, "kind": row.kind if row else None, "name": row.name if row else None}


def platforms(session: Session) -> list[str]:
    """The video platforms (SIP IDs) the registry knows: of its catalog nodes and of its cameras, in order."""
    nodes = select(CatalogNode.platform).distinct()
    cams = select(Camera.platform).where(Camera.platform.is_not(None)).distinct()
    return sorted(set(session.scalars(nodes)) | set(session.scalars(cams)))


def node_options(session: Session) -> list[dict]:
    """The groups and virtual organisations the list page offers as its ``node`` filter: per platform, in
    tree order (a node under its parent, ``depth`` for the indent), by name; at most :data:`NODE_OPTIONS_MAX`.
    Each ``{platform, node_id, kind, name, depth}``."""
    rows = session.execute(select(CatalogNode.platform, CatalogNode.node_id, CatalogNode.kind, CatalogNode.name,
                                  CatalogNode.parent_id, CatalogNode.business_group_id)
                           .where(CatalogNode.kind.in_(("group", "virtual")))
                           .order_by(CatalogNode.platform, CatalogNode.name, CatalogNode.node_id)
                           .limit(NODE_OPTIONS_MAX)).all()
    ids = {(r.platform, r.node_id) for r in rows}
    children: dict = {}
    roots = []
    for r in rows:
        up = next(((r.platform, u) for u in (r.parent_id, r.business_group_id)
                   if u and u != r.node_id and (r.platform, u) in ids), None)
        (children.setdefault(up, []) if up else roots).append(r)
    out, seen = [], set()

    def walk(r, depth):
        key = (r.platform, r.node_id)
        if key in seen or depth > CATALOG_DEPTH_MAX:
            return
        seen.add(key)
        out.append({"platform": r.platform, "node_id": r.node_id, "kind": r.kind, "name": r.name, "depth": depth})
        for c in children.get(key, ()):
            walk(c, depth + 1)

    for r in roots:
        walk(r, 0)
    for r in rows:  # nodes only reachable through a cycle: listed at the top level
        walk(r, 0)
    return out


def _order(sort: str | None) -> list:
    sort = sort or DEFAULT_SORT
    name = sort.lstrip("-")
    if name not in SORTS:
        raise ValueError(f"sort {sort!r}: one of {', '.join(SORTS)}")
    column = getattr(Camera, name)
    first = column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last()
    return [first] + ([Camera.device_id] if name != "device_id" else [])


def _rows_query(conds: list) -> Select:
    return (select(Camera.device_id, Camera.name, Camera.point_name, Camera.programme, Camera.status,
                   Camera.lifecycle, Camera.ptz_type, Camera.point_class, Camera.address, Camera.azimuth, Camera.fov,
                   Camera.range_m, Camera.grid_code, Camera.community_code, Camera.street_code, Camera.version,
                   Camera.updated_at, Camera.updated_by, func.ST_X(Camera.geom).label("lon"),
                   func.ST_Y(Camera.geom).label("lat"), Grid.name.label("grid_name"),
                   Community.name.label("community_name"), Street.name.label("street_name"))
            .outerjoin(Grid, Grid.code == Camera.grid_code)
            .outerjoin(Community, Community.code == Camera.community_code)
            .outerjoin(Street, Street.code == Camera.street_code)
            .where(*conds))


def industry_of(device_id: str) -> str:
    start, length = INDUSTRY_DIGITS
    return device_id[start - 1:start - 1 + length]


def select_cameras(session: Session, flt: CameraFilter, user, *, sort: str | None = None, limit: int | None = None,
                   offset: int = 0) -> tuple[list[dict], int]:
    """(rows, total): one page of the cameras ``user`` may see that match ``flt``, and how many match.

    Rows are dicts: the list's columns, ``lon``/``lat`` (WGS-84), ``industry`` (ID digits 9–10), the grid's,
    community's and street's names, ``version``. ``sort`` is one of :data:`SORTS` (``-`` for descending);
    ``limit`` None = every row.
    """
    from app.accounts.auth import visible_grid_codes

    conds = _conditions(flt, visible_grid_codes(user, session))
    total = session.scalar(select(func.count()).select_from(Camera).where(*conds))
    stmt = _rows_query(conds).order_by(*_order(sort)).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    for r in rows:
        r["industry"] = industry_of(r["device_id"])
    return rows, total


def filtered_ids(session: Session, flt: CameraFilter, user) -> list[str]:
    """The device IDs of every camera ``user`` may see that matches ``flt``, in ID order."""
    from app.accounts.auth import visible_grid_codes

    return list(session.scalars(select(Camera.device_id).where(*_conditions(flt, visible_grid_codes(user, session)))
                                .order_by(Camera.device_id)))


def visible_camera(session: Session, device_id: str, user) -> Camera:
    """The camera ``user`` may see, or :class:`~gis.errors.NotFound` (also for one outside its grids)."""
    from app.accounts.auth import visible_grid_codes

    camera = session.get(Camera, device_id) if isinstance(device_id, str) and len(device_id) <= 20 else None
    grids = visible_grid_codes(user, session) if camera is not None else None
    if camera is None or (grids is not None and camera.grid_code not in grids):
        raise NotFound(f"no camera {str(device_id)[:40]!r} that you may see")
    return camera


# -- who may change what --------------------------------------------------------------------------------------
def field_capability(camera: Camera, name: str) -> str:
    """The capability a change of field ``name`` of ``camera`` needs: on a planned camera ``camera.plan``
    covers every field; else the placement fields need ``camera.edit_placement``, the others
    ``camera.edit_record``."""
    if camera.lifecycle == "planned":
        return "camera.plan"
    return "camera.edit_placement" if name in PLACEMENT_FIELDS else "camera.edit_record"


def may_edit(user, camera: Camera, name: str) -> bool:
    return camera.lifecycle != "retired" and can(user, field_capability(camera, name))


def editable_fields(user, camera: Camera) -> list[str]:
    """The fields of :data:`EDIT_FIELDS` ``user`` may change on ``camera`` (none on a retired one)."""
    return [f for f in EDIT_FIELDS if may_edit(user, camera, f)]


def forbidden_fields(user, camera: Camera, names) -> list[str]:
    """Of ``names``, the fields ``user`` may not change on ``camera``, in the registry's order."""
    names = set(names)
    return [n for n in EDIT_FIELDS if n in names and not may_edit(user, camera, n)]


def status_capabilities(camera: Camera) -> tuple[str, ...]:
    """The capabilities a status change of ``camera`` needs: ``camera.status``, and on a planned camera
    ``camera.plan`` too (ON puts it into service: the planner's decision, not an operator's)."""
    return ("camera.status", "camera.plan") if camera.lifecycle == "planned" else ("camera.status",)


def actions(user, camera: Camera) -> dict[str, bool]:
    """What the camera's page offers ``user``: edit (any field), status, retire."""
    live = camera.lifecycle != "retired"
    return {"edit": bool(editable_fields(user, camera)),
            "status": live and all(can(user, c) for c in status_capabilities(camera)),
            "retire": live and can(user, "camera.retire")}
