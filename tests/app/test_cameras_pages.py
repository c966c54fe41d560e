"""The camera pages (app/cameras/views.py): the list and its map data against SQL, a camera's page (Chinese field
names, code names, the history with what changed and who), what each role is offered, the forms."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import text

from camera_registry.schema import FIELDS
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (lead_grid: a fixture)
from tests.app.dash_helpers import page_data as _data



def _q(demo_db, sql, **params):
    with demo_db.Session() as s:
        return s.execute(text(sql), params).all()


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-id="([0-9]{20})">', html)


def test_the_list_shows_the_selection_its_count_and_a_map_of_all_of_it(client, lead_grid, demo_db):
    login(client, "operator")
    expected = [r[0] for r in _q(demo_db, "SELECT device_id FROM cameras WHERE programme = 'skynet' AND status = 'ON' "
                                          "AND lifecycle <> 'retired' ORDER BY name, device_id")]
    r = client.get("/cameras", query_string={"programme": "skynet", "status": "ON", "sort": "name", "page": 2})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert _rows(html) == expected[50:100]
    assert f'data-total="{len(expected)}"' in html and f"共 {len(expected)} 台" in html
    data = _data(html)["cameras"]
    assert sorted(m[0] for m in data["markers"]) == sorted(expected) and not data["truncated"]
    assert {m[2] for m in data["markers"]} == {"ON"}
    # the links keep the filters: the next page, and sorting by another column starts again at page 1
    nxt = unescape(re.search(r'href="([^"]+)" id="cam-next"', html).group(1))
    assert "programme=skynet" in nxt and "status=ON" in nxt and "page=3" in nxt and "sort=name" in nxt
    by_id = unescape(re.search(r'href="([^"]*sort=device_id[^"]*)"', html).group(1))
    assert "page=1" in by_id and "programme=skynet" in by_id
    desc = unescape(re.search(r'href="([^"]*sort=-name[^"]*)"', html).group(1))  # the sorted column turns
    assert "page=1" in desc


def test_the_list_shows_codes_by_their_names(client, lead_grid, demo_db):
    login(client, "planner")
    html = client.get("/cameras", query_string={"programme": "xueliang"}).get_data(as_text=True)
    assert "雪亮工程" in html or "雪亮" in html
    assert ">xueliang<" not in html
    assert "在线" in html  # a status by its name


def test_a_camera_page_names_every_field_in_chinese_and_shows_the_history(client, lead_grid, demo_db):
    did = _q(demo_db, "SELECT device_id FROM cameras WHERE programme = 'skynet' ORDER BY device_id LIMIT 1")[0][0]
    login(client, "admin")
    token = csrf(client, "/cameras")
    v = client.get(f"/api/cameras/{did}").get_json()["version"]
    old = client.get(f"/api/cameras/{did}").get_json()["azimuth"]
    assert client.patch(f"/api/cameras/{did}", json={"version": v, "azimuth": 12.5},
                        headers={"X-CSRF-Token": token}).status_code == 200
    html = client.get(f"/cameras/{did}").get_data(as_text=True)
    for f in FIELDS:
        assert f"<th>{f.zh}</th>" in html, f.name
    assert "天网工程" in html or "天网" in html
    assert '<div id="gw-live-view"></div>' in html
    timeline = html[html.index('id="cam-timeline"'):]
    first = timeline[:timeline.index("</li>")]
    assert "修改" in first and "admin" in first
    assert f'data-field="azimuth">方位角：{"—" if old is None else old} → 12.5</div>' in first
    assert _data(html)["camera"]["version"] == v + 1 and _data(html)["camera"]["azimuth"] == 12.5


@pytest.mark.parametrize("account, edit, status, retire", [
    ("admin", True, True, True), ("operator", False, True, False), ("planner", True, False, False),
])
def test_each_role_is_offered_what_it_may_do(client, lead_grid, demo_db, account, edit, status, retire):
    did = _q(demo_db, "SELECT device_id FROM cameras WHERE lifecycle = 'active' ORDER BY device_id LIMIT 1")[0][0]
    login(client, account)
    html = client.get(f"/cameras/{did}").get_data(as_text=True)
    assert ('id="cam-edit"' in html) is edit
    assert ('id="cam-status-form"' in html) is status
    assert ('id="cam-retire-form"' in html) is retire
    editable = _data(html)["camera"]["editable"]
    assert ("azimuth" in editable) is edit and ("name" in editable) is (account == "admin")
    r = client.get(f"/cameras/{did}/edit")
    assert r.status_code == (200 if edit else 403)
    if account == "planner":  # the record's fields are shown, not editable
        form = r.get_data(as_text=True)
        assert re.search(r'id="cam-f-name"[^>]*disabled', form)
        assert not re.search(r'id="cam-f-azimuth"[^>]*disabled', form)


def test_a_field_role_sees_its_grids_cameras_and_no_action(client, lead_grid, demo_db):
    mine = _q(demo_db, "SELECT device_id FROM cameras WHERE grid_code = :g AND lifecycle <> 'retired' "
                       "ORDER BY device_id", g=lead_grid)
    login(client, "member")
    html = client.get("/cameras").get_data(as_text=True)
    assert _rows(html) == [r[0] for r in mine][:50]
    grids = re.findall(r'<option value="([0-9]{15})"', html)
    assert grids and all(g == lead_grid for g in grids) or not mine
    if mine:
        page = client.get(f"/cameras/{mine[0][0]}").get_data(as_text=True)
        assert 'id="cam-status-form"' not in page and 'id="cam-edit"' not in page


def test_names_from_files_are_escaped(client, lead_grid, demo_db):
    did = _q(demo_db, "SELECT device_id FROM cameras ORDER BY device_id LIMIT 1")[0][0]
    with demo_db.Session() as s:
        s.execute(text("UPDATE cameras SET name = :n WHERE device_id = :d"), {"n": "<script>x()</script>", "d": did})
        s.commit()
    login(client, "admin")
    for path in ("/cameras", f"/cameras/{did}", f"/cameras/{did}/edit"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>x()" not in html and "&lt;script&gt;x()" in html


def test_a_retired_camera_is_shown_read_only(client, lead_grid, demo_db):
    did = _q(demo_db, "SELECT device_id FROM cameras ORDER BY device_id DESC LIMIT 1")[0][0]
    login(client, "admin")
    v = client.get(f"/api/cameras/{did}").get_json()["version"]
    assert client.post(f"/api/cameras/{did}/retire", json={"reason": "拆除", "version": v},
                       headers={"X-CSRF-Token": csrf(client, "/cameras")}).status_code == 200
    html = client.get(f"/cameras/{did}").get_data(as_text=True)
    assert 'id="cam-retired"' in html and "已退役" in html
    assert "cam-status-form" not in html and "cam-retire-form" not in html and 'id="cam-edit"' not in html
    assert 'data-event="DEL"' in html and "拆除" in html
    assert client.get(f"/cameras/{did}/edit").status_code == 403
    assert did not in _rows(client.get("/cameras").get_data(as_text=True))
    assert did in _rows(client.get("/cameras", query_string={"lifecycle": "retired"}).get_data(as_text=True))


def test_the_add_form_offers_every_field(client, lead_grid):
    login(client, "admin")
    html = client.get("/cameras/new").get_data(as_text=True)
    for name in ("device_id", "name", "lon", "lat", "azimuth", "programme", "status"):
        assert f'id="cam-f-{name}"' in html
    assert "disabled" not in re.sub(r"<button[^>]*>", "", html.split('id="cam-edit-form"')[1].split("</form>")[0])


def test_every_camera_route_checks_a_capability(app):
    from app.accounts.capabilities import CAPABILITIES

    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("cameras."):
            cap = getattr(app.view_functions[rule.endpoint], "required_capability", None)
            assert cap in CAPABILITIES, rule.endpoint
