"""gis.geocode.GridIndex against PostGIS: MIN(code) over ST_Covers(grid, point) is the oracle."""
import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text

from gis.geocode import GridIndex
from tests.geometries import JITTER, STEP, X0, Y0, probe_points, random_layer


def postgis_covers(session, layer, lon, lat):
    session.execute(text("CREATE TEMP TABLE t_grids (code text, geom geometry(Geometry, 4326)) ON COMMIT DROP"))
    session.execute(text("CREATE TEMP TABLE t_pts (id int, geom geometry(Point, 4326)) ON COMMIT DROP"))
    session.execute(text("INSERT INTO t_grids SELECT c, ST_GeomFromWKB(w, 4326) "
                         "FROM unnest(CAST(:c AS text[]), CAST(:w AS bytea[])) AS v(c, w)"),
                    {"c": list(layer["code"]), "w": [shapely.to_wkb(g) for g in layer.geometry]})
    session.execute(text("INSERT INTO t_pts SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) "
                         "FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS v(x, y, i)"),
                    {"x": [float(v) for v in lon], "y": [float(v) for v in lat]})
    session.execute(text("CREATE INDEX ON t_grids USING gist (geom)"))
    rows = session.execute(text("SELECT p.id, min(g.code) FROM t_pts p LEFT JOIN t_grids g "
                                "ON ST_Covers(g.geom, p.geom) GROUP BY p.id ORDER BY p.id")).all()
    session.execute(text("DROP TABLE t_grids, t_pts"))
    return np.array([r[1] for r in rows], dtype=object)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("max_cells", [None, 500])
def test_equals_postgis_st_covers_on_random_layers(session, seed, max_cells):
    layer = random_layer(seed)
    assert shapely.is_valid(layer.geometry.to_numpy()).all()
    lon, lat = probe_points(layer, seed)
    expected = postgis_covers(session, layer, lon, lat)
    got = GridIndex.from_frame(layer, max_cells=max_cells).locate(lon, lat)
    mismatch = np.flatnonzero(got != expected)
    assert not len(mismatch), [(lon[i], lat[i], got[i], expected[i]) for i in mismatch[:5]]
    # the layer exercises what it claims: points on shared boundaries, in holes and outside
    assert (expected == None).sum() > 10  # noqa: E711
    assert len(set(expected) - {None}) == len(set(layer["code"]))


def test_shared_edge_gets_smallest_code_and_outer_edge_is_inside():
    a = shapely.box(X0, Y0, X0 + STEP, Y0 + STEP)
    b = shapely.box(X0 + STEP, Y0, X0 + 2 * STEP, Y0 + STEP)
    layer = gpd.GeoDataFrame({"code": ["510304001001002", "510304001001001"]}, geometry=[a, b], crs=4326)
    index = GridIndex.from_frame(layer)
    assert index.locate(X0 + STEP, Y0 + STEP / 2) == "510304001001001"  # shared edge → smaller code
    assert index.locate(X0, Y0 + STEP / 3) == "510304001001002"         # outer edge is inside
    assert index.locate(X0 + 2 * STEP, Y0) == "510304001001001"         # outer corner
    assert index.locate(X0 - JITTER, Y0) is None


def test_hole_and_island_and_multipolygon():
    outer = shapely.box(X0, Y0, X0 + 4 * STEP, Y0 + 4 * STEP)
    hole = shapely.box(X0 + STEP, Y0 + STEP, X0 + 2 * STEP, Y0 + 2 * STEP)
    with_hole = shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])
    multi = shapely.MultiPolygon([shapely.box(X0 + 5 * STEP, Y0, X0 + 6 * STEP, Y0 + STEP),
                                  shapely.box(X0 + 7 * STEP, Y0, X0 + 8 * STEP, Y0 + STEP)])
    layer = gpd.GeoDataFrame({"code": ["510304001001005", "510304001001003"]}, geometry=[with_hole, multi], crs=4326)
    index = GridIndex.from_frame(layer)
    mid_hole = X0 + 1.5 * STEP, Y0 + 1.5 * STEP
    assert index.locate(*mid_hole) is None
    assert index.locate(X0 + STEP, Y0 + 1.5 * STEP) == "510304001001005"  # the hole's edge belongs to the grid
    assert index.locate(X0 + 7.5 * STEP, Y0 + 0.5 * STEP) == "510304001001003"
    assert index.locate(X0 + 6.5 * STEP, Y0 + 0.5 * STEP) is None        # between the parts


