"""The planner's results become actions: one coverage service for the CLI and the page (same plan, same
"cameras seeing"), grid popups and the least-covered order, the proposed sites' list and export, adoption
as a planned camera (provisional ID, ADD event, audit rows, no coverage until ON), and the MCLP against
spopt's own model."""
from __future__ import annotations

import io
import itertools
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from app.coverage import service
from app.layers_db import read_layer
from camera_registry import planned
from camera_registry.gb28181 import parse_device_id
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)
from tests.settings import TEST_SETTINGS

CENTRE = TEST_SETTINGS.camera_centre_code


def _plan(client, k):
    r = client.get("/api/coverage/plan", query_string={"k": k})
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.get_json()


def _adopt(client, token, site, **extra):
    return client.post("/api/coverage/planned", json={"lon": site["lon"], "lat": site["lat"], **extra},
                       headers={"X-CSRF-Token": token})


def _audit(s, device_id):
    return s.execute(text("SELECT action, actor, before, after FROM audit_log WHERE object_type = 'camera' "
                          "AND object_id = :d ORDER BY id"), {"d": device_id}).all()


# -- one service: the CLI and the page agree --------------------------------------------------------
def test_cli_and_page_give_the_same_plan(cli, client, lead_grid, demo_db, tmp_path):
    out = tmp_path / "sites.csv"
    res = cli(demo_db, "coverage", "plan", "--add", "4", "--out", str(out))
    assert res.exit_code == 0, res.output
    by_cli = pd.read_csv(out, dtype={"code": str})
    login(client, "planner")
    page = _plan(client, 4)
    by_page = pd.DataFrame(page["sites"])
    assert len(by_cli) == len(by_page) == 4
    assert np.allclose(by_cli[["lon", "lat"]].to_numpy(), by_page[["lon", "lat"]].to_numpy(), atol=1e-6)
    assert np.allclose(by_cli["gain"], by_page["gain"], atol=0.01)
    assert list(by_cli["code"]) == list(by_page["code"])
    # the shares the CLI prints are the page's
    assert f"{100 * page['share_before']:.1f}% → {100 * page['share_after']:.1f}%" in res.output
    # demand is the category weight of the last year's non-voided incidents, for both
    with demo_db.Session() as s:
        weight = s.execute(text(
            "SELECT sum(coalesce(k.weight, 1)) FROM incidents i LEFT JOIN categories k ON k.code = i.category_code "
            "WHERE i.state <> 'voided' AND i.reported_at >= (SELECT max(reported_at) FROM incidents) - "
            "interval '365 days'")).scalar()
    assert page["total_incidents"] == pytest.approx(float(weight), abs=0.01)


def _cli_seen(cli, db, lon, lat) -> list[str]:
    res = cli(db, "coverage", "sees", f"{lon:.7f}", f"{lat:.7f}")
    assert res.exit_code == 0, res.output
    return [ln.split()[0] for ln in res.output.splitlines() if re.match(r"^\d{20} ", ln)]


def test_cli_and_page_see_the_same_cameras(cli, client, lead_grid, demo_db):
    login(client, "planner")
    with demo_db.Session() as s:
        cams = read_layer(s, "cameras", where="status = 'ON'")
        off = read_layer(s, "cameras", where="status <> 'ON'")
    from gis.coverage import view_sectors

    spots = [view_sectors(cams.iloc[[i]]).iloc[0].representative_point() for i in range(0, len(cams), 60)]
    spots += [shapely.Point(g.x, g.y) for g in off.geometry[:2]]  # an offline camera's own spot
    rng = np.random.default_rng(13)
    x0, y0, x1, y1 = cams.total_bounds
    spots += [shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1)) for _ in range(4)]
    nonempty = 0
    for p in spots:
        page = client.get("/api/cameras/seeing", query_string={"lon": f"{p.x:.7f}", "lat": f"{p.y:.7f}"}).get_json()
        got = [c["device_id"] for c in page["cameras"]]
        assert got == _cli_seen(cli, demo_db, p.x, p.y), (p.x, p.y)
        assert len(page["cones"]["features"]) == len(got)
        nonempty += bool(got)
    assert nonempty >= len(spots) // 2
    # and the service is exact: the spatially prefiltered read agrees with gis.coverage over every camera
    from gis.coverage import cameras_seeing

    with demo_db.Session() as s:
        for p in spots:
            fast = service.cameras_seeing(s, p.x, p.y)
            full = cameras_seeing(service.load_cameras(s), p.x, p.y)
            assert list(fast["device_id"]) == list(full["device_id"])


