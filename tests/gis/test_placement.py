"""gis.placement against exhaustive search on small instances, planted road crossings and lattices."""
import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis import placement
from gis.crs import METRIC_CRS
from gis.errors import InvalidData

X0, Y0 = 478600.0, 3250300.0


def points(xy, **cols):
    pts = gpd.GeoSeries(shapely.points(np.asarray(xy, float) + [X0, Y0]), crs=METRIC_CRS).to_crs(4326)
    return gpd.GeoDataFrame(cols, geometry=pts.to_numpy(), crs=4326)


def instance(seed, n_cand=11, n_dem=45, span=400.0):
    rng = np.random.default_rng(seed)
    cand_xy = rng.uniform(0, span, (n_cand, 2))
    dem_xy = rng.uniform(0, span, (n_dem, 2))
    weights = rng.integers(1, 50, n_dem).astype(float)
    return cand_xy, dem_xy, weights


def brute(cand_xy, dem_xy, weights, k, range_m, skip=None):
    """Best covered weight over every k-subset of candidates (demand in ``skip`` not counted)."""
    near = np.hypot(*(dem_xy[:, None, :] - cand_xy[None, :, :]).transpose(2, 0, 1)) <= range_m
    w = weights if skip is None else np.where(skip, 0.0, weights)
    return max(w[near[:, list(c)].any(axis=1)].sum() for c in itertools.combinations(range(len(cand_xy)), k))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_plan_sites_equals_exhaustive_optimum(seed, k):
    cand_xy, dem_xy, w = instance(seed)
    res = placement.plan_sites(points(cand_xy), points(dem_xy, weight=w), k, range_m=90.0)
    assert res.new_demand == pytest.approx(brute(cand_xy, dem_xy, w, k, 90.0))
    assert len(res.sites) == k and res.total_demand == pytest.approx(w.sum())
    # the reported gains add up to what the chosen set really covers
    chosen = cand_xy[res.sites["candidate"].to_numpy()]
    near = np.hypot(*(dem_xy[:, None, :] - chosen[None, :, :]).transpose(2, 0, 1)) <= 90.0
    assert w[near.any(axis=1)].sum() == pytest.approx(res.sites["cumulative"].iloc[-1])
    # greedy order of a coverage function: gains never increase
    assert np.all(np.diff(res.sites["gain"].to_numpy()) <= 1e-9)
    assert res.sites["share"].iloc[-1] == pytest.approx(res.share_after)


def test_existing_coverage_is_not_counted():
    cand_xy, dem_xy, w = instance(7)
    existing_poly = shapely.Point(X0 + 200, Y0 + 200).buffer(120)
    existing = gpd.GeoSeries([existing_poly], crs=METRIC_CRS).to_crs(4326)
    skip = shapely.contains_xy(existing_poly, dem_xy[:, 0] + X0, dem_xy[:, 1] + Y0)
    assert skip.any()
    res = placement.plan_sites(points(cand_xy), points(dem_xy, weight=w), 3, range_m=90.0, existing=existing)
    assert res.new_demand == pytest.approx(brute(cand_xy, dem_xy, w, 3, 90.0, skip=skip))
    assert res.existing_demand == pytest.approx(w[skip].sum())


def test_planted_best_site_and_area_labels():
    # three demand clusters; the heaviest is only reachable from candidate 2
    cand = points([(0, 0), (500, 0), (1000, 0), (3000, 3000)])
    dem = points([(0, 10), (500, 10), (1000, 10), (1005, 5)], weight=[5.0, 3.0, 4.0, 4.0])
    grids = gpd.GeoDataFrame({"code": ["510304001001001", "510304001001002"]},
                             geometry=gpd.GeoSeries([shapely.box(X0 - 100, Y0 - 100, X0 + 700, Y0 + 100),
                                                     shapely.box(X0 + 700, Y0 - 100, X0 + 1100, Y0 + 100)],
                                                    crs=METRIC_CRS).to_crs(4326).to_numpy(), crs=4326)
    res = placement.plan_sites(cand, dem, 2, range_m=50, areas=grids)
    assert res.sites["candidate"].tolist() == [2, 0]
    assert res.sites["gain"].tolist() == [8.0, 5.0]
    assert res.sites["code"].tolist() == ["510304001001002", "510304001001001"]
    assert res.share_after == pytest.approx(13 / 16)
    more = placement.plan_sites(cand, dem, 6, range_m=50)
    assert len(more.sites) == 3 and more.notes  # only three candidates add anything


