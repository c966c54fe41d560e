"""gis.coverage / gis.viewshed against exact formulas, hand-made building layouts and brute-force oracles.

Scenes are laid out in EPSG:4544 metres near Da'an and handed to the functions in EPSG:4326, so every
test also goes through the projection the real data takes.
"""
import itertools
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
import shapely

from gis import coverage, viewshed
from gis.crs import METRIC_CRS, from_metric, to_metric

X0, Y0 = 478600.0, 3250300.0  # a point in Da'an, EPSG:4544


def cams(rows):
    """Camera frame from (dx, dy, azimuth, fov, range, ptz, status) rows in metres from (X0, Y0)."""
    rows = [dict(zip(("dx", "dy", "azimuth", "fov", "range_m", "ptz_type", "status"), r)) for r in rows]
    df = pd.DataFrame(rows)
    df["device_id"] = [f"5103040000132000{i:04d}" for i in range(len(df))]
    pts = gpd.GeoSeries(shapely.points(X0 + df["dx"], Y0 + df["dy"]), crs=METRIC_CRS).to_crs(4326)
    return gpd.GeoDataFrame(df.drop(columns=["dx", "dy"]), geometry=pts.to_numpy(), crs=4326)


def areas(boxes, codes=None):
    """Area frame (EPSG:4326) of metric boxes (x0, y0, x1, y1) relative to (X0, Y0)."""
    polys = [shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes]
    codes = codes or [f"510304001001{i + 1:03d}" for i in range(len(boxes))]
    return gpd.GeoDataFrame({"code": codes}, geometry=gpd.GeoSeries(polys, crs=METRIC_CRS).to_crs(4326).to_numpy(),
                            crs=4326)


def lonlat(dx, dy):
    p = from_metric(shapely.Point(X0 + dx, Y0 + dy))
    return p.x, p.y


def lens(r, d):
    """Area of the intersection of two discs of radius r whose centres are d apart."""
    return 2 * r * r * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r * r - d * d)


# -- view geometry ------------------------------------------------------------------------------------
@pytest.mark.parametrize("az, fov, rng", [(0, 60, 100), (93.2, 54, 48), (355.5, 44, 66), (200, 120, 250),
                                          (10, 359, 80), (45, 1, 150)])
def test_view_sector_area_matches_exact_sector(az, fov, rng):
    lon, lat = lonlat(0, 0)
    area = to_metric(coverage.view_sector(lon, lat, az, fov, rng)).area
    assert area == pytest.approx(math.pi * rng ** 2 * fov / 360, rel=5e-3)
    assert area == pytest.approx(math.pi * rng ** 2 * fov / 360, rel=3e-4)  # 2° arcs: 0.02 %, better than the contract


@pytest.mark.parametrize("az", [0, 37, 90, 180, 271.5])
def test_view_sector_points_along_azimuth_clockwise_from_north(az):
    lon, lat = lonlat(0, 0)
    c = to_metric(coverage.view_sector(lon, lat, az, 40, 100)).centroid
    bearing = math.degrees(math.atan2(c.x - X0, c.y - Y0)) % 360
    assert abs((bearing - az + 180) % 360 - 180) < 0.01


@pytest.mark.parametrize("fov, ptz", [(360, None), (400, 3), (60, 1)])
def test_domes_and_full_fov_give_the_disc(fov, ptz):
    lon, lat = lonlat(0, 0)
    disc = to_metric(coverage.view_sector(lon, lat, 90, fov, 120, ptz_type=ptz))
    assert disc.area == pytest.approx(math.pi * 120 ** 2, rel=3e-4)
    assert disc.contains(shapely.Point(X0 - 100, Y0)) and disc.contains(shapely.Point(X0, Y0 + 100))


def test_view_sectors_excludes_offline_and_keeps_index():
    frame = cams([(0, 0, 0, 60, 50, 3, "ON"), (10, 0, 0, 60, 50, 3, "OFF"), (20, 0, 0, 60, 50, 3, "VLOST"),
                  (30, 0, 0, 60, 50, 3, "DEFECT"), (40, 0, 0, 60, 50, 3, "ON")]).set_index("device_id")
    s = coverage.view_sectors(frame)
    assert list(s.index) == [frame.index[0], frame.index[4]] and s.crs.to_epsg() == 4326
    assert len(coverage.view_sectors(frame, include_offline=True)) == 5