def test_array_shapes_scalars_and_empty():
    layer = random_layer(4)
    index = GridIndex.from_frame(layer)
    lon, lat = probe_points(layer, 4, n_random=100)
    out = index.locate(lon, lat)
    assert out.dtype == object and out.shape == lon.shape
    assert index.locate(lon[:0], lat[:0]).shape == (0,)
    assert index.locate(float(lon[7]), float(lat[7])) == out[7]
    assert index.locate(np.nan, np.nan) is None
    empty = GridIndex([], [])
    assert empty.locate(104.7, 29.3) is None


def test_snap_m_gives_nearest_grid_within_distance(session):
    from gis.crs import from_metric, to_metric

    layer = random_layer(5)
    index = GridIndex.from_frame(layer)
    w, s, e, n = layer.total_bounds
    # points 50 m and 500 m west of the layer's west edge, at mid-height of the lattice rows
    ys = Y0 + (np.arange(6) + 0.5) * STEP
    west = to_metric(shapely.points(np.full(6, w), ys))
    near = from_metric(shapely.points(shapely.get_x(west) - 50, shapely.get_y(west)))
    far = from_metric(shapely.points(shapely.get_x(west) - 500, shapely.get_y(west)))
    pts = np.concatenate([near, far, shapely.points([X0 + 0.5 * STEP], [Y0 + 0.5 * STEP])])
    codes, snapped = index.locate(shapely.get_x(pts), shapely.get_y(pts), snap_m=100)
    plain = index.locate(shapely.get_x(pts), shapely.get_y(pts))
    assert snapped.tolist() == [True] * 6 + [False] * 7
    assert (codes[6:12] == None).all() and codes[12] == plain[12]  # noqa: E711
    # oracle: PostGIS nearest grid in EPSG:4544
    rows = session.execute(text(
        "SELECT (SELECT c FROM unnest(CAST(:codes AS text[]), CAST(:w AS bytea[])) AS g(c, w) "
        "ORDER BY ST_Distance(ST_Transform(ST_GeomFromWKB(g.w, 4326), 4544), ST_Transform(ST_SetSRID("
        "ST_MakePoint(x, y), 4326), 4544)), c LIMIT 1) FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) AS p(x, y)"),
        {"codes": list(layer["code"]), "w": [shapely.to_wkb(g) for g in layer.geometry],
         "x": list(shapely.get_x(near)), "y": list(shapely.get_y(near))}).scalars().all()
    assert codes[:6].tolist() == rows
    code, was_snapped = index.locate(float(shapely.get_x(near[0])), float(shapely.get_y(near[0])), snap_m=100)
    assert code == rows[0] and was_snapped is True


def test_demo_grids_equal_postgis(demo_session):
    from app.geocoding import grid_index
    from app.layers_db import read_layer

    grids = read_layer(demo_session, "grids")
    index = grid_index(demo_session)
    w, s, e, n = grids.total_bounds
    rng = np.random.default_rng(11)
    lon = np.concatenate([rng.uniform(w, e, 20000), shapely.get_coordinates(grids.geometry.to_numpy())[:, 0]])
    lat = np.concatenate([rng.uniform(s, n, 20000), shapely.get_coordinates(grids.geometry.to_numpy())[:, 1]])
    got = index.locate(lon, lat)
    rows = demo_session.execute(text(
        "SELECT (SELECT min(code) FROM grids g WHERE ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(x, y), 4326))) "
        "FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS p(x, y, i) ORDER BY i"),
        {"x": lon.tolist(), "y": lat.tolist()}).scalars().all()
    assert got.tolist() == rows


