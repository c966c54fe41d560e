"""The cameras in the browser (摄像机管理): the list beside its map, a camera's page, the edit and add forms.

- ``GET /cameras`` (``cameras.index``): filters, sorting, paging and the count; the map of the whole selection;
- ``GET /cameras/<device_id>`` (``cameras.camera``): every field by its Chinese name, the catalog (the video
  platform, the path of catalog nodes to the camera, its business group, the GB/T 28181 attributes), the history,
  the live-view link (``app/cameras/live.py``; a built camera, a template set), the status and retire forms and
  the map editor (``cameras/_map_editor.html``, ``js/camera-map.js``);
- ``GET /cameras/<device_id>/edit`` (``cameras.edit``) and ``GET /cameras/new`` (``cameras.new``): the forms.

The forms write through the JSON API (``app/cameras/api.py``, routes on this blueprint) from
``static/js/cameras.js``: a stale form gets the 409 with both versions side by side.
"""
from __future__ import annotations


from flask import Blueprint, render_template, request, url_for
from sqlalchemy import select

from app import web
from app.accounts.auth import current_user, visible_grid_codes
from app.accounts.capabilities import capability_required
from app.cameras import service
from app.dashboards.params import MAX_ID, Params
from app.grids.models import Community, Grid, Street
from app.i18n import current_language
from camera_registry.gb28181 import DIRECTION_AZIMUTH, INDUSTRIES
from camera_registry.models import LIFECYCLES, PARENTAL_NAMES, POINT_CLASSES, PROGRAMMES, PTZ_TYPES, SECRECY_NAMES, STATUSES
from camera_registry.schema import BY_NAME, DERIVED, FIELDS, POSITION
from gis.errors import Forbidden
from layers.base import basemap_url, shift_lonlat
from layers.style import CAMERA_STATUS_COLOURS

bp = Blueprint("cameras", __name__)

#: the ``app.labels`` kind of each coded field (the page shows the name, not the code)
LABEL_KINDS = {"programme": "programme", "status": "camera_status", "ptz_type": "ptz_type",
               "point_class": "point_class", "lifecycle": "lifecycle", "direction_type": "direction_type",
               "parental": "parental", "secrecy": "secrecy"}
#: the choices of the coded fields in the forms
CHOICES = {"programme": PROGRAMMES, "ptz_type": PTZ_TYPES, "point_class": POINT_CLASSES, "status": STATUSES,
           "direction_type": tuple(DIRECTION_AZIMUTH), "parental": tuple(PARENTAL_NAMES),
           "secrecy": tuple(SECRECY_NAMES)}
#: the fields the camera page shows in its catalog section (目录), not among the others: where the camera sits
#: in its video platform's tree and what the platform's catalog says of the device
CATALOG_PLACE = ("platform", "parent_id", "business_group_id")
CATALOG_ATTRIBUTES = ("manufacturer", "model", "owner", "civil_code", "parental", "secrecy", "direction_type",
                      "azimuth_approx")
#: the list's columns (field names; their headers are the fields' Chinese names)
LIST_COLUMNS = ("device_id", "name", "programme", "status", "lifecycle", "ptz_type", "grid_code", "address",
                "updated_at")
_ID = "00000000000000000000"  # the device ID placeholder of URL patterns (``{id}`` in the scripts)


def lang() -> str:
    return current_language(web.settings().language)


def field_name(name: str) -> str:
    """A field's Chinese name (``camera_registry.schema``: FIELDS, the position, the derived codes), or the
    console's word for the fields outside the import (lifecycle, version)."""
    from app.i18n import translate

    if name in BY_NAME:
        return BY_NAME[name].zh
    if name in POSITION:
        return POSITION[name]
    if name in DERIVED:
        return DERIVED[name][0]
    return translate(f"cam_field_{name}", lang())


def tiles() -> dict | None:
    """The configured basemap for the page's Leaflet map (None: no tiles, the outlines orient)."""
    st = web.settings()
    found = basemap_url(st.basemap, st.tianditu_key)
    return None if found is None else {"url": found[0], "attribution": found[1]}


def _pattern(endpoint: str) -> str:
    return url_for(endpoint, device_id=_ID).replace(_ID, "{id}")


def names() -> dict[str, str]:
    """Each field's name as the scripts show it (a conflict's table, a 422's field)."""
    shown = ("device_id", *service.EDIT_FIELDS, "status", "lifecycle", "grid_code", "community_code", "street_code")
    return {n: field_name(n) for n in shown}


def live_js() -> dict | None:
    """``js["live"]`` of a page with cameras: the live-view template and the link's words for ``gw.liveLink``
    (``app/static/js/features.js``); None when the setting ``video_url_template`` is empty (no links)."""
    from app.cameras.live import page_data
    from app.i18n import translate

    template = web.settings().video_url_template
    return page_data(template, translate("cam_live_view", lang())) if template else None


def platform_name(platform: str | None) -> str | None:
    """A video platform by its name (setting ``video_platforms[id]["name"]``), else its SIP ID."""
    if not platform:
        return None
    entry = (web.settings().video_platforms or {}).get(platform)
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) and name.strip() else platform