def test_planned_and_offline_cameras_count_for_nothing_anywhere(demo_session):
    base = service.coverage_report(demo_session, by="street")
    site = read_layer(demo_session, "grids").geometry.iloc[0].representative_point()
    cam = planned.adopt_site(demo_session, site.x, site.y, range_m=500.0, actor="t-plan", district=_district())
    again = service.coverage_report(demo_session, by="street")
    assert np.allclose(again["covered_m2"], base["covered_m2"])
    assert cam.device_id not in set(service.cameras_seeing(demo_session, site.x, site.y)["device_id"])
    assert cam.device_id not in set(read_layer(demo_session, "cameras")["device_id"])


def _district():
    from app.config import district_of

    return district_of(TEST_SETTINGS)


# -- the page: popups, the least-covered order ------------------------------------------------------
def test_grid_popups_and_least_covered_order(client, lead_grid, demo_session):
    login(client, "planner")
    r = client.get("/dashboard/planner")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    rep = service.coverage_report(demo_session, by="grid")
    counts = dict(demo_session.execute(text("SELECT grid_code, count(*) FROM cameras WHERE lifecycle = 'active' "
                                            "GROUP BY grid_code")).all())
    # the choropleth's features carry name, coverage %, camera count and incidents out of view
    row = rep.sort_values("ratio").iloc[-1]
    props = re.search(r'"properties":(\{"code":"%s"[^{}]*\})' % row["code"], html)
    assert props, "the grid's feature is not in the page"
    got = json.loads(props.group(1))
    assert got["name"] == row["name"] and got["cameras"] == counts.get(row["code"], 0) > 0
    assert got["ratio_pct"] == pytest.approx(round(row["ratio"] * 100, 1))
    assert got["unseen_incidents"] == int(row["unseen_incidents"])
    # the table: lowest ratio, then most incidents out of view, then the largest area (an oracle by hand)
    shown = re.findall(r'<tr data-code="(\d{15})">', html)
    recs = sorted(rep.to_dict("records"), key=lambda g: (round(g["ratio"], 6), -g["unseen_incidents"],
                                                         -g["area_m2"], g["code"]))
    assert shown == [g["code"] for g in recs[:15]]
    zero = [g for g in recs[:15] if g["ratio"] == 0]
    assert len(zero) > 1 and len({g["unseen_incidents"] for g in zero}) > 1  # the tie is really broken


# -- the list and its export -------------------------------------------------------------------------
def test_sites_list_has_both_coordinates_and_exports_the_plan_shown(client, lead_grid, settings):
    login(client, "planner")
    plan = _plan(client, 3)
    sites = plan["sites"]
    assert [s["rank"] for s in sites] == [1, 2, 3] and all(s["gain"] > 0 for s in sites)
    assert all(len(s["code"]) == 15 and s["grid_name"] for s in sites)
    # on the OSM basemap the map shows WGS-84 itself
    assert all(s["lon"] == s["display_lon"] and s["lat"] == s["display_lat"] for s in sites)
    assert plan["points"]["features"][0]["geometry"]["coordinates"] == pytest.approx([sites[0]["lon"], sites[0]["lat"]])
    r = client.get("/dashboard/planner/plan.csv", query_string={"k": 3, "basis": plan["basis"]})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    table = pd.read_csv(io.BytesIO(r.data), dtype={"code": str}, encoding="utf-8-sig")
    assert list(table["rank"]) == [1, 2, 3]
    assert np.allclose(table[["lon", "lat", "gain"]].to_numpy(), pd.DataFrame(sites)[["lon", "lat", "gain"]].to_numpy())
    r = client.get("/dashboard/planner/plan.gpkg", query_string={"k": 3, "basis": plan["basis"]})
    assert r.status_code == 200
    layer = gpd.read_file(io.BytesIO(r.data), layer="proposed_sites")
    assert layer.crs.to_epsg() == 4326 and np.allclose(layer.geometry.x, table["lon"])
    # data changed since the plan was shown: a conflict naming both bases, no file
    stale = "0" * 16
    r = client.get("/dashboard/planner/plan.csv", query_string={"k": 3, "basis": stale})
    assert r.status_code == 409 and stale in r.get_data(as_text=True) and plan["basis"] in r.get_data(as_text=True)
    for query, field in (({"k": 0, "basis": plan["basis"]}, "k"), ({"k": 3, "basis": "x'; drop"}, "basis"),
                         ({"k": "3.5", "basis": plan["basis"]}, "k"),
                         ({"k": 3}, "basis")):  # an export without the plan's basis is never checked: refused
        r = client.get("/dashboard/planner/plan.csv", query_string=query, headers={"Accept": "application/json"})
        assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == [field], query
    assert client.get("/dashboard/planner/plan.xlsx").status_code == 422
    assert client.get("/api/coverage/plan", query_string={"k": 51}).status_code == 422


