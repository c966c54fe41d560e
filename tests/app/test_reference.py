"""Reference data: the seed (gridwatch reference load, load-demo), the /admin/reference API (validation naming
the field, optimistic locking with both versions, capabilities, CSRF), the audit row of every change, and the
names of the code lists reaching app.labels in this process at once and in others within REFRESH_S."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from app import labels
from app.reference import service
from data import reference
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (lead_grid: a fixture)

pytestmark = pytest.mark.usefixtures("lead_grid")


@pytest.fixture(autouse=True)
def _shipped_names():
    """A rolled-back rename must not leave its names in this process for the next test."""
    service.forget_names()
    yield
    service.forget_names()


def _token(client) -> str:
    return csrf(client, "/admin/reference")


def _api(client, method: str, path: str, body, token: str | None = None):
    headers = {"X-CSRF-Token": token if token is not None else _token(client)}
    return getattr(client, method)(path, json=body, headers=headers)


def _category(s, code):
    return service.categories(s, code)[0]


_SINCE = {"id": 0}


@pytest.fixture(autouse=True)
def _audit_since(demo_db):
    """The audit rows of this test only (the demo's seed wrote its own)."""
    with demo_db.session() as s:
        _SINCE["id"] = s.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar()


def _audit(s, object_type, object_id):
    return s.execute(text("SELECT actor, action, changed, before, after FROM audit_log WHERE object_type = :t "
                          "AND object_id = :i AND id > :since ORDER BY id"),
                     {"t": object_type, "i": object_id, "since": _SINCE["id"]}).mappings().all()


def _form(row: dict, **changes) -> dict:
    return {**{f: row[f] for f in service.CATEGORY_FIELDS}, "version": row["version"], **changes}


# ---- the seed -------------------------------------------------------------------------------------------

def test_after_the_seed_the_tables_hold_the_files_codes_and_values(demo_session):
    s = demo_session
    for kind, name in service.CODE_LISTS.items():
        stored = {r["code"]: (r["name_zh"], r["name_en"]) for r in service.code_list(s, kind)}
        assert stored == reference.names(name), kind
    stored = {r["code"]: r for r in service.categories(s)}
    for i, row in enumerate(reference.rows("categories.csv"), 2):
        want = service.check_category(dict(row), new=True, line=i)
        assert {f: stored[row["code"]][f] for f in service.CATEGORY_FIELDS} == \
            {f: want[f] for f in service.CATEGORY_FIELDS}, row["code"]


def test_load_keeps_edits_unless_overwrite_and_adds_missing_codes(demo_session):
    s = demo_session
    s.execute(text("UPDATE categories SET name_zh = '改过的名字', urgent_h = 0.25 WHERE code = 'dispute'"))
    s.execute(text("UPDATE programmes SET name_zh = '天网（公安）', updated_at = now() WHERE code = 'skynet'"))
    s.execute(text("DELETE FROM categories WHERE code = 'other' AND NOT EXISTS "
                   "(SELECT 1 FROM incidents WHERE category_code = 'other')"))
    had_other = s.execute(text("SELECT count(*) FROM categories WHERE code = 'other'")).scalar()
    counts = service.load(s)
    assert counts["categories"] == (1 - had_other, 0) and counts["programmes"] == (0, 0)
    assert _category(s, "dispute")["name_zh"] == "改过的名字" and _category(s, "dispute")["urgent_h"] == 0.25
    assert service.code_list(s, "programme", "skynet")[0]["name_zh"] == "天网（公安）"
    assert _category(s, "other")["name_zh"] == reference.names("categories.csv")["other"][0]
    counts = service.load(s, overwrite=True)
    assert counts["categories"] == (0, 1) and counts["programmes"] == (0, 1)
    assert counts["incident_sources"] == (0, 0) and counts["member_role_types"] == (0, 0)
    assert _category(s, "dispute")["name_zh"] == "矛盾纠纷" and _category(s, "dispute")["urgent_h"] == 2.0
    assert service.code_list(s, "programme", "skynet")[0]["name_zh"] == "天网"
    assert service.load(s, overwrite=True) == {t: (0, 0) for t in counts}  # nothing left to put back


def test_load_demo_does_not_undo_an_administrators_edit(demo_session):
    from pathlib import Path

    from app.demo import load_reference

    s = demo_session
    s.execute(text("UPDATE categories SET low_h = 500 WHERE code = 'dispute'"))
    n = load_reference(s, Path("unused"))
    assert n == s.execute(text("SELECT count(*) FROM categories")).scalar()
    assert _category(s, "dispute")["low_h"] == 500


def test_cli_reference_load_and_list(demo_db, cli):
    with demo_db.session() as s:
        s.execute(text("UPDATE member_role_types SET name_en = 'Team lead', updated_at = now() WHERE code = 'lead'"))
    out = cli(demo_db, "reference", "load")
    assert out.exit_code == 0, out.output
    assert "member_role_types: 0 added" in out.output
    with demo_db.session() as s:
        assert service.code_list(s, "member_role", "lead")[0]["name_en"] == "Team lead"
    out = cli(demo_db, "reference", "load", "--overwrite")
    assert out.exit_code == 0 and "member_role_types: 0 added, 1 put back" in out.output, out.output
    with demo_db.session() as s:
        assert service.code_list(s, "member_role", "lead")[0]["name_en"] == "Grid lead"
        rows = _audit(s, "member_role_type", "lead")
    assert rows[-1]["actor"].startswith("cli:") and rows[-1]["changed"] == ["name_en"]
    assert (rows[-1]["before"], rows[-1]["after"]) == ({"name_en": "Team lead"}, {"name_en": "Grid lead"})
    listed = cli(demo_db, "reference", "list")
    assert listed.exit_code == 0 and "dispute | 矛盾纠纷" in listed.output and "lead | 网格长 | Grid lead" in listed.output


def test_a_bad_seed_row_names_its_line_and_field():
    rows = [dict(r) for r in reference.rows("categories.csv")]
    rows[3]["high_h"] = "0.1"  # shorter than its urgent deadline
    with pytest.raises(Exception) as err:
        service.check_category(rows[3], new=True, line=5)
    assert [(e.line, e.field) for e in err.value.errors] == [(5, "high_h")]


# ---- the page and the API ---------------------------------------------------------------------------------

def test_the_page_shows_every_row_by_name_and_only_admins_get_inputs(app, demo_db):
    admin = app.test_client()
    login(admin, "admin")
    html = admin.get("/admin/reference", query_string={"lang": "zh"}).get_data(as_text=True)
    assert html.count('class="gw-save"') == 10 + 1 + 5 + 6 + 4  # categories, the new row, three code lists
    assert "矛盾纠纷" in html and "雪亮工程" in html and "12345热线" in html and "矛盾纠纷调解员" in html
    assert 'src="/static/js/reference.js"' in html
    planner = app.test_client()
    login(planner, "planner")
    r = planner.get("/admin/reference")
    assert r.status_code == 200 and 'class="gw-save"' not in r.get_data(as_text=True)
    assert 'id="gw-ref-readonly"' in r.get_data(as_text=True)
    for account in ("lead", "member"):
        c = app.test_client()
        login(c, account)
        assert c.get("/admin/reference").status_code == 403
        assert c.get("/api/reference").status_code == 403
    assert app.test_client().get("/admin/reference").status_code in (302, 401)


def test_edit_a_category_writes_it_and_its_audit_row(app, demo_db):
    client = app.test_client()
    login(client, "admin")
    with demo_db.session() as s:
        before = _category(s, "dispute")
    r = _api(client, "patch", "/api/reference/categories/dispute",
             _form(before, normal_h=60, sensitive=False, name_en="Disputes"))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["normal_h"] == 60 and body["sensitive"] is False and body["version"] != before["version"]
    with demo_db.session() as s:
        assert _category(s, "dispute") == body
        (row,) = _audit(s, "category", "dispute")
    assert row["actor"] == "admin" and row["action"] == "update"
    assert row["changed"] == ["name_en", "normal_h", "sensitive"]
    assert row["before"] == {"name_en": before["name_en"], "normal_h": 72, "sensitive": True}
    assert row["after"] == {"name_en": "Disputes", "normal_h": 60, "sensitive": False}
    # the same form again: nothing changes, and no audit row
    again = _api(client, "patch", "/api/reference/categories/dispute", _form(body))
    assert again.status_code == 200 and again.get_json()["version"] == body["version"]
    with demo_db.session() as s:
        assert len(_audit(s, "category", "dispute")) == 1


def test_a_stale_edit_gets_409_with_both_versions_and_writes_nothing(app, demo_db):
    client = app.test_client()
    login(client, "admin")
    with demo_db.session() as s:
        read = _category(s, "street_order")
        s.execute(text("UPDATE categories SET weight = 2.5 WHERE code = 'street_order'"))  # someone else
        stored = _category(s, "street_order")
        n = len(_audit(s, "category", "street_order"))
    r = _api(client, "patch", "/api/reference/categories/street_order", _form(read, low_h=100))
    assert r.status_code == 409
    body = r.get_json()
    assert body["current"] == stored and body["yours"]["low_h"] == 100 and body["yours"]["weight"] == read["weight"]
    with demo_db.session() as s:
        assert _category(s, "street_order") == stored and len(_audit(s, "category", "street_order")) == n
    # taking the stored version, the edit goes through
    ok = _api(client, "patch", "/api/reference/categories/street_order", _form(stored, low_h=100))
    assert ok.status_code == 200 and ok.get_json()["low_h"] == 100 and ok.get_json()["weight"] == 2.5


@pytest.mark.parametrize("change, fields", [
    ({"weight": -1}, ["weight"]), ({"weight": 0}, ["weight"]), ({"urgent_h": 0}, ["urgent_h"]),
    ({"high_h": 0.5}, ["high_h"]),                      # shorter than urgent (1 h)
    ({"normal_h": 2, "low_h": 1}, ["normal_h", "low_h"]),
    ({"low_h": 9000}, ["low_h"]), ({"low_h": "soon"}, ["low_h"]), ({"low_h": None}, ["low_h"]),
    ({"name_zh": ""}, ["name_zh"]), ({"name_en": "x" * 61}, ["name_en"]), ({"name_zh": "a\u202eb"}, ["name_zh"]),
    ({"name_zh": "突发事件"}, ["name_zh"]),              # the name of another category
    ({"sensitive": "maybe"}, ["sensitive"]), ({"colour": "red"}, ["colour"]),
    ({"version": None}, ["version"]),
])
def test_a_bad_field_is_a_422_that_names_it(app, demo_db, change, fields):
    client = app.test_client()
    login(client, "admin")
    with demo_db.session() as s:
        row = _category(s, "safety_hazard")
    r = _api(client, "patch", "/api/reference/categories/safety_hazard", _form(row, **change))
    assert r.status_code == 422, r.get_json()
    assert [e["field"] for e in r.get_json()["errors"]] == fields
    with demo_db.session() as s:
        assert _category(s, "safety_hazard") == row and not _audit(s, "category", "safety_hazard")


def test_add_a_category(app, demo_db):
    client = app.test_client()
    login(client, "admin")
    new = {"code": "noise", "name_zh": "噪声扰民", "name_en": "Noise", "weight": 1, "urgent_h": 1, "high_h": 4,
           "normal_h": 24, "low_h": 72, "sensitive": False}
    r = _api(client, "post", "/api/reference/categories", new)
    assert r.status_code == 201 and r.get_json()["code"] == "noise"
    with demo_db.session() as s:
        (row,) = _audit(s, "category", "noise")
    assert row["action"] == "insert" and row["actor"] == "admin" and row["after"]["name_zh"] == "噪声扰民"
    assert _api(client, "post", "/api/reference/categories", new).status_code == 409
    bad = _api(client, "post", "/api/reference/categories", {**new, "code": "Noise!"})
    assert bad.status_code == 422 and [e["field"] for e in bad.get_json()["errors"]] == ["code"]
    # the new category is at once one Open311 and the dashboards offer (its names come from the table)
    services = app.test_client().get("/open311/v2/services.json").get_json()
    assert {"service_code": "noise", "service_name": "噪声扰民"}.items() <= \
        next(x for x in services if x["service_code"] == "noise").items()


def test_only_reference_edit_may_change_and_csrf_is_required(app, demo_db):
    with demo_db.session() as s:
        row = _category(s, "other")
    for account in ("operator", "planner", "lead", "member"):
        c = app.test_client()
        login(c, account)
        r = _api(c, "patch", "/api/reference/categories/other", _form(row, low_h=100), token=csrf(c, "/account/password"))
        assert r.status_code == 403 and "reference.edit" in r.get_json()["message"], account
    admin = app.test_client()
    login(admin, "admin")
    assert admin.patch("/api/reference/categories/other", json=_form(row, low_h=100)).status_code == 400
    assert _api(admin, "patch", "/api/reference/categories/nope", _form(row)).status_code == 404
    assert _api(admin, "patch", "/api/reference/planets/skynet", {"version": "x"}).status_code == 404
    assert _api(admin, "patch", "/api/reference/programme/nope", {"version": "x"}).status_code == 404
    r = admin.patch("/api/reference/categories/other", data="[]", headers={"X-CSRF-Token": _token(admin),
                                                                          "Content-Type": "application/json"})
    assert r.status_code == 422
    with demo_db.session() as s:
        assert _category(s, "other") == row


# ---- the names of the code lists --------------------------------------------------------------------------

def _rename(client, kind, which, demo_db, **names):
    with demo_db.session() as s:
        row = service.code_list(s, kind, which)[0]
    return _api(client, "patch", f"/api/reference/{kind}/{which}",
                {"version": row["version"], "name_zh": row["name_zh"], "name_en": row["name_en"], **names})


def test_a_renamed_code_shows_everywhere_in_this_process_at_once(app, demo_db):
    client = app.test_client()
    login(client, "admin")
    r = _rename(client, "source", "hotline", demo_db, name_zh="市民热线12345", name_en="Citizens' hotline")
    assert r.status_code == 200 and r.get_json()["name_zh"] == "市民热线12345"
    assert labels.label("source", "hotline") == "市民热线12345"
    assert labels.label("source", "hotline", "en") == "Citizens' hotline"
    assert labels.table("zh")["source"]["hotline"] == "市民热线12345"
    page = client.get("/dashboard/operator", query_string={"lang": "zh"}).get_data(as_text=True)
    assert "市民热线12345" in page  # the page's code-name table (gw.label) carries it
    with demo_db.session() as s:
        (row,) = _audit(s, "source", "hotline")
    assert row["actor"] == "admin" and row["changed"] == ["name_en", "name_zh"]  # updated_at is not worth a row
    assert row["before"] == {"name_zh": "12345热线", "name_en": "12345 hotline"}
    bad = _rename(client, "source", "hotline", demo_db, name_zh="微信小程序")  # another source's name
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "name_zh"
    extra = _rename(client, "programme", "skynet", demo_db, code="sky")
    assert extra.status_code == 422 and extra.get_json()["errors"][0]["field"] == "code"


def test_a_rename_in_another_process_shows_here_within_the_refresh_interval(app, demo_db):
    client = app.test_client()
    login(client, "admin")
    client.get("/account/password")  # this process has read the names just now
    with demo_db.session() as s:  # another process renames
        s.execute(text("UPDATE member_role_types SET name_zh = '调解员', updated_at = now() WHERE code = 'mediator'"))
    client.get("/account/password")
    assert labels.label("member_role", "mediator") == "矛盾纠纷调解员"  # throttled: not read again yet
    service._checked_at = time.monotonic() - service.REFRESH_S - 0.1  # the interval has passed
    client.get("/account/password")
    assert labels.label("member_role", "mediator") == "调解员"
    assert labels.label("member_role", "lead") == "网格长"


def test_overlay_keeps_every_code_named():
    labels.overlay("programme", {"skynet": ("天网一期", "Skynet I"), "mars": ("火星", "Mars"), "other": ("", "")})
    assert labels.label("programme", "skynet") == "天网一期" and "mars" not in labels.LABELS["programme"]
    assert labels.label("programme", "other") == "其他"  # a blank name keeps the shipped one
    labels.overlay("programme", {})
    assert labels.LABELS["programme"] == reference.names("programmes.csv")


def test_files_and_the_health_check_never_read_the_names(app, demo_db):
    """The names are read before requests that may show them, not before static files, the map scripts
    (``/vendor/``), the favicon or the health check: those neither wait for the query nor fail with it."""
    client = app.test_client()
    login(client, "admin")
    with demo_db.session() as s:  # another process renames
        s.execute(text("UPDATE member_role_types SET name_zh = '调解员', updated_at = now() WHERE code = 'mediator'"))
    service._checked_at = time.monotonic() - service.REFRESH_S - 0.1  # the interval has passed
    for path in ("/static/js/gw.js", "/vendor/leaflet/leaflet.js", "/favicon.ico", "/healthz"):
        assert client.get(path).status_code == 200, path
        assert labels.label("member_role", "mediator") == "矛盾纠纷调解员", path  # not read
    client.get("/account/password")  # a page reads them
    assert labels.label("member_role", "mediator") == "调解员"
