"""The field report (/report, issue 12): who may use it, every field checked into a 422 naming it, the grid
under a pin against PostGIS, nearby open incidents scoped to what the user sees, adding a report to one of
them, photos in the same transaction, and exactly-once: a replayed key writes nothing, and racing sends of
one key end with one incident."""
from __future__ import annotations

import io
import threading
import uuid

import numpy as np
import pytest
from pyproj import Geod
from sqlalchemy import text

from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)

JSON = {"Accept": "application/json"}
GEOD = Geod(ellps="WGS84")


def _key() -> str:
    return str(uuid.uuid4())


def _fields(r) -> set:
    return {e["field"] for e in (r.get_json() or {}).get("errors", [])}


def _counts(s) -> tuple[int, int, int]:
    return s.execute(text("SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM incident_events), "
                          "(SELECT count(*) FROM incident_photos)")).one()


def _inside(s, grid: str) -> tuple[float, float]:
    return tuple(s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                                "WHERE code = :g) q"), {"g": grid}).one())


def _category(s) -> str:
    return s.execute(text("SELECT min(code) FROM categories")).scalar()


def _jpeg(size=(40, 30), colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def field(client, demo_session, lead_grid):
    """A logged-in client factory, the member's grid, a spot inside it and a category."""
    def as_(account: str):
        login(client, account)
        return csrf(client, "/report")

    lon, lat = _inside(demo_session, lead_grid)
    return {"as": as_, "grid": lead_grid, "lon": lon, "lat": lat, "category": _category(demo_session)}


def _post(client, token, **fields):
    headers = {**JSON, "X-CSRF-Token": token}
    files = fields.pop("photos", None)
    data = {k: v for k, v in fields.items() if v is not None}
    if files:
        data["photos"] = [(io.BytesIO(b), name) for name, b in files]
    return client.post("/report", data=data, headers=headers, content_type="multipart/form-data")


def _report(field, **extra):
    out = {"idempotency_key": _key(), "category": field["category"], "description": "路灯不亮", "lon": field["lon"],
           "lat": field["lat"]}
    out.update(extra)
    return out


# -- the page ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("account, status", [("member", 200), ("lead", 200), ("operator", 200), ("admin", 200),
                                             ("planner", 403)])
def test_the_form_is_for_the_roles_that_report(client, lead_grid, account, status):
    login(client, account)
    r = client.get("/report")
    assert r.status_code == status
    if status == 200:
        html = r.get_data(as_text=True)
        assert 'capture="environment"' in html and 'accept="image/*"' in html and 'name="idempotency_key"' in html
        assert 'id="gw-page"' in html and "js/report.js" in html


def test_anonymous_is_sent_to_log_in(client):
    r = client.get("/report")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/api/grids/at?lon=104.77&lat=29.36").status_code == 401


def test_operator_chooses_the_source_by_name_and_the_member_does_not(client, lead_grid):
    login(client, "operator")
    html = client.get("/report").get_data(as_text=True)
    from app.labels import label

    assert 'name="source"' in html and f'value="hotline" selected>{label("source", "hotline")}<' in html
    assert 'name="reporter_phone"' in html
    client.post("/logout", data={"csrf_token": csrf(client, "/report")})
    login(client, "member")
    html = client.get("/report").get_data(as_text=True)
    assert 'name="source"' not in html and 'name="reporter_phone"' not in html


def test_category_names_follow_the_language(client, demo_session, lead_grid):
    zh, en = demo_session.execute(text("SELECT name_zh, name_en FROM categories ORDER BY code LIMIT 1")).one()
    login(client, "member")
    assert f">{zh}</option>" in client.get("/report").get_data(as_text=True)
    assert f">{en}</option>" in client.get("/report?lang=en").get_data(as_text=True)


def test_the_service_worker_may_control_the_form(client, lead_grid):
    login(client, "member")
    r = client.get("/report/sw.js")
    assert r.status_code == 200 and r.headers["Service-Worker-Allowed"] == "/report"
    assert "javascript" in r.mimetype and "no-cache" in r.headers["Cache-Control"]
    assert "addEventListener('fetch'" in r.get_data(as_text=True)


