"""The stored layers read back exactly as GeoPandas' own reader reads them (the oracle), geometries decoded
in one vectorised call instead of one Python call per row."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from app.layers_db import LAYER_SQL, read_layer, read_postgis
from gis.io import wkb_frame


def _same(ours: gpd.GeoDataFrame, oracle: gpd.GeoDataFrame) -> None:
    assert list(ours.columns) == list(oracle.columns)
    assert ours.geometry.name == oracle.geometry.name
    assert ours.crs == oracle.crs
    pd.testing.assert_frame_equal(pd.DataFrame(ours.drop(columns=ours.geometry.name)),
                                  pd.DataFrame(oracle.drop(columns=oracle.geometry.name)))
    a, b = ours.geometry.to_numpy(), oracle.geometry.to_numpy()
    assert len(a) == len(b)
    # byte for byte (WKB of the same coordinates, SRID included): not merely "equal within a tolerance"
    assert list(shapely.to_wkb(a, include_srid=True)) == list(shapely.to_wkb(b, include_srid=True))


@pytest.mark.parametrize("name", sorted(LAYER_SQL))
def test_every_layer_reads_as_geopandas_reads_it(demo_session, name):
    ours = read_layer(demo_session, name)
    oracle = gpd.read_postgis(text(LAYER_SQL[name]), demo_session.connection(), geom_col="geom", crs=4326)
    assert len(ours) == len(oracle)
    _same(ours, oracle)


def test_typed_filtered_and_empty_reads(demo_session):
    ours = read_layer(demo_session, "incidents", where="code % 7 = :r", params={"r": 3}, typed=True)
    sql = f"SELECT * FROM ({LAYER_SQL['incidents']}) AS layer WHERE code % 7 = 3"
    oracle = gpd.read_postgis(text(sql), demo_session.connection(), geom_col="geom", crs=4326)
    assert 0 < len(ours) == len(oracle)
    assert ours["code"].tolist() == oracle["code"].tolist()
    assert oracle["assignee_id"].isna().any() and str(oracle["assignee_id"].dtype) == "float64"
    assert str(ours["assignee_id"].dtype) == "Int64"  # typed: a NULL does not make the ids floats
    assert ours["assignee_id"].astype("Float64").tolist() == pd.array(oracle["assignee_id"], dtype="Float64").tolist()
    none = read_layer(demo_session, "cameras", where="FALSE")
    assert len(none) == 0 and none.crs == 4326 and none.geometry.name == "geom"
    assert list(none.columns) == list(read_layer(demo_session, "cameras").columns)


def test_null_geometries_srid_and_the_callers_frame(demo_session):
    sql = text("SELECT * FROM (VALUES (1, ST_SetSRID(ST_MakePoint(104.8, 29.3), 4326)), (2, NULL::geometry), "
               "(3, ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 4544))) v(id, geom) ORDER BY id")
    conn = demo_session.connection()
    oracle = gpd.read_postgis(sql, conn, geom_col="geom")
    ours = read_postgis(conn, sql, crs=None)
    assert ours.geometry.isna().tolist() == [False, True, False]
    assert ours.crs == oracle.crs == 4326  # from the first geometry's SRID, as GeoPandas takes it
    assert shapely.get_srid(ours.geometry.iloc[2]) == 4544
    _same(ours, oracle)
    rows = pd.read_sql(sql, conn)
    kept = rows["geom"].copy()
    framed = wkb_frame(rows)
    assert rows["geom"].equals(kept)  # the rows handed in are not changed
    assert framed.geometry.iloc[0].equals(shapely.Point(104.8, 29.3))
    with pytest.raises(ValueError, match="geom"):
        wkb_frame(rows.drop(columns="geom"))
    no_srid = wkb_frame(pd.DataFrame({"geom": [shapely.to_wkb(shapely.Point(1, 2))]}))
    assert no_srid.crs is None


def test_a_binary_read_is_what_pandas_reads(demo_session):
    """``binary_frame`` (the export's reader) against ``pandas.read_sql`` (the oracle): the export's batches,
    an empty one, a layer with NULLs in integer and text columns, a ``%`` in the SQL and a list parameter."""
    from app.incidents.exporter import _select
    from app.layers_db import binary_frame

    conn = demo_session.connection()
    demo_session.execute(text("UPDATE incidents SET address = NULL, closed_at = NULL WHERE id % 5 = 0"))
    batch = _select("i.id > :last AND i.id <= :upto", "LIMIT :n")
    cases = [(batch, {"last": last, "upto": 2**63 - 1, "n": 4000}) for last in (0, 8000, 10**9)]
    cases += [(f"SELECT code, external_id, name, phone, roles FROM ({LAYER_SQL['members']}) AS m", {}),
              (f"SELECT code, device_id, height_m, install_date, record_days, status FROM ({LAYER_SQL['cameras']}) c", {}),
              ("SELECT id, id % 7 AS r, state FROM incidents WHERE state = ANY(:s) ORDER BY id",
               {"s": ["reported", "closed"]})]
    for sql, params in cases:
        oracle = pd.read_sql(text(sql), conn, params=params)
        ours = binary_frame(conn, sql, params)
        pd.testing.assert_frame_equal(ours, oracle)
        assert list(ours.dtypes) == list(oracle.dtypes)
    assert len(binary_frame(conn, *cases[0])) == 4000 and len(binary_frame(conn, *cases[2])) == 0


def test_the_exports_copy_read_is_what_a_binary_read_gives(demo_session):
    """``exporter._read`` (COPY into Arrow, ``copy_table``) against ``binary_frame`` of the same rows with the times
    as timestamps (the oracle): text with commas, quotes, line breaks, tabs, ``NULL`` and ``\\N`` spelled out,
    leading zeros, the empty text apart from NULL, microseconds, and coordinates to the last bit."""
    from app.incidents.exporter import _read, _select
    from app.incidents.importer import TIMES
    from app.layers_db import binary_frame, copy_table

    s = demo_session
    tricky = ['a,b "c"\nd\r\ne', "", "NULL", "null", "NaN", "N/A", "#N/A", "nan", "None", "\\N",
              "\t lead and trail \t", "0012", "\"", "大安区,\"引号\"\n第二行"]
    ids = [i for i, in s.execute(text("SELECT id FROM incidents ORDER BY id LIMIT :n"), {"n": len(tricky)})]
    for i, value in zip(ids, tricky):
        s.execute(text("UPDATE incidents SET description = CAST(:v AS text), address = CAST(:v AS text), "
                       "reporter_phone = CAST(:v AS text), "
                       "reported_at = reported_at + interval '0.123457 seconds', "
                       "geom = ST_SetSRID(ST_MakePoint(104.78 + 1e-13 * id, 29.36 - 1e-13 * id), 4326) "
                       "WHERE id = :i"), {"v": value, "i": i})
    s.execute(text("UPDATE incidents SET address = NULL, reporter_name = NULL, closed_at = NULL WHERE id = :i"),
              {"i": ids[0] + len(tricky)})
    last = ids[0] - 1
    ours = _read(s, _select("i.id > :last", "LIMIT :n"), {"last": last, "n": 500})
    plain = _select("i.id > :last", "LIMIT :n")
    for col in TIMES:  # the oracle's query: the times as PostgreSQL's timestamps
        plain = plain.replace(f"CAST(extract(epoch FROM i.{col}) * 1000000 AS bigint) AS {col}", f"i.{col} AS {col}")
    assert plain != _select("i.id > :last", "LIMIT :n")
    oracle = binary_frame(s.connection(), plain, {"last": last, "n": 500})
    assert len(ours) == len(oracle) == 500
    assert ours["description"].tolist()[:len(tricky)] == tricky
    for col in oracle.columns.drop(["gw_x", "gw_y"]):
        want, got = oracle[col], ours[col]
        if col in TIMES:
            want = pd.to_datetime(want, utc=True)
            assert str(got.dtype) == "datetime64[us, UTC]"
        assert (got.isna().to_numpy() == want.isna().to_numpy()).all(), col
        known = ~want.isna().to_numpy()
        assert got[known].tolist() == want[known].tolist(), col
    assert ours.loc[ours["code"] == ids[0] + len(tricky), "address"].isna().all()
    assert (ours.loc[ours["code"] == ids[1], "address"] == "").all()  # the empty text is no NULL
    assert (ours.geometry.x.to_numpy() == oracle["gw_x"].to_numpy()).all()
    assert (ours.geometry.y.to_numpy() == oracle["gw_y"].to_numpy()).all()
    assert str(ours["code"].dtype) == "Int64"
    import pyarrow as pa

    with pytest.raises(ValueError, match="not those typed"):
        copy_table(s.connection(), "SELECT 1 AS a, 2 AS b", None, {"b": pa.int64(), "a": pa.int64()})
    # the same rows whatever the connection's client encoding and extra_float_digits
    s.execute(text("SET LOCAL client_encoding TO 'GBK'"))
    s.execute(text("SET LOCAL extra_float_digits TO -3"))
    again = _read(s, _select("i.id > :last", "LIMIT :n"), {"last": last, "n": 500})
    assert again["description"].tolist() == ours["description"].tolist()
    assert (again.geometry.x.to_numpy() == oracle["gw_x"].to_numpy()).all()
    s.execute(text("SET LOCAL client_encoding TO 'UTF8'"))


def test_copy_table_reads_what_the_query_says(demo_session):
    """A ``%`` with no parameters, a one-column NULL row (an empty line in CSV), a field of several MB with line
    breaks (longer than Arrow's default block), and a header-only answer with its types."""
    import pyarrow as pa

    from app.layers_db import copy_table

    conn = demo_session.connection()
    assert copy_table(conn, "SELECT '50%' AS a", None, {"a": pa.string()}).column("a").to_pylist() == ["50%"]
    got = copy_table(conn, "SELECT CAST(NULL AS text) AS a UNION ALL SELECT 'x' UNION ALL SELECT NULL", {},
                     {"a": pa.string()})
    assert sorted(got.column("a").to_pylist(), key=str) == [None, None, "x"]
    big = "长行\n" * 400_000  # 3.6 MB of text with 400,000 line breaks
    got = copy_table(conn, "SELECT replace(:v, '\\n', chr(10)) AS a, 1 AS n", {"v": big},
                     {"a": pa.string(), "n": pa.int64()})
    assert got.column("a").to_pylist() == [big.replace("\\n", "\n")]
    empty = copy_table(conn, "SELECT 1 AS n, 'a' AS t WHERE FALSE", None, {"n": pa.int64(), "t": pa.string()})
    assert empty.num_rows == 0 and empty.schema.types == [pa.int64(), pa.string()]
