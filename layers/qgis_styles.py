"""QGIS styles (QML) of the exported layers, drawn as the dashboards draw them (QGIS 样式).

A GeoPackage that ``gridwatch`` writes carries its layer's style in QGIS's ``layer_styles`` table
(``gis.writers.write_layer_style``), so QGIS opens cameras coloured by status, incidents by state and the
coverage report graduated by ratio with the very colours, sizes and line widths of the web maps: each is
read here from the one place the map layers take it from (``layers.style``, ``layers.incidents``,
``layers.coverage``), never written twice. Leaflet's pixel sizes stay pixels (``Pixel`` units in QGIS).

The QML is QGIS 3's renderer document (``renderer-v2``: ``categorizedSymbol``, ``graduatedSymbol``,
``singleSymbol``), built with ElementTree so every label is escaped.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Callable, Mapping

from layers import style
from layers.coverage import CHOROPLETH_STYLE, PLANNED_POINT, RATIO_BREAKS, RATIO_COLOURS
from layers.incidents import MARKER_RADIUS, POINT as INCIDENT_POINT, STATE_COLOURS
from layers.cameras import POINT as CAMERA_POINT

#: the QGIS version whose QML layout this follows (QGIS 3.x reads it; ``Option`` maps since 3.26)
QGIS_VERSION = "3.28.0-Firenze"
_GEOMETRY_TYPE = {"marker": "0", "line": "1", "fill": "2"}  # layerGeometryType: point, line, polygon
Names = Callable[[str], Mapping] | None


def qgis_colour(hex_colour: str, opacity: float = 1.0) -> str:
    """``#rrggbb`` (or ``#rgb``) as QGIS writes a colour: ``r,g,b,a`` with alpha 0–255."""
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * opacity)}"


