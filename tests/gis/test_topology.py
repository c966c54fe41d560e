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


def test_overlap_area_matches_an_independent_computation(broken):
    grids, planted, communities = broken
    report = check_grids(grids, communities)
    code = planted["overlap"]
    metric = to_metric(grids.set_index("code", drop=False).geometry)
    grown = metric[grids["code"].to_numpy() == code].iloc[0]
    for p in (p for p in report.errors if p.kind == "overlap" and code in p.codes):
        other = [c for c in p.codes if c != code][0]
        og = metric[grids["code"].to_numpy() == other]
        expected = max(shapely.intersection(grown, g.buffer(0)).area for g in og)
        assert p.area_m2 == pytest.approx(expected, rel=1e-6)
        assert 0 < p.area_m2 < 30 * grown.length


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