def test_app_index_refreshes_when_grids_change(demo_session):
    from app.geocoding import grid_index, locate_codes, regeocode_incidents

    first = grid_index(demo_session)
    assert grid_index(demo_session) is first
    code = demo_session.execute(text("SELECT code FROM grids ORDER BY code LIMIT 1")).scalar()
    x, y = demo_session.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p "
                                     "FROM grids WHERE code = :c) s"), {"c": code}).one()
    assert locate_codes(demo_session, [x], [y])[0][0] == code
    demo_session.execute(text("UPDATE incidents SET grid_code = NULL"))
    changed = regeocode_incidents(demo_session)
    wrong = demo_session.execute(text(
        "SELECT count(*) FROM incidents i WHERE grid_code IS DISTINCT FROM "
        "(SELECT min(code) FROM grids g WHERE ST_Covers(g.geom, i.geom))")).scalar()
    assert changed > 0 and wrong == 0
    demo_session.execute(text("UPDATE grids SET geom = ST_Multi(ST_Translate(geom, 1, 0)), "
                              "updated_at = clock_timestamp() WHERE code = :c"), {"c": code})
    assert grid_index(demo_session) is not first
    assert locate_codes(demo_session, [x], [y])[0][0] != code


def test_app_index_sees_edits_that_do_not_touch_updated_at(demo_session):
    """Any writer's edit refreshes the index, even two in one transaction that leave updated_at alone."""
    from app.geocoding import community_index, grid_index, locate_codes

    code = demo_session.execute(text("SELECT code FROM grids ORDER BY code LIMIT 1")).scalar()
    x, y = demo_session.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p "
                                     "FROM grids WHERE code = :c) s"), {"c": code}).one()
    for step in range(2):  # the same transaction: now() is the same both times, clock_timestamp() is not
        before = grid_index(demo_session)
        shift = 1 if step == 0 else -1
        demo_session.execute(text("UPDATE grids SET geom = ST_Multi(ST_Translate(geom, :d, 0)) WHERE code = :c"),
                             {"d": shift, "c": code})
        assert grid_index(demo_session) is not before
    assert locate_codes(demo_session, [x], [y])[0][0] == code  # moved away and back: found again
    before = community_index(demo_session)
    demo_session.execute(text("UPDATE communities SET name = name WHERE code = left(:c, 12)"), {"c": code})
    assert community_index(demo_session) is before  # an update that changes nothing keeps the index
    demo_session.execute(text("UPDATE communities SET geom = ST_Multi(ST_Translate(geom, 0, 1)) "
                              "WHERE code = left(:c, 12)"), {"c": code})
    assert community_index(demo_session) is not before


def test_large_query_threads_and_bad_coordinates_equal_postgis(session):
    # several query chunks (so the threaded path runs), points on every vertex and edge midpoint, and
    # NaN, infinite and far-away coordinates mixed in (they take the clamped slow path of the raster)
    layer = random_layer(6)
    lon, lat = probe_points(layer, 6, n_random=150_000)
    rng = np.random.default_rng(6)
    bad = rng.choice(len(lon), 40, replace=False)
    lon, lat = lon.copy(), lat.copy()
    lon[bad[:10]], lat[bad[10:20]] = np.nan, np.inf
    lon[bad[20:30]], lat[bad[30:]] = -1e12, 1e300
    index = GridIndex.from_frame(layer)
    got = index.locate(lon, lat, workers=4)
    assert (index.locate(lon, lat, workers=1) == got).all()
    ok = np.isfinite(lon) & np.isfinite(lat)
    assert (got[~ok] == None).all()  # noqa: E711
    expected = postgis_covers(session, layer, lon[ok], lat[ok])
    mismatch = np.flatnonzero(got[ok] != expected)
    assert not len(mismatch), [(lon[ok][i], lat[ok][i], got[ok][i], expected[i]) for i in mismatch[:5]]
    assert (index.locate_index(lon, lat) == -1).sum() == (got == None).sum()  # noqa: E711
