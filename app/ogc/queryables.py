"""What a collection's items may be filtered on: the one description the property filters, CQL2 filters
(``app.ogc.cql``), ``/queryables`` and the OpenAPI document are all built from."""
from __future__ import annotations

from dataclasses import dataclass

#: the JSON Schema types of a queryable (``/queryables`` answers these) and of a CQL2 literal compared with it
TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "geometry")


@dataclass(frozen=True)
class Queryable:
    """One property of a collection that a client may filter on.

    ``column`` is the SQL expression that reads it from the collection's source (trusted text written in
    this package, never from a request); ``type`` one of :data:`TYPES`; ``enum`` the allowed values of a
    code list (for ``/queryables`` and a clearer error), or None.
    """

    name: str
    column: str
    type: str
    title: str = ""
    enum: tuple | None = None

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"queryable {self.name}: type {self.type!r} is not one of {TYPES}")
