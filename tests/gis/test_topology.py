"""gis.topology: each planted defect is found in a broken copy of the demo grids; the clean demo is clean."""
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.crs import from_metric, to_metric
from gis.topology import check_grids, repair_grids
from tests.geometries import plant_defects

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


@pytest.fixture(scope="module")
def demo():
    return gpd.read_file(DEMO / "grids.geojson"), gpd.read_file(DEMO / "communities.geojson")


@pytest.fixture(scope="module")
def broken(demo):
    grids, communities = demo
    return (*plant_defects(grids, communities), communities)


def test_clean_demo_has_no_problems(demo):
    grids, communities = demo
    report = check_grids(grids, communities)
    assert report.ok, [str(p) for p in report.errors[:5]]
    assert len(report.to_frame()) == 0


@pytest.mark.parametrize("kind", ["invalid", "overlap", "outside", "gap", "sliver", "duplicate", "code",
                                  "community"])
def test_each_planted_defect_is_found(broken, kind):
    grids, planted, communities = broken
    report = check_grids(grids, communities)
    found = [p for p in report.errors if p.kind == kind]
    assert found, f"no {kind} reported"
    assert any(planted[kind] in p.codes for p in found), (planted[kind], [str(p) for p in found])
    assert not report.ok


def _geodesic_m2(geom) -> float:
    """Independent area: the ellipsoid (pyproj.Geod) on the lon/lat polygon densified to ~1 m edges."""
    from pyproj import Geod

    return abs(Geod(ellps="WGS84").geometry_area_perimeter(shapely.segmentize(geom, 1e-5))[0])


def test_overlap_area_matches_an_independent_computation(broken):
    """The overlap is judged in EPSG:4326 (where the database compares geometries); its m² agree with
    the geodesic area of the lon/lat intersection within EPSG:4544's scale error (~3e-5 here)."""
    grids, planted, communities = broken
    report = check_grids(grids, communities)
    code = planted["overlap"]
    grown = grids.geometry[grids["code"].to_numpy() == code].iloc[0]
    found = [p for p in report.errors if p.kind == "overlap" and code in p.codes]
    assert found
    for p in found:
        other = [c for c in p.codes if c != code][0]
        og = grids.geometry[grids["code"].to_numpy() == other]
        expected = max(_geodesic_m2(shapely.intersection(grown, g.buffer(0))) for g in og)
        assert p.area_m2 == pytest.approx(expected, rel=1e-4)
        assert 0 < p.area_m2 < 30 * to_metric(grown).length


def test_gap_polygon_and_area(broken):
    grids, planted, communities = broken
    report = check_grids(grids, communities)
    gaps = [p for p in report.errors if p.kind == "gap" and p.codes == (planted["gap"],)]
    assert gaps and all(p.geometry is not None and p.area_m2 > 0 for p in gaps)
    assert sum(p.area_m2 for p in gaps) > 100


def test_sliver_threshold_is_configurable(broken):
    grids, planted, communities = broken
    strict = check_grids(grids, communities, sliver_m2=1.0)
    assert not any(p.kind == "sliver" and planted["sliver"] in p.codes for p in strict.errors)


def test_report_frame_has_the_problem_geometries(broken):
    grids, planted, communities = broken
    frame = check_grids(grids, communities).to_frame()
    assert frame.crs.to_epsg() == 4326
    assert {"invalid", "overlap", "gap", "sliver", "outside"} <= set(frame["kind"])
    assert frame.geometry.notna().sum() >= 5


def _pair():
    a = shapely.box(0, 0, 100, 100)
    b = shapely.box(100.4, 0, 200, 100)   # a 0.4 m gap
    c = shapely.box(0, 99.7, 100, 200)    # a 0.3 m overlap with a
    d = shapely.box(99.8, 100, 200, 200)  # a 0.2 m overlap with c (and a touch)
    community = shapely.box(0, 0, 200, 200)
    codes = ["510304001001001", "510304001001002", "510304001001003", "510304001001004"]
    grids = gpd.GeoDataFrame({"code": codes}, geometry=from_metric(np.array([a, b, c, d])), crs=4326)
    communities = gpd.GeoDataFrame({"code": ["510304001001"]}, geometry=[from_metric(community)], crs=4326)
    return grids, communities


def test_repair_snaps_small_gaps_and_overlaps_and_reports_them():
    grids, communities = _pair()
    before = check_grids(grids, communities)
    assert {p.kind for p in before.errors} == {"gap", "overlap"}
    repaired, changes = repair_grids(grids, communities, tolerance_m=1.0)
    after = check_grids(repaired, communities)
    assert after.ok, [str(p) for p in after.errors]
    assert any("gap" in c for c in changes) and any("overlap" in c for c in changes)
    assert len(changes) >= 3
    # nothing wider than the tolerance is touched
    _, none = repair_grids(grids, communities, tolerance_m=0.1)
    assert none == []


