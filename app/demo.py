"""``gridwatch load-demo``: load the generated demo district from data/demo into the database.

Idempotent: every row is upserted by its natural key, so a second run leaves the same rows. The demo's
times follow the clock (whole days, see ``app.demo_dates``); the files are never written.
"""
from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.grids.models import LEAD
from gis.errors import InvalidData

LOADERS: list[tuple[str, str]] = []


def _read(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InvalidData("missing demo file; run `python -m data.generate` (make demo does)", source=str(path))
    return gpd.read_file(path, engine="pyogrio")


def _rows(frame: gpd.GeoDataFrame, columns: list[str]) -> list[dict]:
    out = []
    for rec, geom in zip(frame[columns].to_dict("records"), frame.geometry):
        rec["wkt"] = geom.wkt
        out.append(rec)
    return out


def load_reference(session: Session, data_dir: Path | None = None) -> int:
    """The reference tables (categories and their deadlines, programmes, sources, member roles) through
    the one seed, ``app.reference.service.load``: codes the database lacks are added and nothing an
    administrator edited is put back (``make demo`` loads the demo on every start). The seed is the
    release's data/reference whatever ``data_dir`` is (its code lists are the code's). Returns the number
    of categories."""
    from app.reference.service import load

    load(session, overwrite=False)
    return session.execute(text("SELECT count(*) FROM categories")).scalar_one()


def load_boundaries(session: Session, demo: Path) -> dict[str, int]:
    streets = _read(demo / "streets.geojson")
    session.execute(text(
        "INSERT INTO streets (code, name, kind, geom) VALUES (:code, :name, :kind, "
        "ST_Multi(ST_GeomFromText(:wkt, 4326))) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, "
        "kind = EXCLUDED.kind, geom = EXCLUDED.geom"), _rows(streets, ["code", "name", "kind"]))
    comms = _read(demo / "communities.geojson")
    session.execute(text(
        "INSERT INTO communities (code, name, street_code, urban, households, population, geom) VALUES "
        "(:code, :name, :street_code, :urban, :households, :population, ST_Multi(ST_GeomFromText(:wkt, 4326))) "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, street_code = EXCLUDED.street_code, "
        "urban = EXCLUDED.urban, households = EXCLUDED.households, population = EXCLUDED.population, "
        "geom = EXCLUDED.geom"),
        _rows(comms, ["code", "name", "street_code", "urban", "households", "population"]))
    grids = _read(demo / "grids.geojson")
    session.execute(text(
        "INSERT INTO grids (code, name, community_code, households, population, geom) VALUES "
        "(:code, :name, :community_code, :households, :population, ST_Multi(ST_GeomFromText(:wkt, 4326))) "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, community_code = EXCLUDED.community_code, "
        "households = EXCLUDED.households, population = EXCLUDED.population, geom = EXCLUDED.geom"),
        _rows(grids, ["code", "name", "community_code", "households", "population"]))
    return {"streets": len(streets), "communities": len(comms), "grids": len(grids)}


def load_context_layers(session: Session, demo: Path) -> dict[str, int]:
    roads = _read(demo / "roads.geojson")
    session.execute(text(
        "INSERT INTO roads (id, name, road_class, geom) VALUES (:road_id, :name, :road_class, "
        "ST_GeomFromText(:wkt, 4326)) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
        "road_class = EXCLUDED.road_class, geom = EXCLUDED.geom"), _rows(roads, ["road_id", "name", "road_class"]))
    buildings = _read(demo / "buildings.geojson")
    session.execute(text(
        "INSERT INTO buildings (id, height_m, geom) VALUES (:building_id, :height_m, ST_GeomFromText(:wkt, 4326)) "
        "ON CONFLICT (id) DO UPDATE SET height_m = EXCLUDED.height_m, geom = EXCLUDED.geom"),
        _rows(buildings, ["building_id", "height_m"]))
    centres = _read(demo / "service_centres.geojson")
    session.execute(text(
        "INSERT INTO service_centres (name, community_code, geom) VALUES (:name, :community_code, "
        "ST_GeomFromText(:wkt, 4326)) ON CONFLICT (name) DO UPDATE SET community_code = EXCLUDED.community_code, "
        "geom = EXCLUDED.geom"), _rows(centres, ["name", "community_code"]))
    sites = _read(demo / "renovation_sites.geojson")
    session.execute(text(
        "INSERT INTO renovation_sites (name, community_code, households, geom) VALUES (:name, :community_code, "
        ":households, ST_Multi(ST_GeomFromText(:wkt, 4326))) ON CONFLICT (name) DO UPDATE SET "
        "community_code = EXCLUDED.community_code, households = EXCLUDED.households, geom = EXCLUDED.geom"),
        _rows(sites, ["name", "community_code", "households"]))
    return {"roads": len(roads), "buildings": len(buildings), "service-centres": len(centres),
            "renovation-sites": len(sites)}


def load_members(session: Session, demo: Path) -> int:
    with open(demo / "members.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    people = {r["member_id"]: r for r in rows}
    session.execute(text(
        "INSERT INTO members (external_id, name, phone) VALUES (:member_id, :name, :phone) "
        "ON CONFLICT (external_id) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone"),
        list(people.values()))
    ids = dict(session.execute(text("SELECT external_id, id FROM members WHERE external_id IS NOT NULL")).all())
    roles = [{"member_id": ids[r["member_id"]], "grid_code": r["grid_code"], "role": role}
             for r in rows for role in r["roles"].split(";") if role]
    session.execute(text(
        "INSERT INTO member_roles (member_id, grid_code, role) VALUES (:member_id, :grid_code, :role) "
        "ON CONFLICT ON CONSTRAINT uq_member_roles_member_grid_role DO NOTHING"), roles)
    return len(people)


def _analyze(session: Session) -> dict[str, int]:
    for table in ("streets", "communities", "grids", "cameras", "incidents", "patrol_points", "members",
                  "member_roles", "service_centres", "renovation_sites"):
        session.execute(text(f"ANALYZE {table}"))
    return {}


def load_demo(session: Session, data_dir: Path, *, settings, now: datetime | None = None, keep_dates: bool = False,
              progress=None) -> dict[str, int]:
    """Load everything in ``data_dir/demo`` in one transaction (the caller commits).

    ``settings`` are the deployment's (``load-demo --config FILE`` reaches the cameras and incidents).
    The demo's times move by whole days so that its newest lies within the day before ``now`` (default
    the clock; not later, as the importers refuse times over a day ahead) in the district's zone;
    ``keep_dates`` loads the files' own dates (``app.demo_dates``)."""
    from app.demo_dates import demo_shift, load_patrols, read_times, rebase_incidents
    from app.incidents.bulk import load_incidents
    from app.loaders import load_cameras

    demo = data_dir / "demo"
    tz = settings.district.tz
    times = read_times(demo)
    days = demo_shift(times, tz, now=now, keep_dates=keep_dates)
    steps = [
        ("categories", lambda: {"categories": load_reference(session, data_dir)}),
        ("boundaries", lambda: load_boundaries(session, demo)),
        ("context layers", lambda: load_context_layers(session, demo)),
        ("members", lambda: {"members": load_members(session, demo)}),
        ("cameras", lambda: {"cameras": load_cameras(session, demo / "cameras.csv", settings)}),
        ("incidents", lambda: {"incidents": load_incidents(session, demo / "incidents.csv", settings)}),
        ("dates", lambda: {"days shifted": days, "incidents moved": rebase_incidents(session, times, days, tz)}),
        ("patrols", lambda: {"patrol points": load_patrols(session, times, days, tz, settings)}),
        # the planner's statistics for the rows just written: without them PostgreSQL sorts a whole view
        # for each OGC API page (58 ms instead of 29 for 1,000 incidents)
        ("statistics", lambda: _analyze(session)),
    ]
    counts: dict[str, int] = {}
    for label, step in steps:
        counts.update(step())
        if progress:
            progress(label)
    return counts


DEMO_ACCOUNTS = {
    "admin": ("admin", "demo-admin-pw"),
    "operator": ("operator", "demo-operator-pw"),
    "planner": ("planner", "demo-planner-pw"),
    "lead": ("grid_lead", "demo-lead-pw"),
    "member": ("member", "demo-member-pw"),
}


def create_demo_accounts(session: Session) -> str:
    """Demo log-ins; the grid lead leads the first grid of 华大社区 (or the first grid). Returns that grid."""
    from app.accounts.service import add_user

    grid = session.execute(text(
        "SELECT g.code FROM grids g JOIN communities c ON c.code = g.community_code "
        "ORDER BY (c.name = '华大社区') DESC, g.code LIMIT 1")).scalar()
    if grid is None:
        raise InvalidData("no grids loaded: run `gridwatch load-demo` first")
    # the member (网格员) works in the lead's grid: one of its members who is not the lead, if it has one
    member = session.execute(text(
        "SELECT member_id FROM member_roles WHERE grid_code = :g ORDER BY (role = :lead), member_id LIMIT 1"),
        {"g": grid, "lead": LEAD}).scalar()
    for name, (role, password) in DEMO_ACCOUNTS.items():
        add_user(session, name, password, role=role, grid_code=grid if role == "grid_lead" else None,
                 member_id=member if role == "member" else None)
    return grid