@pytest.mark.parametrize("target", [0.3, 0.6, 0.85, 1.0])
def test_min_sites_for_is_the_smallest_k_reaching_the_target(target):
    cand_xy, dem_xy, w = instance(11, n_cand=10, n_dem=40)
    cand_xy = np.vstack([cand_xy, dem_xy])  # every demand point coverable (target 1.0 reachable)
    cand_xy = cand_xy[:16]
    dem_xy = dem_xy[:6]
    w = w[:6]
    cands, dem = points(cand_xy), points(dem_xy, weight=w)
    res = placement.min_sites_for(target, cands, dem, range_m=60.0)
    need = target * w.sum()
    best_k = next(k for k in range(1, 7) if brute(cand_xy, dem_xy, w, k, 60.0) >= need - 1e-9)
    assert res.k == best_k == len(res.sites)
    assert res.share_after >= target - 1e-9


def test_min_sites_for_unreachable_target_says_so():
    cand = points([(0, 0)])
    dem = points([(0, 0), (5000, 0)], weight=[1.0, 1.0])
    with pytest.raises(InvalidData, match="cannot be reached"):
        placement.min_sites_for(0.9, cand, dem, range_m=50)
    assert placement.min_sites_for(0.5, cand, dem, range_m=50).k == 1


def test_bad_inputs_are_reported():
    cand, dem = points([(0, 0)]), points([(0, 0)], weight=[-1.0])
    with pytest.raises(InvalidData, match="weight"):
        placement.plan_sites(cand, dem, 1)
    with pytest.raises(InvalidData, match="k"):
        placement.plan_sites(cand, points([(0, 0)], weight=[1.0]), 0)
    with pytest.raises(InvalidData, match="weight"):
        placement.plan_sites(cand, points([(0, 0)]), 1)


def test_road_intersections_crossings_and_shared_ends():
    lines = [shapely.LineString([(0, -100), (0, 100)]), shapely.LineString([(-100, 0), (100, 0)]),  # a cross
             shapely.LineString([(100, 0), (100, 200)]),   # shares the end point (100, 0) with the second
             shapely.LineString([(300, 0), (300, 200)])]   # touches nothing
    roads = gpd.GeoDataFrame({"code": [1, 2, 3, 4]}, geometry=gpd.GeoSeries(
        [shapely.affinity.translate(g, X0, Y0) for g in lines], crs=METRIC_CRS).to_crs(4326).to_numpy(), crs=4326)
    pts = placement.road_intersections(roads).to_crs(METRIC_CRS)
    got = sorted((round(p.x - X0, 3), round(p.y - Y0, 3)) for p in pts.geometry)
    assert got == [(0.0, 0.0), (100.0, 0.0)]


def test_area_demand_lattice_inside_areas_outside_coverage():
    grid = gpd.GeoDataFrame({"code": ["a"]}, geometry=gpd.GeoSeries([shapely.box(X0, Y0, X0 + 200, Y0 + 200)],
                                                                  crs=METRIC_CRS).to_crs(4326).to_numpy(), crs=4326)
    dem = placement.area_demand(grid, cell_m=50)
    assert len(dem) == 16 and dem["weight"].sum() == pytest.approx(40_000)
    covered = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 100, Y0 + 200)], crs=METRIC_CRS).to_crs(4326)
    assert len(placement.area_demand(grid, cell_m=50, existing=covered)) == 8