def test_view_sector_frame_carries_each_cameras_columns_whatever_the_index():
    frame = cams([(0, 0, 0, 60, 50, 3, "ON"), (10, 0, 90, 60, 50, 3, "OFF"), (40, 0, 180, 60, 50, 3, "ON")])
    doubled = pd.concat([frame, frame])  # repeated index labels
    out = coverage.view_sector_frame(doubled)
    expected = coverage.view_sectors(frame)
    assert list(out.columns) == ["device_id", "status", "geometry"] and out.crs.to_epsg() == 4326
    assert list(out["device_id"]) == list(frame.loc[expected.index, "device_id"]) * 2
    for got, want in zip(out.geometry, list(expected) * 2):
        assert got.equals_exact(want, 1e-12)
    assert len(coverage.view_sector_frame(frame, ["device_id"], include_offline=True)) == 3
    assert coverage.view_sector_frame(frame.iloc[:0]).empty


def test_missing_parameters_take_documented_defaults():
    frame = cams([(0, 0, np.nan, np.nan, np.nan, 3, "ON"), (0, 0, None, 0, -5, 3, "ON")])
    for poly in to_metric(coverage.view_sectors(frame)):
        expected = math.pi * viewshed.DEFAULT_RANGE_M ** 2 * viewshed.DEFAULT_FOV_DEG / 360
        assert poly.area == pytest.approx(expected, rel=3e-4)
        assert poly.centroid.y > Y0  # default azimuth 0: pointing north


# -- coverage per area --------------------------------------------------------------------------------
def test_square_grid_half_covered_by_a_half_disc():
    grid = areas([(-100, -100, 100, 100)])
    out = coverage.coverage_by_area(cams([(0, 0, 90, 180, 1000, 3, "ON")]), grid)
    row = out.iloc[0]
    assert row["area_m2"] == pytest.approx(40_000, rel=1e-9)
    assert row["covered_m2"] == pytest.approx(20_000, rel=1e-6)
    assert row["ratio"] == pytest.approx(0.5, rel=1e-6) and row["redundant_m2"] == 0


def test_sector_and_disc_inside_grids_and_a_grid_with_no_camera():
    grid = areas([(-500, -500, 500, 500), (600, -100, 800, 100), (2000, 2000, 2100, 2100)])
    frame = cams([(0, 0, 30, 75, 120, 3, "ON"), (700, 0, 0, 360, 60, 2, "ON")])
    out = coverage.coverage_by_area(frame, grid).set_index("code")
    assert list(out.index) == list(grid["code"])
    assert out["covered_m2"].iloc[0] == pytest.approx(math.pi * 120 ** 2 * 75 / 360, rel=3e-4)
    assert out["covered_m2"].iloc[1] == pytest.approx(math.pi * 60 ** 2, rel=3e-4)
    assert out["covered_m2"].iloc[2] == 0 and out["ratio"].iloc[2] == 0


def test_redundancy_counts_area_seen_twice_once():
    r, d = 50.0, 40.0
    # A and B overlap in a lens; C overlaps nothing; D is offline on top of C (excluded by default)
    frame = cams([(0, 0, 0, 360, r, 1, "ON"), (d, 0, 0, 360, r, 1, "ON"), (500, 0, 0, 360, r, 1, "ON"),
                  (500, 0, 0, 360, r, 1, "OFF")])
    grid = areas([(-1000, -1000, 1000, 1000)])
    row = coverage.coverage_by_area(frame, grid).iloc[0]
    assert row["redundant_m2"] == pytest.approx(lens(r, d), rel=1e-3)
    assert row["covered_m2"] == pytest.approx(3 * math.pi * r * r - lens(r, d), rel=1e-3)
    row = coverage.coverage_by_area(frame, grid, include_offline=True).iloc[0]
    assert row["redundant_m2"] == pytest.approx(lens(r, d) + math.pi * r * r, rel=1e-3)
    # three discs on one spot: covered once as a disc, redundant as the whole disc (≥ 2, not ≥ 3)
    triple = cams([(0, 0, 0, 360, r, 1, "ON")] * 3)
    row = coverage.coverage_by_area(triple, grid).iloc[0]
    assert row["covered_m2"] == pytest.approx(row["redundant_m2"], rel=1e-9)