def test_plan_basis_follows_what_a_plan_reads(demo_session):
    before = service.plan_basis(demo_session)
    demo_session.execute(text("UPDATE incidents SET state = state, updated_at = now() WHERE id = "
                              "(SELECT min(id) FROM incidents)"))
    assert service.plan_basis(demo_session) == before  # touching an incident's workflow changes no plan
    demo_session.execute(text("UPDATE cameras SET status = 'OFF' WHERE device_id = (SELECT min(device_id) FROM "
                              "cameras WHERE status = 'ON')"))
    assert service.plan_basis(demo_session) != before


# -- adoption ------------------------------------------------------------------------------------------
def test_adopt_a_site_as_a_planned_camera(client, lead_grid, demo_db):
    login(client, "planner")
    token = csrf(client, "/dashboard/planner")
    site = _plan(client, 2)["sites"][0]
    r = _adopt(client, token, site, rank=1, gain=site["gain"])
    assert r.status_code == 201, r.get_data(as_text=True)
    cam = r.get_json()
    did = cam["device_id"]
    assert did.startswith(planned.provisional_prefix(CENTRE)) and planned.is_provisional(did, CENTRE)
    parse_device_id(did, CENTRE)  # well formed, of the district's centre
    assert cam["lifecycle"] == "planned" and cam["ptz_type"] == 1 and cam["fov"] == 360
    assert (cam["lon"], cam["lat"]) == pytest.approx((site["lon"], site["lat"]))
    assert cam["grid_code"] == site["code"]
    with demo_db.Session() as s:
        events = s.execute(text("SELECT event, actor, note FROM camera_events WHERE device_id = :d"), {"d": did}).all()
        assert [(e.event, e.actor) for e in events] == [("ADD", "planner")] and "site 1" in events[0].note
        rows = _audit(s, did)
        assert [(a.action, a.actor) for a in rows] == [("insert", "planner")]
        assert rows[0].after["lifecycle"] == "planned" and rows[0].after["device_id"] == did
        assert did in set(read_layer(s, "planned-cameras")["device_id"])
        assert did not in set(read_layer(s, "cameras")["device_id"])
    # the same site again: a conflict naming the camera; nothing written
    r = _adopt(client, token, site)
    assert r.status_code == 409 and did in r.get_json()["message"]
    # the planner map shows it as its own layer
    html = client.get("/dashboard/planner").get_data(as_text=True)
    assert did in html and "规划摄像头" in html
    assert re.search(r'id="gw-planned-count">(\d+)<', html).group(1) == "1"
    # the next adoption takes the next provisional serial
    other = _adopt(client, token, _plan(client, 2)["sites"][1]).get_json()
    assert int(other["device_id"][-6:]) == int(did[-6:]) + 1


def test_an_adopted_site_is_not_proposed_again(client, lead_grid, demo_db):
    login(client, "planner")
    token = csrf(client, "/dashboard/planner")
    first = _plan(client, 3)
    r = _adopt(client, token, first["sites"][0], rank=1)
    assert r.status_code == 201, r.get_data(as_text=True)
    did = r.get_json()["device_id"]
    again = _plan(client, 3)
    assert again["basis"] != first["basis"]  # an export of the plan shown before is stale now
    with demo_db.Session() as s:  # PostGIS, geodesic: no proposed site within the same-site distance of it
        near = [s.execute(text(
            "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) FROM cameras "
            "WHERE device_id = :d"), {"x": site["lon"], "y": site["lat"], "d": did}).scalar()
            for site in again["sites"]]
        assert min(near) > planned.SAME_SITE_M
        # the candidates are the crossings less exactly those a planned camera stands on
        all_sites, dem, existing, grids = service._plan_inputs(s, "incidents", False, service.DEMAND_DAYS)
        crossings = service.candidate_sites(s)
        on_planned = sum(bool(s.execute(text(
            "SELECT EXISTS (SELECT 1 FROM cameras WHERE lifecycle = 'planned' AND ST_Distance(geom::geography, "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) <= :r)"),
            {"x": p.x, "y": p.y, "r": planned.SAME_SITE_M}).scalar()) for p in crossings.geometry)
        assert on_planned >= 1 and len(all_sites) == len(crossings) - on_planned
    # the plan's new first site is free: adopting it is no conflict
    r = _adopt(client, token, again["sites"][0])
    assert r.status_code == 201, r.get_data(as_text=True)