# -- sending ----------------------------------------------------------------------------------------
def test_a_member_report_lands_in_the_grid_postgis_says(client, demo_session, field):
    token = field["as"]("member")
    before = _counts(demo_session)
    r = _post(client, token, **_report(field))
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["replayed"] is False and body["joined"] is False and body["state"] == "reported"
    want = demo_session.execute(text("SELECT code FROM grids WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(:x, :y), "
                                     "4326))"), {"x": field["lon"], "y": field["lat"]}).scalar()
    row = demo_session.execute(text(
        "SELECT grid_code, source, state, description, idempotency_key, ST_X(geom), ST_Y(geom) FROM incidents "
        "WHERE id = :i"), {"i": body["id"]}).one()
    assert row[0] == body["grid_code"] == want == field["grid"]
    assert row[1] == "patrol" and row[3] == "路灯不亮"
    assert row[5] == pytest.approx(field["lon"], abs=1e-7) and row[6] == pytest.approx(field["lat"], abs=1e-7)
    assert body["no"] == str(body["id"])
    ev = demo_session.execute(text("SELECT actor, action FROM incident_events WHERE incident_id = :i"),
                              {"i": body["id"]}).all()
    assert [tuple(e) for e in ev] == [("member", "report")]
    assert _counts(demo_session)[:2] == (before[0] + 1, before[1] + 1)


def test_a_replayed_key_answers_the_same_incident_and_writes_nothing(client, demo_session, field):
    token = field["as"]("member")
    fields = _report(field)
    first = _post(client, token, **fields)
    assert first.status_code == 201
    before = _counts(demo_session)
    # a retry after a lost answer, even with other text: the key decides
    again = _post(client, token, **{**fields, "description": "另一段文字"})
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"] and again.get_json()["replayed"] is True
    assert _counts(demo_session) == before


def test_a_key_answers_only_for_the_account_that_made_the_report(client, demo_session, field):
    """Another account sending a stored key learns nothing of that incident: 409, nothing written."""
    fields = _report(field)
    assert _post(client, field["as"]("member"), **fields).status_code == 201
    before = _counts(demo_session)
    r = _post(client, field["as"]("operator"), **fields)
    assert r.status_code == 409 and "idempotency_key" in r.get_json()["message"]
    assert "id" not in r.get_json() and _counts(demo_session) == before


def test_a_retried_addition_replays_even_after_the_incident_left_the_users_grids(client, demo_session, field,
                                                                                nearby_case):
    """The first send was stored, its answer lost, and the incident moved to another grid meanwhile: the
    retry answers with what was stored (a 404 would make the page offer to send it again as a new report)."""
    token = field["as"]("member")
    target = nearby_case["near"]
    fields = _report(field, join=str(target), description="又坏了")
    assert _post(client, token, **fields).status_code == 201
    other = demo_session.execute(text("SELECT min(code) FROM grids WHERE code <> :g"), {"g": field["grid"]}).scalar()
    demo_session.execute(text("UPDATE incidents SET grid_code = :g WHERE id = :i"), {"g": other, "i": target})
    demo_session.commit()
    before = _counts(demo_session)
    again = _post(client, token, **fields)
    assert again.status_code == 200 and again.get_json()["replayed"] is True and again.get_json()["id"] == target
    assert _counts(demo_session) == before
    # a new addition (another key) to the incident now outside the member's grids is refused as before
    assert _post(client, token, **_report(field, join=str(target), description="再加一条")).status_code == 404


def test_every_bad_field_is_named_and_nothing_is_written(client, demo_session, field):
    token = field["as"]("member")
    before = _counts(demo_session)
    r = _post(client, token)
    assert r.status_code == 422
    assert _fields(r) == {"idempotency_key", "category", "description", "lon", "lat"}
    cases = [
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"idempotency_key": "k" * 65}, "idempotency_key"),
        ({"category": "no-such-category"}, "category"),
        ({"description": "  \n "}, "description"),
        ({"description": "bad\x00text"}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"address": "a\u202eb"}, "address"),
        ({"address": "街" * 201}, "address"),
        ({"lon": "104,7"}, "lon"),
        ({"lat": "nan"}, "lat"),
        ({"lon": "１０４.７"}, "lon"),
        ({"crs": "gcj02"}, "crs"),
        ({"source": "hotline"}, "source"),            # a member's report is a patrol report
        ({"reporter_name": "张三"}, "reporter_name"),   # only the command centre records a caller
        ({"join": "0"}, "join"),
        ({"join": "abc"}, "join"),
    ]
    for change, name in cases:
        r = _post(client, token, **_report(field, **change))
        assert r.status_code == 422, (change, r.get_data(as_text=True))
        assert name in _fields(r), (change, r.get_json())
    # a spot in no grid of the district
    r = _post(client, token, **_report(field, lon=104.0, lat=29.0))
    assert r.status_code == 422 and "location" in _fields(r)
    assert _counts(demo_session) == before