def _oracle(views, target):
    """Covered and ≥2-covered area by polygonizing every boundary and counting views over each face."""
    lines = shapely.union_all([shapely.boundary(v) for v in views] + [shapely.boundary(target)])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    faces = faces[shapely.contains(target, shapely.point_on_surface(faces))]
    counts = np.array([sum(v.contains(shapely.point_on_surface(f)) for v in views) for f in faces])
    area = shapely.area(faces)
    return area[counts >= 1].sum(), area[counts >= 2].sum()


def test_random_scene_against_polygonize_oracle():
    rng = np.random.default_rng(5)
    n = 25
    rows = [(rng.uniform(-300, 300), rng.uniform(-300, 300), rng.uniform(0, 360), rng.choice([40, 60, 90, 360]),
             rng.uniform(30, 120), int(rng.choice([1, 3])), "ON") for _ in range(n)]
    frame = cams(rows)
    boxes = [(x, y, x + 200, y + 200) for x, y in itertools.product((-300, -100, 100), repeat=2)]
    out = coverage.coverage_by_area(frame, areas(boxes))
    views = to_metric(coverage.view_sectors(frame)).to_numpy()
    for (x0, y0, x1, y1), (_, row) in zip(boxes, out.iterrows()):
        covered, twice = _oracle(views, shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1))
        assert row["covered_m2"] == pytest.approx(covered, rel=1e-6, abs=1e-3)
        assert row["redundant_m2"] == pytest.approx(twice, rel=1e-6, abs=1e-3)


def test_blind_spots_are_the_uncovered_halves():
    grid = areas([(-100, -100, 100, 100), (300, -50, 400, 50)])  # the second lies wholly in the half disc
    spots = coverage.blind_spots(cams([(0, 0, 90, 180, 1000, 3, "ON")]), grid)
    assert list(spots["code"]) == [grid["code"][0]]
    assert spots["area_m2"].iloc[0] == pytest.approx(20_000, rel=1e-6)
    west = to_metric(spots.geometry).iloc[0]
    assert west.bounds[2] == pytest.approx(X0, abs=1e-3) and west.bounds[0] == pytest.approx(X0 - 100, abs=1e-3)


def test_blind_spot_sorting_and_uncovered_grid():
    grid = areas([(-100, -100, 100, 100), (2000, 0, 2300, 300)])
    spots = coverage.blind_spots(cams([(0, 0, 90, 180, 1000, 3, "ON")]), grid)
    assert list(spots["code"]) == [grid["code"][1], grid["code"][0]]
    assert spots["area_m2"].tolist() == pytest.approx([90_000, 20_000], rel=1e-6)


def test_road_coverage_is_the_chord_inside_the_view():
    frame = cams([(0, 0, 0, 360, 50, 1, "ON")])
    line = shapely.LineString([(X0, Y0 - 200), (X0, Y0 + 200)])
    far = shapely.LineString([(X0 + 500, Y0), (X0 + 600, Y0)])
    roads = gpd.GeoDataFrame({"code": [7, 8]}, geometry=gpd.GeoSeries([line, far], crs=METRIC_CRS).to_crs(4326)
                             .to_numpy(), crs=4326)
    out = coverage.road_coverage(frame, roads)
    assert out["length_m"].tolist() == pytest.approx([400, 100], rel=1e-6)
    assert out["covered_m"].tolist() == pytest.approx([100, 0], rel=1e-4, abs=1e-6)
    assert out["share"].iloc[0] == pytest.approx(0.25, rel=1e-4) and list(out["code"]) == [7, 8]


# -- occlusion ----------------------------------------------------------------------------------------
def _buildings(boxes):
    polys = [shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes]
    return gpd.GeoDataFrame({"height_m": [10] * len(polys)},
                            geometry=gpd.GeoSeries(polys, crs=METRIC_CRS).to_crs(4326).to_numpy(), crs=4326)