def test_repair_makes_invalid_rings_valid():
    grids, communities = _pair()
    bow = from_metric(shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)]))
    grids.loc[0, "geometry"] = bow
    assert any(p.kind == "invalid" for p in check_grids(grids, communities).errors)
    repaired, changes = repair_grids(grids, communities)
    assert shapely.is_valid(repaired.geometry.to_numpy()).all()
    assert any("made valid" in c for c in changes)


# -- topology judged in EPSG:4326 (issue 11): long straight community edges, many-vertex grids ---------
VOR_COMMUNITY = "510304001001"


def _voronoi_layer(seed: int = 3, n: int = 60, box=(104.60, 29.30, 104.66, 29.34), community: str = VOR_COMMUNITY):
    """A community drawn with its four corners only (≈ 5.8 km × 4.4 km) and ``n`` Voronoi cells clipped
    to it in lon/lat: an exact tiling in EPSG:4326, whose cells put many vertices on each long edge."""
    rng = np.random.default_rng(seed)
    w, s, e, n_ = box
    outline, code = shapely.box(w, s, e, n_), community
    seeds = shapely.multipoints(np.column_stack([rng.uniform(w, e, n), rng.uniform(s, n_, n)]))
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=outline)), outline)
    grids = gpd.GeoDataFrame({"code": [f"{code}{i + 1:03d}" for i in range(len(cells))]}, geometry=cells, crs=4326)
    communities = gpd.GeoDataFrame({"code": [code]}, geometry=[outline], crs=4326)
    return grids, communities


def test_an_exact_lonlat_tiling_with_long_straight_edges_is_clean():
    grids, communities = _voronoi_layer()
    assert len(communities.geometry.iloc[0].exterior.coords) == 5  # four corners, closed
    on_edges = sum(len(shapely.get_coordinates(g)) for g in grids.geometry)
    assert on_edges > 300
    report = check_grids(grids, communities)
    assert report.ok, [str(p) for p in report.errors[:5]]
    repaired, changes = repair_grids(grids, communities)
    assert changes == [] and repaired.geometry.geom_equals_exact(grids.geometry, 0).all()
    # the same layer read from a file in another CRS is judged after conversion to EPSG:4326
    assert check_grids(grids.to_crs(3857), communities.to_crs(3857)).ok


def _inner_box(cell, frac=0.25):
    """A lon/lat box in the middle of ``cell`` (a quarter of its bounding box's width and height)."""
    c = cell.representative_point()
    w, s, e, n = cell.bounds
    dx, dy = (e - w) * frac / 2, (n - s) * frac / 2
    b = shapely.box(c.x - dx, c.y - dy, c.x + dx, c.y + dy)
    return shapely.intersection(b, cell)


def test_a_real_gap_and_overlap_are_measured_in_square_metres():
    """A hole cut in one cell and a piece of one cell added to its neighbour: each reported once, with
    the geodesic area (pyproj.Geod on the lon/lat piece) within 1 %."""
    grids, communities = _voronoi_layer()
    geoms = grids.geometry.to_numpy().copy()
    hole = _inner_box(geoms[0])
    geoms[0] = shapely.difference(geoms[0], hole)           # gap = hole
    extra = _inner_box(geoms[5])
    geoms[7] = shapely.union(geoms[7], extra)               # overlap of cells 5 and 7 = extra
    broken = grids.set_geometry(geoms)
    report = check_grids(broken, communities)
    gaps = [p for p in report.errors if p.kind == "gap"]
    overlaps = [p for p in report.errors if p.kind == "overlap"]
    assert len(gaps) == 1 and len(overlaps) == 1, [str(p) for p in report.errors]
    assert gaps[0].area_m2 == pytest.approx(_geodesic_m2(hole), rel=0.01)
    assert overlaps[0].area_m2 == pytest.approx(_geodesic_m2(extra), rel=0.01)
    assert set(overlaps[0].codes) == {grids["code"][5], grids["code"][7]}
    assert 1000 < gaps[0].area_m2 and 1000 < overlaps[0].area_m2       # real, not noise
    assert {p.kind for p in report.errors} == {"gap", "overlap"}       # and nothing "outside"
    assert shapely.equals_exact(gaps[0].geometry.normalize(), hole.normalize(), 1e-9)