def test_a_write_without_its_csrf_token_is_refused(client, demo_session, field):
    field["as"]("member")
    before = _counts(demo_session)
    r = client.post("/report", data=_report(field), headers=JSON, content_type="multipart/form-data")
    assert r.status_code == 400 and _counts(demo_session) == before


def test_the_command_centre_records_a_phone_call(client, demo_session, field):
    token = field["as"]("operator")
    r = _post(client, token, **_report(field, reporter_name="王先生", reporter_phone="13800001111"))
    assert r.status_code == 201, r.get_data(as_text=True)
    row = demo_session.execute(text("SELECT source, reporter_name, reporter_phone FROM incidents WHERE id = :i"),
                               {"i": r.get_json()["id"]}).one()
    assert tuple(row) == ("hotline", "王先生", "13800001111")   # a call unless another source is chosen
    r = _post(client, token, **_report(field, source="video"))
    assert r.status_code == 201
    assert demo_session.execute(text("SELECT source FROM incidents WHERE id = :i"),
                                {"i": r.get_json()["id"]}).scalar() == "video"
    assert "source" in _fields(_post(client, token, **_report(field, source="fax")))


def test_a_plain_form_post_goes_to_its_confirmation(client, demo_session, field):
    token = field["as"]("member")
    data = {**_report(field), "csrf_token": token}
    r = client.post("/report", data=data, content_type="multipart/form-data")
    assert r.status_code == 302
    page = client.get(r.headers["Location"])
    iid = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert page.status_code == 200 and f"事件编号 {iid}" in page.get_data(as_text=True)
    # the same form sent twice (a reload that re-posts) stores it once
    again = client.post("/report", data=data, content_type="multipart/form-data")
    assert again.headers["Location"] == r.headers["Location"]
    assert client.get("/report/sent/99999999999").status_code == 404


def test_a_confirmation_is_not_shown_to_a_grid_lead_of_another_grid(client, demo_session, field):
    other = demo_session.execute(text("SELECT min(id) FROM incidents WHERE grid_code <> :g"),
                                 {"g": field["grid"]}).scalar()
    field["as"]("member")
    assert client.get(f"/report/sent/{other}").status_code == 404


# -- the grid under the pin ---------------------------------------------------------------------------
def test_grid_at_agrees_with_postgis_on_random_points(client, demo_session, field):
    field["as"]("member")
    rng = np.random.default_rng(20250312)
    w, s, e, n = demo_session.execute(text("SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM "
                                           "(SELECT ST_Extent(geom) x FROM grids) q")).one()
    # a margin around the grids' extent, so points in no grid are asked too
    xs, ys = rng.uniform(w - 0.02, e + 0.02, 80), rng.uniform(s - 0.02, n + 0.02, 80)
    inside = outside = 0
    for x, y in zip(xs.tolist(), ys.tolist()):
        want = demo_session.execute(text(
            "SELECT g.code, g.community_code FROM grids g WHERE ST_Contains(g.geom, ST_SetSRID(ST_MakePoint(:x, :y), "
            "4326))"), {"x": float(x), "y": float(y)}).all()
        r = client.get(f"/api/grids/at?lon={x!r}&lat={y!r}")
        if want:
            assert r.status_code == 200, r.get_data(as_text=True)
            got = r.get_json()
            assert (got["code"], got["community_code"]) == tuple(want[0])
            assert got["mine"] == (got["code"] == field["grid"])
            assert got["outline"]["type"] in ("Polygon", "MultiPolygon")
            inside += 1
        else:
            assert r.status_code == 422 and _fields(r) == {"lon", "lat"}
            outside += 1
    assert inside >= 20 and outside >= 5