def test_occlusion_by_one_building_matches_the_exact_shadow():
    r = 100.0
    frame = cams([(0, 0, 0, 360, r, 1, "ON")])
    blds = _buildings([(20, -5, 30, 5), (300, 300, 310, 310)])  # the second is out of range
    view = to_metric(coverage.view_sectors(frame, buildings=blds)).iloc[0]
    theta = 2 * math.atan(5 / 20)
    exact = math.pi * r * r - (theta * r * r / 2 - 0.5 * 20 * 10)
    assert view.area == pytest.approx(exact, rel=5e-4)
    assert not view.contains(shapely.Point(X0 + 60, Y0))          # behind the wall
    assert not view.contains(shapely.Point(X0 + 25, Y0))          # inside the building
    assert view.contains(shapely.Point(X0 + 15, Y0))              # in front of it
    assert view.contains(shapely.Point(X0 + 60, Y0 + 30))         # beside the shadow
    grid = areas([(-200, -200, 200, 200)])
    row = coverage.coverage_by_area(frame, grid, buildings=blds).iloc[0]
    assert row["covered_m2"] == pytest.approx(exact, rel=5e-4)


def test_occlusion_two_buildings_and_sector_and_mount():
    r = 80.0
    # a sector facing east; a wall across it at x = 40 blocks everything behind, except the part of the
    # sector that passes its ends; the camera's own building (it stands inside) does not block anything
    frame = cams([(0, 0, 90, 90, r, 3, "ON")])
    blds = _buildings([(40, -10, 45, 10), (-3, -3, 1, 3)])
    view = to_metric(coverage.view_sectors(frame, buildings=blds)).iloc[0]
    theta = 2 * math.atan(10 / 40)
    exact = math.pi * r * r / 4 - (theta * r * r / 2 - 0.5 * 40 * 20)
    assert view.area == pytest.approx(exact, rel=5e-4)
    # add a second building inside the sector, clear of the wall's shadow (bearings 50–60° vs 76–104°)
    blds = _buildings([(40, -10, 45, 10), (-3, -3, 1, 3), (30, 20, 35, 25)])
    view = to_metric(coverage.view_sectors(frame, buildings=blds)).iloc[0]
    a1, a2 = math.atan2(30, 25), math.atan2(35, 20)   # bearings (clockwise from north) of its extreme corners
    near = shapely.Polygon([(0, 0), (30, 25), (30, 20), (35, 20)])  # camera to its two visible faces
    shadow2 = (a2 - a1) * r * r / 2 - near.area
    assert view.area == pytest.approx(exact - shadow2, rel=5e-4)


# -- which cameras see a spot ----------------------------------------------------------------------------
def test_cameras_seeing_planted_cases():
    frame = cams([
        (30, 0, 270, 60, 50, 3, "ON"),     # A: 30 m east, looks west at the spot → sees
        (0, 20, 0, 60, 50, 4, "ON"),       # B: 20 m north, remote bullet looking away → after a turn
        (-80, 0, 0, 360, 100, 1, "ON"),    # C: dome 80 m west → sees
        (0, -10, 180, 60, 50, 3, "ON"),    # D: fixed bullet looking away → neither
        (-30, 0, 90, 60, 50, 3, "OFF"),    # E: offline, looks at it → excluded
        (300, 0, 0, 360, 100, 1, "ON"),    # F: dome out of range → neither
        (0, 45, 180, 20, 40, 5, "ON"),     # G: remote hemisphere facing it but range 40 < 45 → neither
    ])
    lon, lat = lonlat(0, 0)
    out = coverage.cameras_seeing(frame, lon, lat)
    ids = frame["device_id"].tolist()
    assert out["device_id"].tolist() == [ids[0], ids[2], ids[1]]
    assert out["sees"].tolist() == [True, True, False] and out["after_turn"].tolist() == [False, False, True]
    assert out["distance_m"].tolist() == pytest.approx([30, 80, 20], abs=1e-3)
    assert out["bearing_deg"].tolist() == pytest.approx([270, 90, 180], abs=1e-3)
    with_off = coverage.cameras_seeing(frame, lon, lat, include_offline=True)
    assert ids[4] in with_off["device_id"].tolist()
    no_turn = coverage.cameras_seeing(frame, lon, lat, turnable_ptz=())
    assert no_turn["device_id"].tolist() == [ids[0], ids[2]]