@pytest.mark.parametrize("account,status", [("operator", 403), ("member", 403), ("lead", 403), ("admin", 201)])
def test_who_may_adopt(client, lead_grid, demo_session, account, status):
    login(client, account)
    token = csrf(client, "/dashboard/stats")
    site = read_layer(demo_session, "grids").geometry.iloc[5].representative_point()
    r = _adopt(client, token, {"lon": site.x, "lat": site.y})
    assert r.status_code == status, r.get_data(as_text=True)
    if status == 403:
        assert "camera.plan" in r.get_json()["message"]
    else:
        assert _audit(demo_session, r.get_json()["device_id"])[0].actor == "admin"


@pytest.mark.parametrize("body,field", [
    ({"lon": "east", "lat": 29.36}, "lon"), ({"lon": 104.77}, "lat"), ({"lon": 104.77, "lat": 91}, "lat"),
    ({"lon": 120.0, "lat": 30.0}, "lon/lat"), ({"lon": 104.77, "lat": 29.36, "name": "x" * 101}, "name"),
    ({"lon": 104.77, "lat": 29.36, "rank": 0}, "rank"), ([1, 2], "body")])
def test_adopt_names_the_bad_field(client, lead_grid, body, field):
    login(client, "planner")
    token = csrf(client, "/dashboard/planner")
    r = client.post("/api/coverage/planned", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert field in {e["field"] for e in r.get_json().get("errors", [])}


def test_adopting_a_site_within_the_spacing_of_a_camera_is_a_422(client, lead_grid, demo_db, settings):
    """The planner's adoption checks the registry's minimum spacing as the camera API and the importer do
    (``app.loaders.registry_options``)."""
    with demo_db.Session() as s:
        did, lon, lat = s.execute(text("SELECT device_id, ST_X(geom), ST_Y(geom) FROM cameras "
                                       "WHERE lifecycle = 'active' ORDER BY device_id LIMIT 1")).one()
        before = s.execute(text("SELECT count(*) FROM cameras")).scalar()
    east = settings.camera_min_spacing_m / 2 / (111_320.0 * np.cos(np.radians(lat)))
    login(client, "planner")
    r = _adopt(client, csrf(client, "/dashboard/planner"), {"lon": lon + east, "lat": lat})
    assert r.status_code == 422, r.get_data(as_text=True)
    (err,) = r.get_json()["errors"]
    assert err["field"] == "lon/lat" and did in err["reason"] and "probable duplicate" in err["reason"]
    with demo_db.Session() as s:
        assert s.execute(text("SELECT count(*) FROM cameras")).scalar() == before


def test_adopt_needs_the_csrf_token(client, lead_grid):
    login(client, "planner")
    r = client.post("/api/coverage/planned", json={"lon": 104.77, "lat": 29.36})
    assert r.status_code == 400 and "csrf" in r.get_data(as_text=True).lower()


def test_drop_replace_and_commission(client, lead_grid, demo_db, demo_session):
    from camera_registry import history

    login(client, "planner")
    token = csrf(client, "/dashboard/planner")
    sites = _plan(client, 3)["sites"]
    a = _adopt(client, token, sites[0]).get_json()
    b = _adopt(client, token, sites[1]).get_json()
    # drop: stale version is a conflict, then retired with the reason
    url = f"/api/coverage/planned/{a['device_id']}/drop"
    r = client.post(url, json={"reason": "site moved", "version": a["version"] + 5}, headers={"X-CSRF-Token": token})
    assert r.status_code == 409
    r = client.post(url, json={"version": a["version"]}, headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and "reason" in r.get_data(as_text=True)
    r = client.post(url, json={"reason": "site moved", "version": a["version"]}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.get_json()["lifecycle"] == "retired"
    assert client.post(url, json={"reason": "again", "version": r.get_json()["version"]},
                       headers={"X-CSRF-Token": token}).status_code == 409  # no longer planned
    assert client.post("/api/coverage/planned/1/drop", json={"reason": "x", "version": 1},
                       headers={"X-CSRF-Token": token}).status_code == 404
    real = demo_session.execute(text("SELECT min(device_id) FROM cameras WHERE lifecycle = 'active'")).scalar()
    assert client.post(f"/api/coverage/planned/{real}/drop", json={"reason": "x", "version": 1},
                       headers={"X-CSRF-Token": token}).status_code == 409  # a built camera is not the planner's
    with demo_db.Session() as s:
        audit = _audit(s, a["device_id"])
        assert [r.action for r in audit] == ["insert", "update"] and audit[1].after["lifecycle"] == "retired"
        # installed: the real ID replaces the provisional one, history and all; ON commissions it
        district = _district()
        new_id = f"{CENTRE}001320123456"
        with pytest.raises(Exception, match="provisional"):
            planned.replace_provisional_id(s, b["device_id"], planned.provisional_prefix(CENTRE) + "995000",
                                           actor="t-admin", district=district)
        cam = planned.replace_provisional_id(s, b["device_id"], new_id, actor="t-admin", district=district)
        assert cam.device_id == new_id and cam.lifecycle == "planned"
        assert [e.event for e in history.events(s, new_id)] == ["ADD", "UPDATE"]
        assert not history.events(s, b["device_id"])
        history.set_status(s, new_id, "ON", "t-admin", "installed")
        s.commit()
        assert new_id in set(read_layer(s, "cameras")["device_id"])
        assert new_id in set(service.cameras_seeing(s, sites[1]["lon"], sites[1]["lat"])["device_id"])
        moved = s.execute(text("SELECT before, after FROM audit_log WHERE object_type = 'camera' AND action = 'update' "
                               "AND (before->>'device_id') = :d"), {"d": b["device_id"]}).one()
        assert moved.after["device_id"] == new_id


def test_provisional_ids_never_reused_and_run_out(demo_session):
    d = _district()
    site = read_layer(demo_session, "grids").geometry.iloc[3].representative_point()
    first = planned.adopt_site(demo_session, site.x, site.y, range_m=100.0, actor="t", district=d)
    from camera_registry import history

    history.retire_camera(demo_session, first.device_id, "t", "dropped")
    nxt = planned.next_provisional_id(demo_session, CENTRE)
    assert int(nxt[-6:]) == int(first.device_id[-6:]) + 1  # the retired one keeps its serial
    demo_session.execute(text("UPDATE cameras SET device_id = :top WHERE device_id = :d"),
                         {"top": planned.provisional_prefix(CENTRE) + "999999", "d": first.device_id})
    from gis.errors import Conflict

    with pytest.raises(Conflict, match="taken"):
        planned.next_provisional_id(demo_session, CENTRE)
    assert not planned.is_provisional(f"{CENTRE}001320000001", CENTRE)
    assert not planned.is_provisional(planned.provisional_prefix(CENTRE) + "989999", CENTRE)


# -- the model: the same optimum as spopt's MCLP ----------------------------------------------------
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_mclp_optimum_equals_spopts(seed):
    """gis.placement writes the MCLP in PuLP directly (spopt's import cost seconds per worker); its optimum
    equals spopt's own MCLP on the same instance, and an exhaustive search."""
    from spopt.locate import MCLP

    from gis import placement
    from gis.crs import METRIC_CRS

    rng = np.random.default_rng(seed)
    cand, dem = rng.uniform(0, 500, (12, 2)), rng.uniform(0, 500, (60, 2))
    w = rng.integers(1, 9, len(dem)).astype(float)
    to4326 = lambda xy: gpd.GeoSeries(shapely.points(xy + [478600.0, 3250300.0]), crs=METRIC_CRS).to_crs(4326)  # noqa
    cost = np.hypot(*(dem[:, None, :] - cand[None, :, :]).transpose(2, 0, 1))
    for k in (2, 4):
        ours = placement.plan_sites(gpd.GeoDataFrame(geometry=to4326(cand)),
                                    gpd.GeoDataFrame({"weight": w}, geometry=to4326(dem)), k, range_m=120.0)
        ref = MCLP.from_cost_matrix(cost, w, service_radius=120.0, p_facilities=k)
        import pulp

        ref.solve(pulp.PULP_CBC_CMD(msg=False))
        best = max(w[(cost[:, list(c)] <= 120.0).any(axis=1)].sum() for c in itertools.combinations(range(12), k))
        assert ours.new_demand == pytest.approx(float(pulp.value(ref.problem.objective))) == pytest.approx(best)