def test_grid_at_checks_its_parameters(client, field):
    field["as"]("lead")
    for query, name in [("lat=29.3", "lon"), ("lon=104.7", "lat"), ("lon=inf&lat=29.3", "lon"),
                        ("lon=104.7&lat=91", "lat"), ("lon=104.7&lat=29.3&crs=bd09", "crs")]:
        r = client.get(f"/api/grids/at?{query}")
        assert r.status_code == 422 and name in _fields(r), query


# -- nearby open incidents, and adding a report to one ---------------------------------------------------
def _north(lon, lat, metres):
    x, y, _ = GEOD.fwd(lon, lat, 0.0, metres)
    return x, y


@pytest.fixture
def nearby_case(demo_session, field):
    """Incidents around the member's spot: same category at 10 m (own grid), 30 m (another grid), 80 m (own
    grid, outside the 50 m radius), a closed one at 5 m, and another category at 5 m."""
    cat = field["category"]
    other_cat = demo_session.execute(text("SELECT max(code) FROM categories")).scalar()
    other_grid = demo_session.execute(text("SELECT min(code) FROM grids WHERE code <> :g"), {"g": field["grid"]}).scalar()
    demo_session.execute(text("UPDATE incidents SET state = 'closed' WHERE category_code = :c AND state IN "
                              "('reported','accepted','dispatched','in_progress','resolved')"), {"c": cat})
    made = {}
    for name, metres, grid, state, c in [("near", 10, field["grid"], "reported", cat),
                                         ("other_grid", 30, other_grid, "dispatched", cat),
                                         ("far", 80, field["grid"], "reported", cat),
                                         ("closed", 5, field["grid"], "closed", cat),
                                         ("other_cat", 5, field["grid"], "reported", other_cat)]:
        x, y = _north(field["lon"], field["lat"], metres)
        made[name] = demo_session.execute(text(
            "INSERT INTO incidents (category_code, source, description, state, grid_code, geom) VALUES "
            "(:c, 'public', :d, :st, :g, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
            {"c": c, "d": f"case {name}", "st": state, "g": grid, "x": x, "y": y}).scalar()
    demo_session.commit()
    return made


def test_nearby_offers_open_incidents_of_the_category_the_user_may_see(client, field, nearby_case):
    q = f"/api/report/nearby?category={field['category']}&lon={field['lon']!r}&lat={field['lat']!r}"
    field["as"]("member")
    got = client.get(q).get_json()["incidents"]
    assert [i["id"] for i in got] == [nearby_case["near"]]
    assert got[0]["joinable"] is True and got[0]["distance_m"] == pytest.approx(10, abs=0.5)
    client.post("/logout", data={"csrf_token": csrf(client, "/report")})
    field["as"]("operator")
    got = client.get(q).get_json()["incidents"]
    assert [i["id"] for i in got] == [nearby_case["near"], nearby_case["other_grid"]]   # nearest first
    assert all(i["joinable"] for i in got)
    assert got[1]["distance_m"] == pytest.approx(30, abs=0.5)


def test_nearby_checks_its_parameters(client, field):
    field["as"]("member")
    r = client.get(f"/api/report/nearby?lon={field['lon']}&lat={field['lat']}")
    assert r.status_code == 422 and _fields(r) == {"category"}
    r = client.get("/api/report/nearby?category=nope&lon=x")
    assert r.status_code == 422 and _fields(r) == {"category", "lon", "lat"}


def test_a_report_added_to_a_nearby_incident_is_a_comment_once(client, demo_session, field, nearby_case):
    token = field["as"]("member")
    target = nearby_case["near"]
    before = _counts(demo_session)
    fields = _report(field, join=str(target), description="井盖也松了")
    r = _post(client, token, **fields)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["id"] == target and r.get_json()["joined"] is True
    ev = demo_session.execute(text("SELECT actor, action, note FROM incident_events WHERE incident_id = :i "
                                   "ORDER BY id DESC LIMIT 1"), {"i": target}).one()
    assert tuple(ev) == ("member", "comment", "井盖也松了")
    assert _counts(demo_session)[:2] == (before[0], before[1] + 1)   # no copy opened
    again = _post(client, token, **fields)
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    assert _counts(demo_session)[:2] == (before[0], before[1] + 1)


def test_adding_to_an_incident_follows_the_permission_rule(client, demo_session, field, nearby_case):
    token = field["as"]("member")
    before = _counts(demo_session)
    # another grid's incident does not exist for a member
    assert _post(client, token, **_report(field, join=str(nearby_case["other_grid"]))).status_code == 404
    # another category: the report would land on the wrong kind of case
    r = _post(client, token, **_report(field, join=str(nearby_case["other_cat"])))
    assert r.status_code == 422 and _fields(r) == {"join"}
    assert _counts(demo_session) == before
    client.post("/logout", data={"csrf_token": token})
    token = field["as"]("operator")
    r = _post(client, token, **_report(field, join=str(nearby_case["other_grid"])))
    assert r.status_code == 201 and r.get_json()["joined"] is True


# -- racing sends of one report ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def committed(demo_copy):
    """A committed demo database of its own (racing sessions cannot share a rolled-back connection)."""
    from app.db import Database
    from app.demo import create_demo_accounts

    eng = demo_copy("field_race")
    with Database(eng).session() as s:
        grid = create_demo_accounts(s)
    db = Database(eng)
    with db.session() as s:
        lon, lat = _inside(s, grid)
        cat = _category(s)
    return {"db": db, "grid": grid, "lon": lon, "lat": lat, "category": cat}


def _race(committed, report, files=()):
    """Send ``report`` from two sessions: the first holds its transaction open while the second sends the same
    key, then commits; the second must wait for it and answer with the first's incident."""
    from app.accounts.auth import user_by_name
    from app.field import service
    from tests.settings import TEST_SETTINGS

    db, out = committed["db"], {}
    first = db.Session()
    a = service.submit(first, user_by_name(first, "member"), report, list(files), settings=TEST_SETTINGS)

    def second():
        with db.Session() as s:
            b = service.submit(s, user_by_name(s, "member"), report, list(files), settings=TEST_SETTINGS)
            out["b"] = (b.incident.id, b.replayed, b.joined)
            s.commit()

    t = threading.Thread(target=second)
    t.start()
    t.join(timeout=1.0)
    blocked = t.is_alive()          # the second send waits on the first's uncommitted report
    out["a"] = (a.incident.id, a.replayed, a.joined)
    first.commit()
    first.close()
    t.join(timeout=30)
    assert not t.is_alive()
    return blocked, out


def test_two_racing_sends_of_one_key_store_one_incident(committed):
    from app.field.service import Report

    key = _key()
    report = Report(idempotency_key=key, category=committed["category"], description="race", lon=committed["lon"],
                    lat=committed["lat"], source="patrol")
    blocked, out = _race(committed, report)
    assert blocked
    assert out["a"][1:] == (False, False) and out["b"] == (out["a"][0], True, False)
    with committed["db"].session() as s:
        assert s.execute(text("SELECT count(*) FROM incidents WHERE idempotency_key = :k"), {"k": key}).scalar() == 1
        assert s.execute(text("SELECT count(*) FROM incident_events WHERE incident_id = :i"),
                         {"i": out["a"][0]}).scalar() == 1


def test_two_racing_sends_adding_to_one_incident_comment_once(committed):
    from app.field.service import Report

    with committed["db"].session() as s:
        target = s.execute(text(
            "INSERT INTO incidents (category_code, source, description, state, grid_code, geom) VALUES "
            "(:c, 'public', 'target', 'reported', :g, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
            {"c": committed["category"], "g": committed["grid"], "x": committed["lon"], "y": committed["lat"]}).scalar()
        s.commit()
    report = Report(idempotency_key=_key(), category=committed["category"], description="also here",
                    lon=committed["lon"], lat=committed["lat"], source="patrol", join_id=target)
    blocked, out = _race(committed, report)
    assert blocked and out["a"] == (target, False, True) and out["b"] == (target, True, True)
    with committed["db"].session() as s:
        assert s.execute(text("SELECT count(*) FROM incident_events WHERE incident_id = :i AND action = 'comment'"),
                         {"i": target}).scalar() == 1


def test_parallel_posts_of_one_key_through_a_real_server_make_one_incident(committed, tmp_path):
    """Eight clients send the same report at the same moment to a threaded server: one incident, one 201."""
    import requests
    from werkzeug.serving import make_server

    from app import create_app
    from app.config import Settings
    from app.demo import DEMO_ACCOUNTS
    from tests.app.dash_helpers import TOKEN

    settings = Settings({"var_dir": str(tmp_path / "var"), "secret_key": "race-secret"}, environ={},
                        config_file=tmp_path / "none.toml")
    server = make_server("127.0.0.1", 0, create_app(settings, database=committed["db"]), threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        web = requests.Session()
        token = TOKEN.search(web.get(base + "/login").text).group(1)
        web.post(base + "/login", data={"username": "member", "password": DEMO_ACCOUNTS["member"][1],
                                        "csrf_token": token}, allow_redirects=False)
        token = TOKEN.search(web.get(base + "/report").text).group(1)
        key, gate, answers = _key(), threading.Barrier(8), []
        data = {"idempotency_key": key, "category": committed["category"], "description": "parallel",
                "lon": repr(committed["lon"]), "lat": repr(committed["lat"])}

        def send():
            gate.wait()
            r = requests.post(base + "/report", data=data, files={"unused": ("", b"")}, cookies=web.cookies,
                              headers={**JSON, "X-CSRF-Token": token}, timeout=60)
            answers.append((r.status_code, r.json()["id"]))

        threads = [threading.Thread(target=send) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
    finally:
        server.shutdown()
        serving.join(timeout=10)
    assert len(answers) == 8 and len({i for _, i in answers}) == 1
    assert sorted(code for code, _ in answers) == [200] * 7 + [201]
    with committed["db"].session() as s:
        assert s.execute(text("SELECT count(*) FROM incidents WHERE idempotency_key = :k"), {"k": key}).scalar() == 1


@pytest.mark.parametrize("account, page, shown", [("member", "/dashboard/grid", True), ("operator", "/dashboard/operator", True),
                                                  ("planner", "/dashboard/planner", False)])
def test_the_bar_links_the_form_for_the_roles_that_report(client, lead_grid, account, page, shown):
    from app.i18n import translate

    login(client, account)
    html = client.get(page).get_data(as_text=True)
    assert (f'<a href="/report" class="">{translate("field_report_link", "zh")}</a>' in html) is shown


# -- photos, in the report's transaction --------------------------------------------------------------------
def test_photos_are_stored_with_the_report_event(client, demo_session, field):
    token = field["as"]("member")
    r = _post(client, token, **_report(field, photos=[("a.jpg", _jpeg()), ("b.jpg", _jpeg((20, 50)))]))
    assert r.status_code == 201, r.get_data(as_text=True)
    iid = r.get_json()["id"]
    rows = demo_session.execute(text(
        "SELECT p.kind, p.width, p.height, e.action FROM incident_photos p JOIN incident_events e ON e.id = p.event_id "
        "WHERE p.incident_id = :i ORDER BY p.id"), {"i": iid}).all()
    assert [tuple(x) for x in rows] == [("before", 40, 30, "report"), ("before", 20, 50, "report")]


def test_a_bad_photo_refuses_the_whole_report(client, demo_session, field):
    token = field["as"]("member")
    before = _counts(demo_session)
    fields = _report(field, photos=[("a.jpg", _jpeg()), ("notes.jpg", b"not an image at all")])
    r = _post(client, token, **fields)
    assert r.status_code == 422 and "photos[1]" in _fields(r), r.get_data(as_text=True)
    assert _counts(demo_session) == before
    # fixed and sent again with the same key: stored now
    fields["photos"] = [("a.jpg", _jpeg())]
    assert _post(client, token, **fields).status_code == 201


def test_photos_added_to_a_nearby_incident_belong_to_its_comment(client, demo_session, field, nearby_case):
    token = field["as"]("member")
    r = _post(client, token, **_report(field, join=str(nearby_case["near"]), photos=[("c.jpg", _jpeg())]))
    assert r.status_code == 201, r.get_data(as_text=True)
    rows = demo_session.execute(text(
        "SELECT p.kind, e.action, e.actor FROM incident_photos p JOIN incident_events e ON e.id = p.event_id "
        "WHERE p.incident_id = :i"), {"i": nearby_case["near"]}).all()
    assert [tuple(x) for x in rows] == [("before", "comment", "member")]


def test_every_script_of_the_form_carries_the_responses_nonce(client, lead_grid):
    import re

    login(client, "member")
    r = client.get("/report")
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    html = r.get_data(as_text=True)
    tags = re.findall(r"<script\b[^>]*>", html)
    assert len(tags) >= 5 and all(f'nonce="{nonce}"' in t for t in tags)
    assert not re.search(r"\son[a-z]+=", html) and "javascript:" not in html
