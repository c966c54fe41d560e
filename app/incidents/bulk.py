"""Incident loading for ``load-demo``: the same path as ``gridwatch incidents import``."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session


def load_incidents(session: Session, path: Path, settings) -> int:
    """Import ``path`` (all-or-nothing, idempotent by external_id); returns the number of rows in it."""
    from app.demo_dates import DEMO_ACTOR
    from app.incidents.importer import import_incidents

    # the actor by which app.demo_dates tells the demo's own rows from rows people worked on
    report = import_incidents(session, path, on_error="reject", actor=DEMO_ACTOR, settings=settings)
    return report.rows
