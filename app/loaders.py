"""Camera loading for ``load-demo``: the demo's cameras go through the registry's importer."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session


def camera_import_options(session: Session, settings=None) -> dict:
    """The importer's district options (centre code, extent, spacing) and geocoder, from the settings."""
    from app.config import Settings
    from app.geocoding import locate_codes

    s = settings if settings is not None else Settings()
    return {"centre_code": s.camera_centre_code, "bbox": tuple(s.district_bbox), "margin_m": s.extent_margin_m,
            "min_spacing_m": s.camera_min_spacing_m, "locate": lambda lon, lat: locate_codes(session, lon, lat)}


def load_cameras(session: Session, path: Path) -> int:
    """Import ``path`` (the demo's cameras.csv) with :func:`camera_registry.importer.import_cameras`.

    Every row must be valid (reject); a second run changes nothing. Returns the number of rows.
    """
    from camera_registry.importer import import_cameras

    report = import_cameras(session, path, actor="load-demo", **camera_import_options(session))
    return report.rows
