"""Every big table carries the district it belongs to (0012, docs/scaling.md step 3): the distribution column
a Citus cluster would shard by, filled by its default from the deployment's one row, never by the writers."""
from __future__ import annotations

import pytest
from sqlalchemy import exc, text

from app.deployment import record_district, served_district
from gis.errors import Conflict
from tests.settings import DISTRICT

TABLES = ("incidents", "incident_events", "incident_photos", "patrol_points", "audit_log", "cameras",
          "camera_events", "camera_revisions")


def test_every_big_table_has_the_column_not_null_with_the_default(session):
    rows = session.execute(text(
        "SELECT table_name, is_nullable, column_default, character_maximum_length FROM information_schema.columns "
        "WHERE column_name = 'district_code' AND table_schema = 'public' AND table_name = ANY(:t)"),
        {"t": list(TABLES)}).all()
    assert {r[0] for r in rows} == set(TABLES)
    assert all(r[1] == "NO" and "gw_district_code()" in r[2] and r[3] == 6 for r in rows)


def test_every_demo_row_carries_the_deployments_code(demo_session):
    s = demo_session
    assert served_district(s) == DISTRICT.code
    for table in TABLES:
        total, wrong = s.execute(text(f"SELECT count(*), count(*) FILTER (WHERE district_code <> :c) FROM {table}"),
                                 {"c": DISTRICT.code}).one()
        assert wrong == 0, table
        if table in ("incidents", "incident_events", "cameras", "audit_log"):
            assert total > 0, table


def test_a_writer_that_names_no_district_gets_the_deployments(demo_session):
    s = demo_session
    got = s.execute(text(
        "INSERT INTO patrol_points (member_id, at, geom) SELECT min(id), now(), "
        "ST_SetSRID(ST_MakePoint(104.75, 29.35), 4326) FROM members RETURNING district_code")).scalar()
    assert got == DISTRICT.code


def test_another_district_is_refused_and_a_missing_deployment_names_the_command(demo_session):
    s = demo_session
    with pytest.raises(Conflict, match=f"serves district {DISTRICT.code}"):
        record_district(s, "510302")
    assert record_district(s, DISTRICT.code) == DISTRICT.code
    s.execute(text("DELETE FROM gw_deployment"))
    with pytest.raises(exc.DBAPIError, match="serves no district yet"):
        s.execute(text("SELECT gw_district_code()"))
