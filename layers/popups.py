"""Popups, tooltips and data-driven styles of GeoJSON layers, built in the browser from each
feature's properties.

Two ways to show a feature's details:

* ``feature_js`` (every GeoJSON layer): the page embeds only the properties; ``gw.feature`` (in
  ``app/static/js/features.js``) builds the popup and tooltip DOM on demand with ``textContent``, so
  user text is shown as text by construction (never parsed as HTML) and no per-feature HTML weighs
  the page down; a field naming a label kind shows the code by its name. It also styles
  each feature from its properties (a colour per state or status, a flag such as overdue).
* ``table`` / ``column`` (single markers): server-side HTML with every value escaped here, once.

Folium's own ``GeoJsonPopup``/``GeoJsonTooltip`` are not used: they join property values into
``innerHTML`` unescaped.
"""
from __future__ import annotations

import json
from html import escape
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
from folium.utilities import JsCode


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return escape(str(value), quote=True)


def table(title: Any, rows: Iterable[tuple[str, Any]]) -> str:
    """An HTML snippet: a bold title and a two-column table, all text escaped."""
    body = "".join(f"<tr><th>{escape(label)}</th><td>{_text(value)}</td></tr>" for label, value in rows)
    return f'<div class="gw-popup"><b>{_text(title)}</b><table>{body}</table></div>'


def column(frame: pd.DataFrame, title: str, fields: list[tuple[str, str]]) -> pd.Series:
    """One popup per row of ``frame``: ``fields`` is a list of (label, column name)."""
    return pd.Series([table(row.get(title), [(label, row.get(col)) for label, col in fields])
                      for row in frame.to_dict("records")], index=frame.index, dtype=object)


def colour_by(prop: str, colours: Mapping[str, str] | None = None, *, default: str = "#333333",
              keys: Sequence[str] = ("color", "fillColor")) -> dict:
    """Style rule of ``feature_js``: set ``keys`` to ``colours[properties[prop]]`` (or to the property
    itself when ``colours`` is None, for a colour computed on the server)."""
    return {"prop": prop, "map": dict(colours) if colours is not None else None, "default": default,
            "keys": list(keys)}


# One call per layer: the spec S is embedded as JSON and handed to ``gw.feature`` (app/static/js/features.js,
# loaded in the page's head), which returns the layer's onEachFeature. Popup and tooltip contents are
# functions, so nothing is built until the user opens one; every value goes in through textContent.
_FEATURE_JS = "gw.feature(%s)"


def feature_js(*, title: str | None = None, fields: Sequence[tuple[str, ...]] = (), tooltip: str | None = None,
               style: Mapping[str, Any] | None = None, colour: dict | None = None,
               flag: tuple[str, Mapping[str, Any], str | None] | None = None,
               slot: tuple[str, str] | None = None, live: str | None = None, popup: bool = True,
               radius: str | None = None) -> JsCode:
    """``onEachFeature`` code for a ``folium.GeoJson``: popup, tooltip and style from the properties.

    Parameters
    ----------
    title, fields :
        Property shown in bold, and (label, property) or (label, property, label kind) rows of the popup
        table: with a kind (``app.labels``: state, priority, …) the script shows the code by its name
        (``gw.label(kind, value)``).
    tooltip :
        Property shown as the hover tooltip.
    style, colour, flag :
        Static Leaflet path options; a ``colour_by`` rule; and ``(property, style, popup mark)``: when
        the property is truthy its style is applied on top and the mark (e.g. "⚠") heads the popup.
    slot :
        ``(class, attribute)``: an empty ``<div class=… attribute=id>`` at the end of the popup, for the
        page script to fill (details fetched on click).
    live :
        Property holding a camera's device ID: the popup ends with its live-view link (``gw.liveLink``, from
        the page data's ``live`` template: none when the page has no template, nor for a feature whose
        ``lifecycle`` property is not one with video).
    radius :
        Property holding a circle marker's radius in pixels (a count drawn to scale).
    """
    spec: dict[str, Any] = {}
    if style or colour or flag:
        spec["style"] = {"base": dict(style or {}), "colour": colour,
                         "flag": {"prop": flag[0], "style": dict(flag[1])} if flag else None}
    if popup:
        spec["popup"] = {"title": title, "fields": [list(f) for f in fields], "slot": list(slot) if slot else None,
                         "flag": [flag[0], flag[2]] if flag and flag[2] else None, "live": live}
    if tooltip:
        spec["tooltip"] = tooltip
    if radius:
        spec["radius"] = radius
    # the spec sits inside a <script>: no "<" may appear in it as such
    return JsCode(_FEATURE_JS % json.dumps(spec, ensure_ascii=False).replace("<", "\\u003c"))
