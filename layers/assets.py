"""Serve Leaflet and its plugins from installed packages instead of CDNs.

Folium names every script and stylesheet it needs (``default_js``/``default_css`` on each element).
``localise`` rewrites those to local URLs under a prefix the web app serves from ``ASSET_FILES``;
assets we do not use are dropped, and an asset we do not know raises, so no CDN URL slips through.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import folium


def _xstatic(pkg: str, *parts: str) -> Path:
    return Path(importlib.import_module(f"xstatic.pkg.{pkg}").BASE_DIR, *parts)


_FOLIUM_TEMPLATES = Path(folium.__file__).parent / "templates"

# url path under the prefix -> file on disk
ASSET_FILES: dict[str, Path] = {
    "leaflet/leaflet.js": _xstatic("leaflet", "leaflet.js"),
    "leaflet/leaflet.css": _xstatic("leaflet", "leaflet.css"),
    "leaflet/images/layers.png": _xstatic("leaflet", "images", "layers.png"),
    "leaflet/images/layers-2x.png": _xstatic("leaflet", "images", "layers-2x.png"),
    "leaflet/images/marker-icon.png": _xstatic("leaflet", "images", "marker-icon.png"),
    "leaflet/images/marker-icon-2x.png": _xstatic("leaflet", "images", "marker-icon-2x.png"),
    "leaflet/images/marker-shadow.png": _xstatic("leaflet", "images", "marker-shadow.png"),
    "markercluster/leaflet.markercluster.js": _xstatic("leaflet_markercluster", "leaflet.markercluster.js"),
    "markercluster/MarkerCluster.css": _xstatic("leaflet_markercluster", "MarkerCluster.css"),
    "markercluster/MarkerCluster.Default.css": _xstatic("leaflet_markercluster", "MarkerCluster.Default.css"),
    "jquery/jquery.min.js": _xstatic("jquery", "jquery.min.js"),
    "heat/leaflet_heat.min.js": _FOLIUM_TEMPLATES / "leaflet_heat.min.js",
}

# folium asset name -> our url path, or None to drop it (we use none of bootstrap or awesome-markers)
_BY_NAME: dict[str, str | None] = {
    "leaflet": "leaflet/leaflet.js",
    "leaflet_css": "leaflet/leaflet.css",
    "jquery": "jquery/jquery.min.js",
    "markerclusterjs": "markercluster/leaflet.markercluster.js",
    "markercluster": "markercluster/leaflet.markercluster.js",
    "markerclustercss": "markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "markercluster/MarkerCluster.Default.css",
    "leaflet-heat.js": "heat/leaflet_heat.min.js",
    "bootstrap": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers": None,
    "awesome_markers_css": None,
    "awesome_markers_font_css": None,
    "awesome_rotate_css": None,
}


class UnknownAsset(KeyError):
    """A Folium element wants a script or stylesheet we have no local copy of."""


def _rewrite(entries, prefix: str) -> list[tuple[str, str]]:
    out = []
    for name, url in entries:
        if name not in _BY_NAME:
            raise UnknownAsset(f"no local copy of Folium asset {name!r} ({url}); add it to layers.assets")
        local = _BY_NAME[name]
        if local is not None:
            out.append((name, f"{prefix.rstrip('/')}/{local}"))
    return out


def localise(element: folium.Element, prefix: str = "/vendor") -> folium.Element:
    """Point every ``default_js``/``default_css`` in ``element``'s tree at ``prefix``; returns it."""
    stack = [element]
    while stack:
        el = stack.pop()
        for attr in ("default_js", "default_css"):
            entries = getattr(el, attr, None)
            if entries:
                setattr(el, attr, _rewrite(entries, prefix))
        stack.extend(getattr(el, "_children", {}).values())
    return element