def _options(parent: ET.Element, props: Mapping[str, str]) -> None:
    box = ET.SubElement(parent, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(box, "Option", type="QString", name=key, value=str(value))


def _symbol(parent: ET.Element, kind: str, name: str, leaflet: Mapping, colour: str | None = None) -> None:
    """One QGIS symbol from a Leaflet path style (``color``, ``weight``, ``fillColor``, ``fillOpacity``,
    ``opacity``, ``dashArray``, ``radius``); ``colour`` sets stroke and fill as ``popups.colour_by`` does."""
    stroke = colour or leaflet.get("color", "#3388ff")
    fill = colour or leaflet.get("fillColor", stroke)
    width = leaflet.get("weight", 3)
    sym = ET.SubElement(parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    if kind == "marker":
        layer = ET.SubElement(sym, "layer", {"class": "SimpleMarker", "enabled": "1", "locked": "0", "pass": "0"})
        _options(layer, {"name": "circle", "color": qgis_colour(fill, leaflet.get("fillOpacity", 0.2)),
                         "outline_color": qgis_colour(stroke, leaflet.get("opacity", 1.0)),
                         "outline_style": "solid", "outline_width": width, "outline_width_unit": "Pixel",
                         "size": 2 * leaflet.get("radius", 10), "size_unit": "Pixel"})
        return
    dash = str(leaflet.get("dashArray", "")).split()
    line = {"use_custom_dash": "1" if dash else "0", "customdash": ";".join(dash) or "5;2",
            "customdash_unit": "Pixel"}
    if kind == "line":
        layer = ET.SubElement(sym, "layer", {"class": "SimpleLine", "enabled": "1", "locked": "0", "pass": "0"})
        _options(layer, {"line_color": qgis_colour(stroke, leaflet.get("opacity", 1.0)), "line_style": "solid",
                         "line_width": width, "line_width_unit": "Pixel", "capstyle": "round",
                         "joinstyle": "round", **line})
        return
    layer = ET.SubElement(sym, "layer", {"class": "SimpleFill", "enabled": "1", "locked": "0", "pass": "0"})
    filled = leaflet.get("fill", True)
    _options(layer, {"color": qgis_colour(fill, leaflet.get("fillOpacity", 0.2) if filled else 0.0),
                     "style": "solid" if filled else "no", "outline_color": qgis_colour(stroke, leaflet.get("opacity", 1.0)),
                     "outline_style": "dash" if dash else "solid", "outline_width": width,
                     "outline_width_unit": "Pixel", "joinstyle": "round"})


def _document(renderer: ET.Element, kind: str) -> str:
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology")
    root.append(renderer)
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerOpacity").text = "1"
    ET.SubElement(root, "layerGeometryType").text = _GEOMETRY_TYPE[kind]
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


def _renderer(type_: str, **attrs) -> ET.Element:
    return ET.Element("renderer-v2", {"type": type_, "forceraster": "0", "symbollevels": "0", "enableorderby": "0",
                                      "referencescale": "-1", **attrs})


def categorized(attr: str, colours: Mapping[str, str], kind: str, leaflet: Mapping,
                labels: Mapping | None = None) -> str:
    """A ``categorizedSymbol`` style on ``attr``: one category per code of ``colours`` (code → ``#rrggbb``),
    labelled by ``labels`` (code → name; the code itself when missing). ``kind``: marker, line or fill."""
    renderer = _renderer("categorizedSymbol", attr=attr)
    cats, syms = ET.SubElement(renderer, "categories"), ET.SubElement(renderer, "symbols")
    for i, (code, colour) in enumerate(colours.items()):
        ET.SubElement(cats, "category", render="true", symbol=str(i), value=str(code), type="string",
                      label=str((labels or {}).get(code, code)))
        _symbol(syms, kind, str(i), leaflet, colour)
    _symbol(ET.SubElement(renderer, "source-symbol"), kind, "0", leaflet)
    return _document(renderer, kind)


def graduated(attr: str, breaks, colours, kind: str, leaflet: Mapping, labels=None) -> str:
    """A ``graduatedSymbol`` style on ``attr``: class ``i`` is ``breaks[i]``–``breaks[i + 1]`` in ``colours[i]``."""
    renderer = _renderer("graduatedSymbol", attr=attr, graduatedMethod="GraduatedColor")
    ranges, syms = ET.SubElement(renderer, "ranges"), ET.SubElement(renderer, "symbols")
    for i, colour in enumerate(colours):
        lo, hi = breaks[i], breaks[i + 1]
        ET.SubElement(ranges, "range", render="true", symbol=str(i), lower=f"{lo:.15f}", upper=f"{hi:.15f}",
                      label=labels[i] if labels else f"{lo:g} – {hi:g}")
        _symbol(syms, kind, str(i), leaflet, None)
        syms[-1].find("layer/Option/Option[@name='color']").set("value", qgis_colour(colour, leaflet.get("fillOpacity", 0.6)))
    _symbol(ET.SubElement(renderer, "source-symbol"), kind, "0", leaflet)
    ET.SubElement(renderer, "mode", name="manual")
    return _document(renderer, kind)


def single(kind: str, leaflet: Mapping) -> str:
    """A ``singleSymbol`` style from a Leaflet path style."""
    renderer = _renderer("singleSymbol")
    _symbol(ET.SubElement(renderer, "symbols"), kind, "0", leaflet)
    return _document(renderer, kind)


def _ratio_labels() -> list[str]:
    return [f"{lo:.0%} – {hi:.0%}" for lo, hi in zip(RATIO_BREAKS, RATIO_BREAKS[1:])]


#: layer name → how its style is built (``names``: label kind → {code: name}, from ``app.labels``)
STYLES: dict[str, Callable[[Names], str]] = {
    "cameras": lambda names: categorized("status", style.CAMERA_STATUS_COLOURS, "marker", CAMERA_POINT,
                                         names("camera_status") if names else None),
    "incidents": lambda names: categorized("state", STATE_COLOURS, "marker",
                                           {**INCIDENT_POINT, "radius": MARKER_RADIUS}, names("state") if names else None),
    "coverage": lambda names: graduated("ratio", RATIO_BREAKS, RATIO_COLOURS, "fill", CHOROPLETH_STYLE,
                                        _ratio_labels()),
    "planned-cameras": lambda names: single("marker", PLANNED_POINT),
    "streets": lambda names: single("fill", style.STREET_STYLE),
    "communities": lambda names: single("fill", style.COMMUNITY_STYLE),
    "grids": lambda names: single("fill", style.GRID_STYLE),
    "patrol-tracks": lambda names: single("line", style.PATROL_TRACK_STYLE),
}


def style_for(layer: str, names: Names = None) -> str | None:
    """The QML of ``layer`` (``cameras``, ``incidents``, ``coverage``, ``grids``, …), or None for a layer
    without one. ``names(kind)`` gives the category labels (``camera_status``, ``state``) in the user's language."""
    build = STYLES.get(layer.replace("_", "-"))
    return None if build is None else build(names)
