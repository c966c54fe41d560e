"""Camera loading for ``load-demo``: the demo's cameras go through the registry's importer."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session


def registry_options(session: Session, settings) -> dict:
    """The registry's checks of a camera that enters it or moves, from the deployment's settings: the district
    (centre code, extent), the geocoder (``locate``: a position outside every community is refused) and the
    minimum spacing (``min_spacing_m``, setting ``camera_min_spacing_m``).

    The one set for every way in: the importer (CLI, upload page, ``load-demo``), the camera API's add and
    move (``history.add_camera``/``update_camera``) and the planner's adoption (``planned.adopt_site``), so
    each refuses the same cameras."""
    from app.geocoding import locate_codes

    return {"district": settings.district, "min_spacing_m": settings.camera_min_spacing_m,
            "locate": lambda lon, lat: locate_codes(session, lon, lat)}


def sync_options(session: Session, settings) -> dict:
    """:func:`registry_options` and the setting ``video_platforms`` (``platform_settings``): what
    ``camera_registry.sync.sync_catalog`` takes from the deployment (the per-platform coordinate system)."""
    return {**registry_options(session, settings), "platform_settings": settings.video_platforms}


def load_cameras(session: Session, path: Path, settings) -> int:
    """Import ``path`` (the demo's cameras.csv) with :func:`camera_registry.importer.import_cameras`.

    Every row must be valid (reject); a second run changes nothing. Returns the number of rows.
    """
    from camera_registry.importer import import_cameras

    from app.demo_dates import DEMO_ACTOR

    report = import_cameras(session, path, actor=DEMO_ACTOR, **registry_options(session, settings))
    return report.rows
