"""What the map pages hand their scripts (``app/static/js/map.js``, ``detail.js``, ``features.js``): one
function builds the ``map`` entry of the page data block for the operator, grid and planner pages.

Everything a script needs and the server defines lives here once: the Folium variable names of the
layers, the filter of the page, the poll interval, the URLs (from ``url_for``, never written in a
script) and the style constants (from ``layers.style``, ``layers.incidents``, ``layers.coverage``).
"""
from __future__ import annotations

from flask import url_for
from markupsafe import Markup

from app import web
from app.incidents import workflow
from layers import coverage as coverage_layer, incidents as incident_layer, style

#: how often a map page asks for what changed (ms); a page may ask for another with ``?poll=`` (tests do)
POLL_MS = 30000
POLL_MIN_MS, POLL_MAX_MS = 500, 600000
#: the id placeholder of URL patterns (``gw.url(pattern, {id: 5})`` in the scripts)
_ID = 987654321

#: the view cones and spots the map script draws (the camera layer's "sees it" red, as before)
CONE_STYLE = {"color": "#d7301f", "weight": 2, "fillOpacity": 0.25}
SPOT_STYLE = {"radius": 5, "color": "#000", "weight": 2, "fillColor": "#fff", "fillOpacity": 1}
MOVE_STYLE = {"radius": 7, "color": "#d7301f", "weight": 3, "fillOpacity": 0.2}
SITE_STYLE = {"radius": 7, "color": "#000", "weight": 2, "fillColor": coverage_layer.SITE_COLOUR, "fillOpacity": 0.95}

#: the messages map.js and detail.js show (keys of app.i18n, and every key of app.messages.loop): the map
#: entry carries them in the page's language and map.js adds them to gw.t's, so a page template that names
#: its own js_messages needs to name none of these
MESSAGES = ("no_actions", "note", "no_camera", "category", "state", "priority", "description", "address",
            "grid_code", "reported_at", "deadline", "assignee", "reporter_name", "reporter_phone", "seen_by",
            "cancel", "gain", "@loop")


def _pattern(endpoint: str, **kw) -> str:
    return url_for(endpoint, incident_id=_ID, **kw).replace(str(_ID), "{id}")


def urls() -> dict:
    """Every URL the map and detail scripts call (patterns carry ``{id}``)."""
    return {
        "incidents": url_for("dashboards.api_incidents"),
        "incident": _pattern("dashboards.api_incident"),
        "actions": _pattern("dashboards.api_incident_action"),
        "assignees": _pattern("dashboards.api_incident_assignees"),
        "seeing": url_for("dashboards.api_cameras_seeing"),
        "search": url_for("dashboards.api_search"),
        "plan": url_for("dashboards.coverage_plan"),
        "map_cameras": url_for("dashboards.api_map_cameras"),
        "blind_spots": url_for("dashboards.api_map_blind_spots"),
    }


def messages(lang: str) -> dict[str, str]:
    import importlib

    from app.i18n import translate

    keys: list[str] = []
    for item in MESSAGES:
        keys.extend(importlib.import_module(f"app.messages.{item[1:]}").MESSAGES if item.startswith("@") else [item])
    return {k: translate(k, lang) for k in keys}


def map_data(parts, *, page: str, lang: str, flt=None, poll_ms: int = POLL_MS) -> dict:
    """The ``map`` entry of a map page's data block: Folium names, whether the page's markers were
    capped (then zooming in loads by area), the page's filter (sent again by every poll), the cursor of
    its markers (the first poll asks for what changed after it), the poll
    interval, whether right-click shows the cameras seeing a spot, the URLs and the styles."""
    from app.dashboards import map_api  # its routes import the views, which import this module

    info = parts.info or {}
    return {
        "names": parts.names,
        "truncated": info.get("total", 0) > info.get("shown", 0),
        "filters": flt.query_string() if flt is not None else {},
        "cursor": info.get("cursor"),  # the snapshot the embedded markers were read under: the first poll's "after"
        "poll_ms": poll_ms,
        "spot": page == "operator",
        "page": page,
        "urls": urls(),
        "messages": messages(lang),
        "rules": workflow.ACTION_RULES,
        "photo_max_count": web.settings().photo_max_count,
        # a registry too big to embed: per-grid counts, and the cameras (and cones) of the view from min_zoom
        "cameras": {"by_bbox": "camera_counts" in parts.names, "min_zoom": map_api.CAMERA_MIN_ZOOM,
                    "cones": "camera_cones" in parts.names},
        "style": {"state_colours": incident_layer.STATE_COLOURS, "overdue_stroke": incident_layer.OVERDUE_STROKE,
                  "cone": CONE_STYLE, "spot": SPOT_STYLE, "move": MOVE_STYLE,
                  "site_cone": coverage_layer.SITE_CONE_STYLE, "site": SITE_STYLE,
                  "camera_status": style.CAMERA_STATUS_COLOURS},
    }


def head_scripts() -> Markup:
    """The scripts a map page's head needs before Folium's inline script runs: ``features.js``
    (``gw.feature``, which every layer's ``onEachFeature`` calls). ``app.dashboards.pages.render_parts``
    appends it to the head it cuts from Folium's page."""
    from flask import has_request_context

    from app.security import csp_nonce

    if not has_request_context():  # a map rendered outside a page (tests, files): no URL to give
        return Markup("")
    return Markup('<script src="{}" nonce="{}"></script>').format(
        url_for("static", filename="js/features.js"), csp_nonce())
