"""The demo-district generator (the data.generate package): determinism, codes, topology and counts.

Files are read back with the real readers (geopandas/pyogrio, pandas); areas and distances are
computed in EPSG:4544 metres.
"""
from __future__ import annotations

import hashlib
import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from data.generate import generate  # noqa: E402

COMMITTED = ROOT / "data" / "demo"
METRIC = 4544
STREETS = {  # DOMAIN.md, 2016 statistical codes
    "510304001": "大安街道", "510304002": "龙井街道", "510304003": "马冲口街道", "510304004": "凉高山街道",
    "510304100": "大山铺镇", "510304102": "团结镇", "510304103": "三多寨镇", "510304104": "何市镇",
    "510304105": "新店镇", "510304106": "新民镇", "510304107": "牛佛镇", "510304108": "庙坝镇",
    "510304109": "回龙镇", "510304204": "永嘉乡", "510304205": "和平乡", "510304207": "凤凰乡",
}
URBAN_STREETS = {c for c in STREETS if c[6] == "0"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    first = generate(tmp_path_factory.mktemp("demo_a"))
    second = generate(tmp_path_factory.mktemp("demo_b"))
    return first, second


@pytest.fixture(scope="module")
def out(runs):
    return runs[0][next(iter(runs[0]))].parent


def _read(out, name, metric=False):
    frame = gpd.read_file(out / name, engine="pyogrio")
    return frame.to_crs(METRIC) if metric else frame


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _csv(out, name):
    return pd.read_csv(out / name, dtype=str, keep_default_na=False)


def test_two_runs_are_byte_identical(runs):
    first, second = runs
    assert sorted(first) == sorted(second)
    assert {n: _sha(p) for n, p in first.items()} == {n: _sha(p) for n, p in second.items()}


def test_committed_demo_matches_the_generator(runs):
    first, _ = runs
    committed = {p.name: _sha(p) for p in COMMITTED.iterdir() if p.is_file()}
    assert committed == {n: _sha(p) for n, p in first.items()}


def test_outputs_are_small_and_without_crs_member(out):
    total = sum(p.stat().st_size for p in out.iterdir())
    assert total < 15_000_000
    for p in out.glob("*.geojson"):
        assert '"crs"' not in p.read_text(encoding="utf-8")[:300]


def test_sixteen_streets_with_domain_codes_and_names(out):
    streets = _read(out, "streets.geojson")
    assert dict(zip(streets["code"], streets["name"])) == STREETS
    kinds = dict(zip(streets["code"], streets["kind"]))
    assert {c for c, k in kinds.items() if k == "street"} == URBAN_STREETS


def test_streets_tile_the_district(out):
    streets = _read(out, "streets.geojson", metric=True)
    district = _read(out, "district.geojson", metric=True).geometry.iloc[0]
    assert abs(streets.area.sum() - district.area) < 1.0
    assert abs(streets.union_all().area - district.area) < 1.0
    assert 350e6 < district.area < 450e6


def test_communities_per_street(out):
    comms = _read(out, "communities.geojson")
    assert len(comms) == 34 and comms["code"].is_unique and comms["name"].is_unique
    urban = comms[comms["urban"].astype(bool)]
    assert len(urban) == 22
    assert set(urban["street_code"]) == URBAN_STREETS
    rural = comms[~comms["urban"].astype(bool)]
    assert sorted(rural["street_code"]) == sorted(set(STREETS) - URBAN_STREETS)
    assert (comms["urban"].astype(bool) == comms["street_code"].isin(URBAN_STREETS)).all()
    huada = comms[comms["name"] == "华大社区"]
    assert list(huada["street_code"]) == ["510304002"] and bool(huada["urban"].iloc[0])


def test_code_lengths_and_prefixes(out):
    comms = _read(out, "communities.geojson")
    grids = _read(out, "grids.geojson")
    assert comms["code"].str.fullmatch(r"\d{12}").all()
    assert (comms["code"].str[:9] == comms["street_code"]).all()
    assert grids["code"].str.fullmatch(r"\d{15}").all() and grids["code"].is_unique
    assert (grids["code"].str[:12] == grids["community_code"]).all()
    assert (grids["code"].str[:9] == grids["street_code"]).all()
    assert set(grids["community_code"]) == set(comms["code"])
    assert 300 <= len(grids) <= 420


def test_grids_tile_each_community(out):
    grids = _read(out, "grids.geojson", metric=True)
    comms = _read(out, "communities.geojson", metric=True).set_index("code")
    for code, group in grids.groupby("community_code"):
        community_area = comms.loc[code].geometry.area
        assert abs(group.union_all().area - community_area) < 1.0, code  # no gap
        assert abs(group.area.sum() - community_area) < 1.0, code  # no overlap


def test_community_totals_are_grid_sums(out):
    grids = _read(out, "grids.geojson")
    comms = _read(out, "communities.geojson").set_index("code")
    sums = grids.groupby("community_code")[["households", "population"]].sum()
    assert (sums["households"] == comms.loc[sums.index, "households"]).all()
    assert (sums["population"] == comms.loc[sums.index, "population"]).all()


def test_grid_serials_run_west_east_north_south(out):
    grids = _read(out, "grids.geojson", metric=True).sort_values("code")
    for _, group in grids.groupby("community_code"):
        serials = group["code"].str[12:].astype(int).to_numpy()
        assert list(serials) == list(range(1, len(group) + 1))
        x, y = group.centroid.x.to_numpy(), group.centroid.y.to_numpy()
        band_h = math.sqrt(group.area.sum() / len(group))
        band = np.floor((y.max() - y) / band_h)
        keys = list(zip(band, x))
        assert keys == sorted(keys)


def test_skynet_cameras_and_ids(out):
    cams = _csv(out, "cameras.csv")
    assert (cams["programme"] == "skynet").sum() == 371
    assert cams["device_id"].is_unique
    assert cams["device_id"].str.fullmatch(r"51030400\d{12}").all()
    sky = cams[cams["programme"] == "skynet"]
    assert (sky["device_id"].str[8:10] == "00").all()
    assert sky["device_id"].str[10:13].isin(["121", "131", "132"]).all()
    assert (cams["device_id"].str[-6:].astype(int).diff().dropna() > 0).all()
    assert 40 <= (cams["programme"] == "xueliang").sum() <= 80
    assert 25 <= (cams["programme"] == "compound").sum() <= 55


def _cameras_m(out):
    cams = _csv(out, "cameras.csv")
    pts = gpd.points_from_xy(cams["lon"].astype(float), cams["lat"].astype(float))
    return gpd.GeoDataFrame(cams, geometry=pts, crs=4326).to_crs(METRIC)


def test_cameras_keep_five_metres_apart(out):
    cams = _cameras_m(out)
    xy = np.column_stack([cams.geometry.x, cams.geometry.y])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 5.0


def test_cameras_stand_within_15_m_of_a_road(out):
    cams = _cameras_m(out)
    roads = _read(out, "roads.geojson", metric=True)
    near = gpd.sjoin_nearest(cams, roads[["geometry"]], distance_col="road_m")
    assert near.groupby(level=0)["road_m"].min().max() <= 15.0
    assert len(near.index.unique()) == len(cams)


def test_every_incident_lies_inside_a_grid(out):
    inc = _csv(out, "incidents.csv")
    assert 15_000 <= len(inc) <= 17_000 and inc["external_id"].is_unique
    xy = gpd.points_from_xy(inc["lon"].astype(float), inc["lat"].astype(float))
    pts = gpd.GeoDataFrame(inc, geometry=xy, crs=4326)
    joined = gpd.sjoin(pts, _read(out, "grids.geojson")[["code", "geometry"]], how="left", predicate="within")
    assert joined["code"].notna().all()
    assert not joined.index.duplicated().any()  # no incident falls in two grids


def test_incident_times_and_states(out):
    inc = _csv(out, "incidents.csv")
    reported = pd.to_datetime(inc["reported_at"])
    assert reported.min().year == reported.max().year == 2025
    closed = inc[inc["state"] == "closed"]
    assert 0.94 < len(closed) / len(inc) < 0.99
    assert (pd.to_datetime(closed["closed_at"]) > pd.to_datetime(closed["reported_at"])).all()
    assert (inc.loc[inc["state"] != "closed", "closed_at"] == "").all()
    categories = set(pd.read_csv(ROOT / "data" / "reference" / "categories.csv")["code"])
    assert set(inc["category"]) <= categories


def test_open_incidents_are_the_recent_ones_still_in_hand(out):
    """The files show the district at the end of 2025: nothing closes after it, and an incident is still
    open only when its log-normal time to close (around 45 % of its deadline) has not run out."""
    inc = _csv(out, "incidents.csv")
    snapshot = pd.Timestamp("2026-01-01T00:00:00+08:00")
    closed = inc[inc["state"] == "closed"]
    assert (pd.to_datetime(closed["closed_at"]) <= snapshot).all()
    open_ = inc[~inc["state"].isin(["closed", "voided"])]
    age = snapshot - pd.to_datetime(open_["reported_at"])
    assert 20 <= len(open_) <= 0.01 * len(inc)
    assert age.max() < pd.Timedelta(days=30) and age.median() < pd.Timedelta(days=3)
    assert set(open_["state"]) <= {"reported", "accepted", "dispatched", "in_progress", "resolved"}


def _patrols(out):
    pts = _csv(out, "patrols.csv")
    pts["at"] = pd.to_datetime(pts["time"])
    xy = gpd.points_from_xy(pts["lon"].astype(float), pts["lat"].astype(float))
    return gpd.GeoDataFrame(pts, geometry=xy, crs=4326)


def test_patrols_walk_the_members_own_grids_in_the_last_two_weeks(out):
    pts = _patrols(out)
    members = _csv(out, "members.csv")
    grids = _read(out, "grids.geojson")[["code", "geometry"]]
    assert pts["at"].min() >= pd.Timestamp("2025-12-18T00:00:00+08:00")
    assert pts["at"].max() < pd.Timestamp("2026-01-01T00:00:00+08:00")
    assert not pts.duplicated(["member_id", "at"]).any()
    hour = pts["at"].dt.hour  # the files write +08:00, so these are the district's wall-clock hours
    assert hour.between(8, 18).all()  # office-hours patrols
    joined = gpd.sjoin(pts, grids, how="left", predicate="within")
    assert joined["code"].notna().all() and not joined.index.duplicated().any()
    own = set(zip(members["member_id"], members["grid_code"]))
    assert all(pair in own for pair in zip(joined["member_id"], joined["code"]))
    # one walk per member and day: fixes 100-200 s apart, 20-45 minutes in all
    pts["day"] = pts["at"].dt.date
    walks = pts.sort_values("at").groupby(["member_id", "day"])["at"]
    gaps = walks.diff().dropna().dt.total_seconds()
    assert gaps.between(99, 201).all()
    span = (walks.max() - walks.min()).dt.total_seconds() / 60
    assert span.between(15, 45).all()


def test_patrols_leave_few_urban_grids_unwalked_in_a_week(out):
    pts = _patrols(out)
    grids = _read(out, "grids.geojson")
    urban = grids[grids["street_code"].isin(URBAN_STREETS)]
    week = pts[pts["at"] >= pd.Timestamp("2025-12-25T00:00:00+08:00")]
    walked = set(gpd.sjoin(week, grids[["code", "geometry"]], predicate="within")["code"])
    share = len(walked & set(urban["code"])) / len(urban)
    assert 0.6 < share < 1.0  # most grids walked, a few left for the "unpatrolled" flag
    weekday = week["at"].dt.day_of_week
    per_day = week.groupby(weekday).size()
    assert per_day.loc[[5, 6]].mean() < 0.7 * per_day.loc[[0, 1, 2, 3, 4]].mean()  # fewer at weekends


def test_every_grid_has_exactly_one_lead(out):
    members = _csv(out, "members.csv")
    grids = _read(out, "grids.geojson")
    leads = members[members["roles"].str.split(";").apply(lambda r: "lead" in r)]
    assert leads.groupby("grid_code").size().reindex(grids["code"]).eq(1).all()
    per_grid = members.groupby("grid_code").size()
    assert per_grid.between(2, 4).all() and len(per_grid) == len(grids)
    assert members.groupby("member_id")["phone"].nunique().eq(1).all()
    assert members.drop_duplicates("member_id")["phone"].is_unique


def test_service_centres_inside_their_community(out):
    centres = _read(out, "service_centres.geojson")
    comms = _read(out, "communities.geojson").set_index("code")
    assert len(centres) == 22 and centres["community_code"].is_unique
    for _, c in centres.iterrows():
        community = comms.loc[c["community_code"]]
        assert bool(community["urban"]) and community.geometry.contains(c.geometry)


def test_eight_renovation_sites_in_urban_communities(out):
    sites = _read(out, "renovation_sites.geojson")
    comms = _read(out, "communities.geojson").set_index("code")
    assert len(sites) == 8 and sites["name"].is_unique
    for _, s in sites.iterrows():
        assert comms.loc[s["community_code"]].geometry.contains(s.geometry)
    hectares = sites.to_crs(METRIC).area / 1e4
    assert hectares.between(1, 8).all()