def test_cameras_seeing_respects_buildings():
    frame = cams([(0, 0, 90, 60, 100, 3, "ON"), (0, 40, 135, 90, 100, 3, "ON")])
    blds = _buildings([(20, -5, 30, 5)])
    lon, lat = lonlat(60, 0)
    ids = frame["device_id"].tolist()
    assert coverage.cameras_seeing(frame, lon, lat)["device_id"].tolist() == [ids[0], ids[1]]  # 60 m, 72 m
    assert coverage.cameras_seeing(frame, lon, lat, buildings=blds)["device_id"].tolist() == [ids[1]]


# -- incidents ----------------------------------------------------------------------------------------
def _incidents(points):
    xy = [from_metric(shapely.Point(X0 + dx, Y0 + dy)) for dx, dy, _c, _t in points]
    return gpd.GeoDataFrame({"category_code": [c for *_x, c, _t in points],
                             "reported_at": pd.to_datetime([t for *_x, t in points], utc=True)},
                            geometry=xy, crs=4326)


def test_incident_coverage_per_area_with_filters():
    frame = cams([(0, 0, 0, 360, 50, 1, "ON"), (500, 0, 0, 360, 50, 1, "OFF")])
    grid = areas([(-100, -100, 100, 100), (400, -100, 600, 100), (900, 900, 1000, 1000)])
    inc = _incidents([(10, 10, "street_order", "2025-03-01T10:00:00+08:00"),
                      (90, 90, "street_order", "2025-03-02T10:00:00+08:00"),
                      (-20, 0, "advertising", "2025-06-01T10:00:00+08:00"),
                      (500, 0, "street_order", "2025-03-01T10:00:00+08:00")])
    out = coverage.incident_coverage(frame, inc, grid)
    assert out["incidents"].tolist() == [3, 1, 0] and out["seen"].tolist() == [2, 0, 0]
    assert out["share"].iloc[0] == pytest.approx(2 / 3) and np.isnan(out["share"].iloc[2])
    out = coverage.incident_coverage(frame, inc, grid, categories=["street_order"], start="2025-03-02", end="2025-04-01",
                                    tz="Asia/Shanghai")
    assert out["incidents"].tolist() == [1, 0, 0] and out["seen"].tolist() == [0, 0, 0]
    given = coverage.incident_coverage(frame, inc, grid, seen=coverage.seen_mask(frame, inc.geometry))
    pd.testing.assert_frame_equal(given, coverage.incident_coverage(frame, inc, grid))
    told = coverage.incident_coverage(frame, inc, grid, seen=np.array([False, False, False, True]))
    assert told["seen"].tolist() == [0, 1, 0]  # the mask given is the one counted
    for bad in ({"seen": np.ones(3, dtype=bool)}, {"seen": np.ones(4, dtype=bool), "categories": ["advertising"]}):
        with pytest.raises(ValueError, match="seen"):
            coverage.incident_coverage(frame, inc, grid, **bad)


def test_unseen_hotspots_find_the_unwatched_cluster():
    frame = cams([(50, 50, 0, 360, 60, 1, "ON")])
    seen = [(50 + i, 50, "street_order", "2025-03-01T10:00:00+08:00") for i in range(8)]
    unseen = [(1020 + 5 * i, 1030, "street_order", "2025-03-01T10:00:00+08:00") for i in range(6)]
    lone = [(3000, 3000, "street_order", "2025-03-01T10:00:00+08:00")]
    spots = coverage.unseen_hotspots(frame, _incidents(seen + unseen + lone), cell_m=100, min_incidents=5)
    assert spots["incidents"].tolist() == [6]
    cell = to_metric(spots.geometry).iloc[0]
    assert cell.area == pytest.approx(10_000, rel=1e-3) and cell.contains(shapely.Point(X0 + 1030, Y0 + 1030))


# -- one set of views per registry state -----------------------------------------------------------
def _random_cams(rng, n):
    rows = [(rng.uniform(-800, 800), rng.uniform(-800, 800), rng.uniform(0, 360), rng.uniform(20, 360),
             rng.uniform(20, 200), int(rng.choice([1, 2, 3])), str(rng.choice(["ON", "ON", "OFF"]))) for _ in range(n)]
    return cams(rows)