def urls() -> dict:
    return {"list": url_for("cameras.api_list"), "camera": _pattern("cameras.api_camera"),
            "status": _pattern("cameras.api_status"), "retire": _pattern("cameras.api_retire"),
            "add": url_for("cameras.api_add"), "page": _pattern("cameras.camera"), "edit": _pattern("cameras.edit")}


def _options(s, user) -> dict:
    """The filters' choices: code lists, and the streets, communities and grids the account may see."""
    grids = visible_grid_codes(user, s)
    g = select(Grid.code, Grid.name, Grid.community_code).order_by(Grid.code)
    if grids is not None:
        g = g.where(Grid.code.in_(sorted(grids)))
    grid_rows = s.execute(g).all()
    c = select(Community.code, Community.name).order_by(Community.code)
    st = select(Street.code, Street.name).order_by(Street.code)
    if grids is not None:
        mine = sorted({r.community_code for r in grid_rows})
        c = c.where(Community.code.in_(mine))
        st = st.where(Street.code.in_(sorted({m[:9] for m in mine})))
    return {"programme": PROGRAMMES, "status": STATUSES, "lifecycle": LIFECYCLES, "ptz_type": PTZ_TYPES,
            "industry": INDUSTRIES, "streets": s.execute(st).all(), "communities": s.execute(c).all(),
            "grids": [(r.code, r.name) for r in grid_rows],
            "nodes": service.node_options(s), "platforms": service.platforms(s)}


def _markers(rows: list[dict]) -> list[list]:
    """``[device_id, name, status, lifecycle, lon, lat]`` per camera, lon/lat as the basemap shows them."""
    if not rows:
        return []
    x, y = shift_lonlat([r["lon"] for r in rows], [r["lat"] for r in rows], web.settings().basemap)
    return [[r["device_id"], r["name"], r["status"], r["lifecycle"], round(float(a), 6), round(float(b), 6)]
            for r, a, b in zip(rows, x, y)]


