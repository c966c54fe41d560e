"""Camera loading for ``load-demo``: the demo's cameras go through the registry's importer."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session


def camera_import_options(session: Session, settings) -> dict:
    """The importer's district context, spacing and geocoder, from the deployment's settings."""
    from app.geocoding import locate_codes

    return {"district": settings.district, "min_spacing_m": settings.camera_min_spacing_m,
            "locate": lambda lon, lat: locate_codes(session, lon, lat)}


def load_cameras(session: Session, path: Path, settings) -> int:
    """Import ``path`` (the demo's cameras.csv) with :func:`camera_registry.importer.import_cameras`.

    Every row must be valid (reject); a second run changes nothing. Returns the number of rows.
    """
    from camera_registry.importer import import_cameras

    from app.demo_dates import DEMO_ACTOR

    report = import_cameras(session, path, actor=DEMO_ACTOR, **camera_import_options(session, settings))
    return report.rows