def test_a_view_set_is_built_once_per_camera_state_and_answers_like_a_fresh_tree():
    import hashlib

    rng = np.random.default_rng(11)
    frame = _random_cams(rng, 60)
    vs = coverage.view_set(frame)
    assert coverage.view_set(frame.copy()) is vs  # same content, another frame: the same views, not rebuilt
    polys = vs.polygons()
    working = coverage.working(frame)
    assert len(vs) == len(polys) == len(working) < len(frame)  # the OFF cameras see nothing
    fresh = coverage.view_sectors(working).to_crs(METRIC_CRS).to_numpy()
    assert all(a.equals_exact(b, 1e-3) for a, b in zip(polys, fresh))  # the same polygons view_sectors gives
    polys[0] = None  # a caller's copy: the set keeps its own
    assert vs.polygons()[0] is not None
    pts = shapely.points(X0 + rng.uniform(-900, 900, 400), Y0 + rng.uniform(-900, 900, 400))
    ours = vs.tree().query(pts, predicate="intersects")
    brute = np.array([(i, j) for i, p in enumerate(pts) for j, v in enumerate(vs.polygons()) if v.intersects(p)]).T
    assert sorted(zip(*ours)) == sorted(zip(*brute)) and len(brute[0]) > 20
    assert vs.tree() is vs.tree()
    assert vs.digests() == [hashlib.sha256(shapely.to_wkb(p)).digest() for p in vs.polygons()]
    moved = frame.copy()
    bullet = moved.index[(moved["status"] == "ON") & (moved["ptz_type"] == 3) & (moved["fov"] < 300)][0]
    moved.loc[bullet, "azimuth"] = (moved.loc[bullet, "azimuth"] + 90) % 360
    assert coverage.view_set(moved) is not vs
    assert coverage.view_set(frame, include_offline=True) is not vs


def test_seen_mask_is_brute_force_with_and_without_offline_cameras():
    rng = np.random.default_rng(12)
    frame = _random_cams(rng, 40)
    pts = gpd.GeoSeries(shapely.points(X0 + rng.uniform(-900, 900, 300), Y0 + rng.uniform(-900, 900, 300)),
                        crs=METRIC_CRS).to_crs(4326)
    for offline in (False, True):
        views = coverage.view_sectors(frame, include_offline=offline).to_crs(METRIC_CRS).to_numpy()
        metric = pts.to_crs(METRIC_CRS).to_numpy()
        brute = np.array([any(v.intersects(p) for v in views) for p in metric])
        for _ in range(2):  # a second ask reuses the tree
            assert (coverage.seen_mask(frame, pts, include_offline=offline) == brute).all()
        assert 0 < brute.sum() < len(brute)


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_first_area_is_the_lowest_index_of_the_areas_covering_each_point_by_brute_force(seed):
    """Overlapping squares and points on their edges: each point's answer is the lowest index of an area that
    intersects it (boundary counts), -1 for none; answers asked for some points equal those for all."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 8, size=(12, 2))
    sizes = rng.integers(1, 5, size=12)
    areas = shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + sizes, corners[:, 1] + sizes)
    pts = shapely.points(rng.integers(-1, 13, size=(60, 2)).astype(float))  # whole numbers: on edges and corners
    want = np.array([next((i for i, a in enumerate(areas) if a.intersects(p)), -1) for p in pts])
    got = coverage.first_area(areas, pts)
    assert got.tolist() == want.tolist()
    some = rng.random(len(pts)) < 0.3
    assert coverage.first_area(areas, pts[some]).tolist() == want[some].tolist()
    total, hits, share = coverage.area_counts(got, np.arange(len(pts)) % 2 == 0, len(areas))
    assert total.tolist() == [int((want == i).sum()) for i in range(len(areas))]
    assert hits.tolist() == [int(((want == i) & (np.arange(len(pts)) % 2 == 0)).sum()) for i in range(len(areas))]
    assert all(np.isnan(s) if t == 0 else s == h / t for s, h, t in zip(share, hits, total))
