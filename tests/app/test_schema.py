"""The PostGIS store: migrations, constraints on codes, spatial indexes."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from app import migrate
from app.models import METADATA
from tests.settings import DISTRICT

SQUARE = "MULTIPOLYGON(((104.77 29.36,104.78 29.36,104.78 29.37,104.77 29.37,104.77 29.36)))"


def test_migrations_run_up_from_empty_and_down_again(database_factory):
    eng = database_factory("updown", migrated=False)
    assert migrate.current_heads(eng) == "empty"
    migrate.upgrade(eng, district_code=DISTRICT.code)
    tables = set(inspect(eng).get_table_names())
    expected = {t.name for md in METADATA for t in md.sorted_tables}
    assert expected <= tables
    migrate.downgrade(eng, "base")
    assert not (expected & set(inspect(eng).get_table_names()))
    migrate.upgrade(eng, district_code=DISTRICT.code)
    assert expected <= set(inspect(eng).get_table_names())


def test_models_and_migrations_agree(engine):
    """Autogenerate against the migrated schema finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.migrations_support import include_object

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": False})
        diff = compare_metadata(ctx, METADATA)
    assert diff == []


def test_every_geometry_column_has_a_gist_index(engine):
    with engine.connect() as conn:
        geom_cols = conn.execute(text(
            "SELECT f_table_name, f_geometry_column FROM geometry_columns WHERE f_table_schema = 'public'")).all()
        indexed = conn.execute(text(
            "SELECT t.relname, a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_class ix ON ix.oid = i.indexrelid JOIN pg_am am ON am.oid = ix.relam "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) WHERE am.amname = 'gist'")).all()
    assert len(geom_cols) >= 10
    missing = set(map(tuple, geom_cols)) - set(map(tuple, indexed))
    assert not missing


def test_geometry_is_stored_in_epsg_4326(engine):
    with engine.connect() as conn:
        srids = {r[0] for r in conn.execute(text("SELECT srid FROM geometry_columns WHERE f_table_schema='public'"))}
    assert srids == {4326}


@pytest.mark.parametrize("table,values", [
    ("streets", {"code": "51030400", "name": "x", "kind": "street"}),            # 8 digits
    ("streets", {"code": "51030400A", "name": "x", "kind": "street"}),           # non-digit
    ("streets", {"code": "510304001", "name": "x", "kind": "county"}),           # bad kind
])
def test_street_constraints_reject_bad_rows(session, table, values):
    with pytest.raises(IntegrityError):
        session.execute(text(f"INSERT INTO {table} (code, name, kind, geom) VALUES (:code, :name, :kind, "
                             f"ST_GeomFromText('{SQUARE}', 4326))"), values)
        session.flush()


def test_community_and_grid_codes_must_nest(session):
    session.execute(text(f"INSERT INTO streets VALUES ('510304001', '大安街道', 'street', "
                         f"ST_GeomFromText('{SQUARE}', 4326))"))
    session.execute(text(f"INSERT INTO communities (code, name, street_code, geom) VALUES "
                         f"('510304001001', 'a', '510304001', ST_GeomFromText('{SQUARE}', 4326))"))
    session.execute(text(f"INSERT INTO grids (code, name, community_code, geom) VALUES "
                         f"('510304001001001', 'g', '510304001001', ST_GeomFromText('{SQUARE}', 4326))"))
    session.flush()
    for code, parent in [("510304001002001", "510304001001"), ("51030400100100", "510304001001"),
                         ("51030400100100x", "510304001001")]:
        nested = session.begin_nested()
        with pytest.raises(IntegrityError):
            session.execute(text(f"INSERT INTO grids (code, name, community_code, geom) VALUES "
                                 f"(:c, 'g', :p, ST_GeomFromText('{SQUARE}', 4326))"), {"c": code, "p": parent})
            session.flush()
        nested.rollback()


def test_camera_id_constraint(session):
    sql = text("INSERT INTO cameras (device_id, name, programme, status, source_crs, version, geom) VALUES "
               "(:d, 'c', 'skynet', 'ON', 'wgs84', 1, ST_SetSRID(ST_MakePoint(104.77, 29.36), 4326))")
    session.execute(sql, {"d": "51030400001320000001"})
    session.flush()
    nested = session.begin_nested()
    with pytest.raises(IntegrityError):
        session.execute(sql, {"d": "5103040000132000001"})  # 19 digits
        session.flush()
    nested.rollback()


def test_one_lead_per_grid(session):
    session.execute(text(f"INSERT INTO streets VALUES ('510304001', 's', 'street', ST_GeomFromText('{SQUARE}', 4326))"))
    session.execute(text(f"INSERT INTO communities (code, name, street_code, geom) VALUES "
                         f"('510304001001', 'c', '510304001', ST_GeomFromText('{SQUARE}', 4326))"))
    session.execute(text(f"INSERT INTO grids (code, name, community_code, geom) VALUES "
                         f"('510304001001001', 'g', '510304001001', ST_GeomFromText('{SQUARE}', 4326))"))
    ids = [session.execute(text("INSERT INTO members (name) VALUES (:n) RETURNING id"), {"n": n}).scalar()
           for n in ("张伟", "李娜")]
    session.execute(text("INSERT INTO member_roles (member_id, grid_code, role) VALUES (:m, '510304001001001', 'lead')"),
                    {"m": ids[0]})
    session.execute(text("INSERT INTO member_roles (member_id, grid_code, role) VALUES (:m, '510304001001001', "
                         "'security')"), {"m": ids[0]})  # one member, many roles
    session.flush()
    with pytest.raises(IntegrityError):
        session.execute(text("INSERT INTO member_roles (member_id, grid_code, role) VALUES "
                             "(:m, '510304001001001', 'lead')"), {"m": ids[1]})
        session.flush()
