"""The coordinate reference systems of the OGC API (Part 2, CRS by reference): their URIs, axis order and
how PostGIS writes a geometry in each.

Every layer is stored in WGS-84 lon/lat (``storageCrs`` CRS84). A request may ask for its features
(``crs``) or give its ``bbox`` (``bbox-crs``) and ``filter`` (``filter-crs``) in any of :data:`SUPPORTED`.
Axis order follows each CRS's EPSG definition, as GDAL and OWSLib expect (checked against pyproj's
``CRS.axis_info`` in the tests): EPSG:4326 and EPSG:4490 (CGCS2000) are latitude, longitude; EPSG:4544
(CGCS2000 / 3-degree Gauss–Krüger CM 105°E) is northing, easting; CRS84 is longitude, latitude.
PostGIS geometry is always x = lon / easting, so the writers flip with ``ST_FlipCoordinates``.
"""
from __future__ import annotations

from dataclasses import dataclass

from gis.errors import InvalidData

OGC_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"


@dataclass(frozen=True)
class Crs:
    """One CRS the API speaks: its URI, PostGIS SRID, whether its first axis is northing/latitude, and
    the decimals coordinates are written with (1e-6° ≈ 0.1 m; 1 mm in metres)."""

    uri: str
    srid: int
    flipped: bool
    decimals: int
    title: str

    @property
    def metric(self) -> bool:
        return self.decimals < 6


CRS84 = Crs(OGC_CRS84, 4326, False, 6, "WGS 84 longitude/latitude (CRS84)")
SUPPORTED: tuple[Crs, ...] = (
    CRS84,
    Crs(EPSG_URI.format(code=4326), 4326, True, 6, "WGS 84 (EPSG:4326, latitude/longitude)"),
    Crs(EPSG_URI.format(code=4490), 4490, True, 6, "CGCS2000 (EPSG:4490, latitude/longitude)"),
    Crs(EPSG_URI.format(code=4544), 4544, True, 3, "CGCS2000 / 3-degree Gauss-Kruger CM 105E (EPSG:4544, "
                                                   "northing/easting, metres)"),
)
STORAGE = CRS84
BY_URI = {c.uri: c for c in SUPPORTED}
#: short spellings clients send (``EPSG:4544``, ``urn:ogc:def:crs:EPSG::4544``, the http URI's ``https``)
_ALIASES = {"CRS84": CRS84, "OGC:CRS84": CRS84, "urn:ogc:def:crs:OGC:1.3:CRS84": CRS84,
            "urn:ogc:def:crs:OGC::CRS84": CRS84}
for _c in SUPPORTED[1:]:
    _ALIASES[f"EPSG:{_c.srid}"] = _c
    _ALIASES[f"urn:ogc:def:crs:EPSG::{_c.srid}"] = _c
    _ALIASES[f"[EPSG:{_c.srid}]"] = _c


def parse(value: str | None, name: str) -> Crs:
    """The CRS a request parameter ``name`` names (CRS84 when absent); InvalidData naming it otherwise."""
    if value is None or value == "":
        return STORAGE
    text = value.strip()
    if text.startswith("https://"):
        text = "http://" + text[len("https://"):]
    found = BY_URI.get(text) or _ALIASES.get(text) or _ALIASES.get(text.upper())
    if found is None:
        raise InvalidData(f"{name}: {value[:200]!r} is not a supported CRS; use one of "
                          + ", ".join(c.uri for c in SUPPORTED))
    return found


def geometry_sql(column: str, crs: Crs) -> str:
    """SQL of ``column`` (EPSG:4326 lon/lat) as GeoJSON text in ``crs``'s coordinates and axis order."""
    expr = column if crs.srid == 4326 else f"ST_Transform({column}, {crs.srid})"
    if crs.flipped:
        expr = f"ST_FlipCoordinates({expr})"
    return f"ST_AsGeoJSON({expr}, {crs.decimals}, 0)"  # options 0: no "crs" member


def envelope_sql(crs: Crs, prefix: str = "bbox") -> str:
    """SQL of a bbox given in ``crs`` (parameters ``:{prefix}_x1 …`` already in x/y = lon/easting order)
    as an EPSG:4326 polygon. Its edges are densified first, so a metric box keeps its shape in degrees."""
    box = f"ST_MakeEnvelope(:{prefix}_x1, :{prefix}_y1, :{prefix}_x2, :{prefix}_y2, {crs.srid})"
    if crs.srid == 4326:
        return box
    # a box of zero width and height (a point) would make the step 0, which ST_Segmentize refuses
    step = f"greatest(:{prefix}_x2 - :{prefix}_x1, :{prefix}_y2 - :{prefix}_y1, 1e-6) / 32.0"
    return f"ST_Transform(ST_Segmentize({box}, {step}), 4326)"


def to_xy(crs: Crs, a: float, b: float) -> tuple[float, float]:
    """A coordinate pair in ``crs``'s axis order as x/y (lon/easting first)."""
    return (b, a) if crs.flipped else (a, b)


def content_crs_header(crs: Crs) -> dict[str, str]:
    return {"Content-Crs": f"<{crs.uri}>"}


def projected_bounds(crs: Crs) -> tuple[float, float, float, float]:
    """x/y (easting, northing) bounds of a projected CRS's area of use (PROJ's), padded by 10 %: a bbox
    beyond it cannot be transformed reliably (PostGIS would raise, the client would get a 500)."""
    if crs.srid not in _BOUNDS:
        from pyproj import CRS as ProjCRS, Transformer

        west, south, east, north = ProjCRS.from_epsg(crs.srid).area_of_use.bounds
        xs, ys = Transformer.from_crs(4326, crs.srid, always_xy=True).transform(
            [west, east, west, east, (west + east) / 2, (west + east) / 2],
            [south, south, north, north, south, north])
        pad_x, pad_y = (max(xs) - min(xs)) * 0.1, (max(ys) - min(ys)) * 0.1
        _BOUNDS[crs.srid] = (min(xs) - pad_x, min(ys) - pad_y, max(xs) + pad_x, max(ys) + pad_y)
    return _BOUNDS[crs.srid]


_BOUNDS: dict[int, tuple[float, float, float, float]] = {}