@bp.get("/cameras")
@capability_required("camera.read")
def index():
    s, user = web.db_session(), current_user()
    p = Params(request.args)
    flt = service.read_filters(p)
    sort = service.read_sort(p)
    page = p.integer("page", lo=1, hi=MAX_ID // service.PAGE_DEFAULT, default=1)
    p.done()
    rows, total = service.select_cameras(s, flt, user, sort=sort, limit=service.PAGE_DEFAULT,
                                         offset=(page - 1) * service.PAGE_DEFAULT)
    every, _ = service.select_cameras(s, flt, user, limit=service.MAP_MAX)
    pages = max(1, -(-total // service.PAGE_DEFAULT))

    def link(**over) -> str:
        return url_for("cameras.index", **{**flt.query_string(), "sort": sort, "page": page, **over})

    data = {"page": "list", "markers": _markers(every), "truncated": total > len(every), "tiles": tiles(),
            "bbox": list(web.district().bbox), "colours": CAMERA_STATUS_COLOURS, "urls": urls()}
    node = service.catalog_node(s, flt.platform, flt.node) if flt.node else None
    return render_template("cameras/index.html", page="cameras", rows=rows, total=total, flt=flt, sort=sort,
                           page_no=page, pages=pages, link=link, options=_options(s, user), columns=LIST_COLUMNS,
                           field_name=field_name, kinds=LABEL_KINDS, size=service.PAGE_DEFAULT, node=node,
                           platform_name=platform_name, js={"cameras": data, "live": live_js()},
                           js_messages=["@cameras"])


def camera_js(camera, user) -> dict:
    """``js["camera"]``: what the camera page's scripts (``cameras.js``, H2's ``camera-map.js``) need; lon/lat
    as the basemap shows them (``layers.base``), the fields this account may edit, the PATCH URL."""
    from camera_registry.history import position

    lon, lat = position(camera)
    x, y = shift_lonlat([lon], [lat], web.settings().basemap)
    return {"device_id": camera.device_id, "lon": float(x[0]), "lat": float(y[0]), "azimuth": camera.azimuth,
            "fov": camera.fov, "range_m": camera.range_m, "ptz_type": camera.ptz_type, "status": camera.status,
            "lifecycle": camera.lifecycle,
            "version": camera.version, "editable": service.editable_fields(user, camera),
            "patch_url": url_for("cameras.api_patch", device_id=camera.device_id)}


def _page_js(camera, user, page: str) -> dict:
    return {"camera": camera_js(camera, user), "basemap": tiles(), "display_crs": _display_crs(), "live": live_js(),
            "cameras": {"page": page, "urls": urls(), "colours": CAMERA_STATUS_COLOURS, "names": names(),
                        "kinds": LABEL_KINDS}}


def _display_crs() -> str:
    from layers.base import display_crs

    return display_crs(web.settings().basemap)


def _shown_fields(camera) -> list[tuple[str, str, object, str | None]]:
    """(field, Chinese name, value, label kind) of every field the page shows, in the registry's order."""
    from camera_registry.history import position

    out = [(f.name, f.zh, getattr(camera, f.name), LABEL_KINDS.get(f.name)) for f in FIELDS
           if f.name not in CATALOG_PLACE + CATALOG_ATTRIBUTES]
    lon, lat = position(camera)
    out += [("lon", POSITION["lon"], f"{lon:.7f}", None), ("lat", POSITION["lat"], f"{lat:.7f}", None),
            ("lifecycle", field_name("lifecycle"), camera.lifecycle, "lifecycle")]
    return out


def _areas(s, camera) -> list[tuple[str, str, str | None, str | None]]:
    """(field, Chinese name, code, name) of the grid, community and street the camera lies in."""
    out = []
    for name, model in (("grid_code", Grid), ("community_code", Community), ("street_code", Street)):
        code = getattr(camera, name)
        shown = s.scalar(select(model.name).where(model.code == code)) if code else None
        out.append((name, DERIVED[name][0], code, shown))
    return out


def _catalog(s, camera) -> dict:
    """The camera page's catalog section: the platform (``id``, ``name``), the path of catalog nodes from the
    root to the camera's parent (``service.catalog_path``, each with the list's link filtered to it), the
    business group, and the catalog attributes as (field, Chinese name, value, label kind)."""
    def linked(node):
        if node is None:
            return None
        return {**node, "url": url_for("cameras.index", node=node["node_id"],
                                       **({"platform": camera.platform} if camera.platform else {}))}

    path = [linked(n) for n in service.catalog_path(s, camera.platform, camera.parent_id)]
    group = linked(service.catalog_node(s, camera.platform, camera.business_group_id))
    attributes = [(name, BY_NAME[name].zh, getattr(camera, name), LABEL_KINDS.get(name)) for name in CATALOG_ATTRIBUTES]
    return {"platform": camera.platform, "platform_name": platform_name(camera.platform), "path": path,
            "group": group, "attributes": attributes,
            "names": {name: BY_NAME[name].zh for name in CATALOG_PLACE}}


@bp.get("/cameras/<device_id>")
@capability_required("camera.read")
def camera(device_id: str):
    from app.cameras.live import camera_live_url
    from camera_registry.queries import timeline

    s, user = web.db_session(), current_user()
    cam = service.visible_camera(s, device_id, user)
    return render_template("cameras/camera.html", page="cameras", camera=cam, fields=_shown_fields(cam),
                           catalog=_catalog(s, cam), live_url=camera_live_url(web.settings().video_url_template, cam),
                           areas=_areas(s, cam), industry=service.industry_of(cam.device_id),
                           timeline=timeline(s, cam.device_id), actions=service.actions(user, cam),
                           field_name=field_name, kinds=LABEL_KINDS, statuses=STATUSES,
                           js=_page_js(cam, user, "camera"), js_messages=["@cameras"])


def _form_fields(camera, editable) -> list[dict]:
    """The edit or add form's inputs: every field of :data:`service.EDIT_FIELDS` (and, to add, the ID and the
    first status) with its name, current value, choices and whether this account may change it."""
    from camera_registry.history import position

    names = list(service.EDIT_FIELDS) if camera is not None else ["device_id", *service.EDIT_FIELDS, "status"]
    lonlat = position(camera) if camera is not None else (None, None)
    out = []
    for name in names:
        if camera is None:
            value = None
        elif name in ("lon", "lat"):
            value = f"{lonlat[0 if name == 'lon' else 1]:.7f}"
        else:
            value = getattr(camera, name)
        kind = BY_NAME[name].kind if name in BY_NAME else "float"
        out.append({"name": name, "zh": field_name(name), "value": "" if value is None else value,
                    "choices": CHOICES.get(name), "label": LABEL_KINDS.get(name), "kind": kind,
                    "editable": name in editable, "required": name in ("device_id", "name", "lon", "lat")})
    return out


@bp.get("/cameras/<device_id>/edit")
@capability_required("camera.edit")
def edit(device_id: str):
    s, user = web.db_session(), current_user()
    cam = service.visible_camera(s, device_id, user)
    editable = service.editable_fields(user, cam)
    if not editable:
        raise Forbidden(f"you ({user.role}) may change no field of camera {cam.device_id}"
                        + (" (it is retired)" if cam.lifecycle == "retired" else ""))
    return render_template("cameras/form.html", page="cameras", camera=cam, fields=_form_fields(cam, editable),
                           js=_page_js(cam, user, "edit"), js_messages=["@cameras"])


@bp.get("/cameras/new")
@capability_required("camera.add")
def new():
    every = {"device_id", *service.EDIT_FIELDS, "status"}
    return render_template("cameras/form.html", page="cameras", camera=None, fields=_form_fields(None, every),
                           js={"cameras": {"page": "new", "urls": urls(), "names": names(), "kinds": LABEL_KINDS}},
                           js_messages=["@cameras"])


from app.cameras import api  # noqa: E402,F401  (the JSON routes, on this blueprint)
