"""The demo district loaded into PostGIS: counts, codes, tiling, idempotence."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from app.demo import load_demo
from tests.conftest import ROOT

TABLES = ["streets", "communities", "grids", "members", "member_roles", "cameras", "incidents", "roads",
          "buildings", "service_centres", "renovation_sites", "categories"]


def _count(s, table, where="true"):
    return s.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar()


def test_demo_counts(demo_session):
    s = demo_session
    assert _count(s, "streets") == 16
    assert _count(s, "communities") == 34
    assert _count(s, "cameras", "programme = 'skynet'") == 371
    assert _count(s, "service_centres") == 22
    assert _count(s, "renovation_sites") == 8
    assert 200 <= _count(s, "grids") <= 600
    assert 15000 <= _count(s, "incidents") <= 17000
    assert _count(s, "cameras", "programme IN ('xueliang', 'compound')") > 0


def test_urban_communities_sit_in_the_four_streets(demo_session):
    rows = demo_session.execute(text(
        "SELECT s.kind, count(*) FROM communities c JOIN streets s ON s.code = c.street_code GROUP BY s.kind")).all()
    by_kind = dict(rows)
    assert by_kind["street"] == 22
    assert by_kind.get("town", 0) + by_kind.get("township", 0) == 12
    per_town = demo_session.execute(text(
        "SELECT count(*) FROM communities c JOIN streets s ON s.code = c.street_code "
        "WHERE s.kind <> 'street' GROUP BY s.code")).scalars().all()
    assert per_town == [1] * 12


def test_every_code_is_valid(demo_session):
    from camera_registry.models import Camera  # noqa: F401  (table registered)
    from gis.codes import COMMUNITY, GRID, STREET

    s = demo_session
    for code, in s.execute(text("SELECT code FROM streets")):
        STREET.validate(code, parent="510304")
    for code, street in s.execute(text("SELECT code, street_code FROM communities")):
        COMMUNITY.validate(code, parent=street)
    for code, comm in s.execute(text("SELECT code, community_code FROM grids")):
        GRID.validate(code, parent=comm)
    ids = s.execute(text("SELECT device_id FROM cameras")).scalars().all()
    assert all(re.fullmatch(r"51030400\d{12}", d) for d in ids)
    assert len(set(ids)) == len(ids)


def test_grids_tile_their_communities(demo_session):
    """No overlap and no gap over 1 m², measured by PostGIS in EPSG:4544."""
    rows = demo_session.execute(text(
        "WITH u AS (SELECT community_code, ST_Union(geom) AS g, sum(ST_Area(ST_Transform(geom, 4544))) AS a "
        "           FROM grids GROUP BY community_code) "
        "SELECT c.code, ST_Area(ST_Transform(ST_SymDifference(c.geom, u.g), 4544)) AS diff, "
        "       u.a - ST_Area(ST_Transform(c.geom, 4544)) AS overlap "
        "FROM communities c JOIN u ON u.community_code = c.code")).all()
    assert len(rows) == 34
    bad = [(code, diff, overlap) for code, diff, overlap in rows if diff > 1.0 or abs(overlap) > 1.0]
    assert not bad


def test_every_grid_has_exactly_one_lead(demo_session):
    counts = demo_session.execute(text(
        "SELECT g.code, count(r.id) FROM grids g LEFT JOIN member_roles r ON r.grid_code = g.code AND r.role = 'lead' "
        "GROUP BY g.code")).all()
    assert counts and all(n == 1 for _, n in counts)


def test_incidents_carry_the_grid_that_covers_them(demo_session):
    mismatched = demo_session.execute(text(
        "SELECT count(*) FROM incidents i WHERE i.grid_code IS DISTINCT FROM "
        "(SELECT min(g.code) FROM grids g WHERE ST_Covers(g.geom, i.geom))")).scalar()
    assert mismatched == 0
    assert _count(demo_session, "incidents", "grid_code IS NULL") == 0


def _fingerprint(s):
    return {t: s.execute(text(f"SELECT count(*), md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))) "
                              f"FROM {t} x")).one() for t in TABLES}


def test_load_demo_twice_leaves_identical_rows(demo_session):
    before = _fingerprint(demo_session)
    load_demo(demo_session, ROOT / "data")
    demo_session.flush()
    after = _fingerprint(demo_session)
    # events and revisions may record the re-run, but the district's rows must be identical
    assert {t: v[0] for t, v in after.items()} == {t: v[0] for t, v in before.items()}
    stable = [t for t in TABLES if t not in ("incidents", "cameras")]
    assert {t: after[t] for t in stable} == {t: before[t] for t in stable}
