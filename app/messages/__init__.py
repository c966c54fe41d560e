"""The interface's message catalogues, one module per area, merged into ``app.i18n.MESSAGES``.

Each module defines ``MESSAGES = {key: {"zh": ..., "en": ...}}``; a key defined twice is an error at
import, so every text has one definition. Codes (states, roles, sources, …) are not messages: their names
are the table of ``app.labels``.
"""
from __future__ import annotations

import importlib

#: the area catalogues, in the order they are merged
AREAS = ("field", "loop", "workorders", "patrols", "webhooks", "maps", "cameras", "camera_files", "grids",
         "boundaries", "people", "reference", "audit", "planning", "ogc", "stats")


def merged(base: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """``base`` plus every area's catalogue; raises ValueError naming a key defined twice."""
    out = dict(base)
    for area in AREAS:
        for key, entry in importlib.import_module(f"app.messages.{area}").MESSAGES.items():
            if key in out:
                raise ValueError(f"message {key!r} of app.messages.{area} is already defined")
            out[key] = entry
    return out
