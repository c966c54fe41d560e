"""The audit log: the gw_audit trigger on every table of AUDITED (insert, update, delete, no-op, hidden
columns, the actor of each path), the migrated triggers equal to AUDITED, and /admin/audit's search, keyset
pages and CSV against a SQL oracle."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.audit import service
from app.audit.models import AUDITED
from app.db import stamp_actor, use_actor
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (lead_grid: a fixture)
from tests.settings import TEST_SETTINGS

ACTOR = "test:h6"
POINT = "ST_SetSRID(ST_MakePoint(104.77, 29.36), 4326)"
AREA = f"ST_Multi(ST_Buffer({POINT}, 0.001))"


def _since(s) -> int:
    return s.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar()


def _rows(s, since: int, object_type: str | None = None):
    sql = "SELECT actor, object_type, object_id, action, changed, before, after FROM audit_log WHERE id > :s"
    if object_type:
        sql += " AND object_type = :t"
    return s.execute(text(sql + " ORDER BY id"), {"s": since, "t": object_type}).mappings().all()


def _one(s, column: str, sql: str, **params):
    return str(s.execute(text(sql + f" RETURNING {column}"), params).scalar())


# table → (insert: returns the key, update (column, new value), the column's value before)
def _insert(s, table: str) -> str:
    street = s.execute(text("SELECT code FROM streets ORDER BY code LIMIT 1")).scalar()
    comm = s.execute(text("SELECT code FROM communities ORDER BY code LIMIT 1")).scalar()
    grid = s.execute(text("SELECT code FROM grids ORDER BY code LIMIT 1")).scalar()
    sqls = {
        "cameras": ("device_id", f"INSERT INTO cameras (device_id, name, geom) VALUES ('51030499991310000001', "
                                 f"'审计测试', {POINT})"),
        "incidents": ("id", f"INSERT INTO incidents (category_code, source, geom) VALUES ('other', 'patrol', {POINT})"),
        "streets": ("code", f"INSERT INTO streets (code, name, kind, geom) VALUES ('510304999', '测试街道', 'street', "
                            f"{AREA})"),
        "communities": ("code", f"INSERT INTO communities (code, name, street_code, geom) VALUES ('{street}999', "
                                f"'测试社区', '{street}', {AREA})"),
        "grids": ("code", f"INSERT INTO grids (code, name, community_code, geom) VALUES ('{comm}999', '测试网格', "
                          f"'{comm}', {AREA})"),
        "members": ("id", "INSERT INTO members (name, phone) VALUES ('审计员', '13900000000')"),
        "member_roles": ("member_id::text || '@' || grid_code", "INSERT INTO member_roles (member_id, grid_code, "
                         f"role) VALUES ((SELECT max(id) FROM members), '{grid}', 'publicity')"),
        "users": ("username", "INSERT INTO users (username, password_hash, role) VALUES ('audit_user', "
                              "'secret-hash-value', 'operator')"),
        "api_keys": ("name", "INSERT INTO api_keys (name, key_sha256) VALUES ('audit-key', 'feedfacefeedface')"),
        "categories": ("code", "INSERT INTO categories (code, name_zh, name_en, urgent_h, high_h, normal_h, low_h) "
                               "VALUES ('audit_cat', '审计类别', 'Audit category', 1, 2, 3, 4)"),
        "programmes": ("code", "INSERT INTO programmes (code, name_zh, name_en) VALUES ('audit', '审计工程', 'Audit')"),
        "incident_sources": ("code", "INSERT INTO incident_sources (code, name_zh, name_en) VALUES "
                                     "('audit', '审计来源', 'Audit')"),
        "member_role_types": ("code", "INSERT INTO member_role_types (code, name_zh, name_en) VALUES "
                                      "('audit', '审计职务', 'Audit')"),
        "catalog_nodes": ("platform || '@' || node_id", "INSERT INTO catalog_nodes (platform, node_id, kind, name) "
                                                        "VALUES ('51030400002000000001', '510304', 'area', '审计区域')"),
    }
    column, sql = sqls[table]
    return _one(s, column, sql)


#: table → (column changed, new value, old value as the insert wrote it)
UPDATES = {
    "cameras": ("name", "改名", "审计测试"), "incidents": ("description", "改过", ""),
    "streets": ("name", "新街道", "测试街道"), "communities": ("name", "新社区", "测试社区"),
    "grids": ("name", "新网格", "测试网格"), "members": ("phone", "13900000001", "13900000000"),
    "member_roles": ("role", "security", "publicity"), "users": ("role", "planner", "operator"),
    "api_keys": ("name", "audit-key-2", "audit-key"), "categories": ("low_h", 5.0, 4.0),
    "programmes": ("name_en", "Audit 2", "Audit"), "incident_sources": ("name_en", "Audit 2", "Audit"),
    "member_role_types": ("name_en", "Audit 2", "Audit"),
    "catalog_nodes": ("name", "新区域", "审计区域"),
}


def test_every_audited_table_has_an_update_case():
    assert set(UPDATES) == set(AUDITED)


def _key_sql(key: str) -> str:
    """The object id as SQL: the key column, or the columns of a composite key joined by '@'."""
    return " || '@' || ".join(f"{c}::text" for c in key.split("@"))


def _key_of(row: dict, key: str) -> str:
    return "@".join(str(row[c]) for c in key.split("@"))


@pytest.mark.parametrize("table", sorted(AUDITED))
def test_insert_update_delete_each_leave_one_row(demo_session, table):
    s = demo_session
    if table == "member_roles":
        s.execute(text("INSERT INTO members (name) VALUES ('角色测试')"))
    stamp_actor(s, ACTOR)
    kind, key, ignored, hidden = AUDITED[table]
    since = _since(s)
    obj = _insert(s, table)
    (ins,) = _rows(s, since)
    assert (ins["actor"], ins["object_type"], ins["object_id"], ins["action"]) == (ACTOR, kind, obj, "insert")
    assert ins["before"] is None and _key_of(ins["after"], key) == obj and ins["changed"] is None
    for h in hidden:
        assert ins["after"][h] == "(hidden)"

    column, new, old = UPDATES[table]
    since = _since(s)
    s.execute(text(f"UPDATE {table} SET {column} = :v WHERE {_key_sql(key)} = :k"), {"v": new, "k": obj})
    (upd,) = _rows(s, since)
    new_obj = str(new) if column == key else obj
    assert (upd["actor"], upd["object_type"], upd["object_id"], upd["action"]) == (ACTOR, kind, new_obj, "update")
    assert upd["changed"] == [column]
    assert upd["before"] == {column: old} and upd["after"] == {column: new}

    since = _since(s)  # a no-op update (and one of a column not worth a row) writes nothing
    s.execute(text(f"UPDATE {table} SET {column} = {column} WHERE {_key_sql(key)} = :k"), {"k": new_obj})
    for col in ignored:
        s.execute(text(f"UPDATE {table} SET {col} = {col} WHERE {_key_sql(key)} = :k"), {"k": new_obj})
    assert _rows(s, since) == []

    s.execute(text(f"DELETE FROM {table} WHERE {_key_sql(key)} = :k"), {"k": new_obj})
    (dele,) = _rows(s, since)
    assert (dele["actor"], dele["object_type"], dele["object_id"], dele["action"]) == (ACTOR, kind, new_obj, "delete")
    assert dele["after"] is None and _key_of(dele["before"], key) == new_obj and dele["before"][column] == new


def test_a_member_role_is_keyed_by_member_and_grid_and_a_grid_change_moves_the_key(demo_session):
    """The composite key: ``<member_id>@<grid_code>``, the grid's code after an update that changes it."""
    s = demo_session
    a, b = s.execute(text("SELECT code FROM grids ORDER BY code LIMIT 2")).scalars().all()
    m = s.execute(text("INSERT INTO members (name) VALUES ('键测试') RETURNING id")).scalar()
    stamp_actor(s, ACTOR)
    since = _since(s)
    s.execute(text("INSERT INTO member_roles (member_id, grid_code, role) VALUES (:m, :g, 'security')"), {"m": m, "g": a})
    s.execute(text("UPDATE member_roles SET grid_code = :b WHERE member_id = :m"), {"m": m, "b": b})
    s.execute(text("DELETE FROM member_roles WHERE member_id = :m"), {"m": m})
    assert [(r["object_type"], r["object_id"], r["action"]) for r in _rows(s, since)] == [
        ("member_role", f"{m}@{a}", "insert"), ("member_role", f"{m}@{b}", "update"),
        ("member_role", f"{m}@{b}", "delete")]


def test_a_change_of_an_ignored_column_alone_writes_nothing_and_with_another_only_that_one(demo_session):
    s = demo_session
    cam = s.execute(text("SELECT device_id FROM cameras ORDER BY device_id LIMIT 1")).scalar()
    since = _since(s)
    s.execute(text("UPDATE cameras SET updated_at = now() - interval '1 day', version = version + 1 "
                   "WHERE device_id = :d"), {"d": cam})
    assert _rows(s, since) == []
    s.execute(text("UPDATE cameras SET updated_at = now(), address = 'x 路 1 号' WHERE device_id = :d"), {"d": cam})
    (row,) = _rows(s, since)
    assert row["changed"] == ["address"] and set(row["after"]) == {"address"}


def test_secrets_never_reach_the_log(demo_session):
    s = demo_session
    since = _since(s)
    s.execute(text("INSERT INTO users (username, password_hash, role) VALUES ('hidden_u', 'pbkdf2-secret-1', 'planner')"))
    s.execute(text("UPDATE users SET password_hash = 'pbkdf2-secret-2' WHERE username = 'hidden_u'"))
    s.execute(text("INSERT INTO api_keys (name, key_sha256) VALUES ('hidden-k', 'sha-secret-3')"))
    s.execute(text("UPDATE api_keys SET key_sha256 = 'sha-secret-4' WHERE name = 'hidden-k'"))
    rows = _rows(s, since)
    assert [r["action"] for r in rows] == ["insert", "update", "insert", "update"]
    assert rows[1]["changed"] == ["password_hash"] and rows[1]["before"] == rows[1]["after"] == \
        {"password_hash": "(hidden)"}
    assert rows[3]["before"] == rows[3]["after"] == {"key_sha256": "(hidden)"}
    leaked = s.execute(text("SELECT count(*) FROM audit_log WHERE before::text ~ 'secret' OR after::text ~ 'secret'"
                            )).scalar()
    assert leaked == 0


def test_the_migrated_triggers_are_the_tables_of_audited(demo_session):
    """The migration's frozen copy and the live AUDITED agree: PostgreSQL's own record of the triggers."""
    got = {}
    for table, args in demo_session.execute(text(
            "SELECT c.relname, t.tgargs FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'gw_audit' AND NOT t.tgisinternal")).all():
        parts = bytes(args).split(b"\x00")[:-1]
        got[table] = tuple(p.decode() for p in parts)
    want = {t: (kind, key, ",".join(ignored), ",".join(hidden)) for t, (kind, key, ignored, hidden) in AUDITED.items()}
    assert got == want
    fired = dict(demo_session.execute(text(
        "SELECT c.relname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE t.tgname = 'gw_audit'")).all())
    # ROW (1) | INSERT (4) | DELETE (8) | UPDATE (16), AFTER (no BEFORE bit 2)
    assert set(fired.values()) == {1 | 4 | 8 | 16}


# ---- who: the actor of each path ----------------------------------------------------------------------

def test_actor_of_raw_sql_is_the_database_role(demo_db):
    token = use_actor(None)  # no gridwatch context at all: a psql session
    try:
        with demo_db.session() as s:
            since = _since(s)
            s.execute(text("UPDATE categories SET weight = weight + 1 WHERE code = 'other'"))
            role = s.execute(text("SELECT session_user")).scalar()
            (row,) = _rows(s, since)
    finally:
        use_actor(token.old_value if token.old_value is not token.MISSING else None)
    assert row["actor"] == f"db:{role}"


def test_actor_of_the_cli_and_of_a_web_request(demo_db, cli, app, lead_grid):
    with demo_db.session() as s:
        s.execute(text("UPDATE categories SET weight = 9 WHERE code = 'other'"))
        since = _since(s)
    assert cli(demo_db, "reference", "load", "--overwrite").exit_code == 0
    with demo_db.session() as s:
        (row,) = _rows(s, since, "category")
    assert row["actor"].startswith("cli:") and row["object_id"] == "other" and row["after"] == {"weight": 0.5}
    client = app.test_client()
    login(client, "admin")
    from app.reference.service import categories, forget_names

    with demo_db.session() as s:
        cat = categories(s, "other")[0]
        since = _since(s)
    r = client.patch("/api/reference/categories/other", json={**cat, "weight": 0.75},
                     headers={"X-CSRF-Token": csrf(client, "/admin/reference")})
    forget_names()
    assert r.status_code == 200, r.get_json()
    with demo_db.session() as s:
        (row,) = _rows(s, since, "category")
    assert row["actor"] == "admin" and row["changed"] == ["weight"]


def test_actor_of_an_open311_post_is_its_key(demo_db, client):
    from app.accounts.service import add_user
    from app.accounts.keys import add_api_key

    with demo_db.session() as s:
        add_user(s, "open311-audit", "app-password-1", role="operator")
        key = add_api_key(s, "audit-app", "open311-audit")
        lon, lat = s.execute(text("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grids "
                                  "ORDER BY code LIMIT 1")).one()
        since = _since(s)
    r = client.post("/open311/v2/requests.json", data={"api_key": key, "service_code": "other", "lat": str(lat),
                                                       "long": str(lon), "description": "审计"})
    assert r.status_code == 201, r.get_data(as_text=True)
    rid = r.get_json()[0]["service_request_id"]
    with demo_db.session() as s:
        rows = _rows(s, since, "incident")
    assert rows and {r["actor"] for r in rows} == {"open311:audit-app"}
    assert rows[0]["object_id"] == rid and rows[0]["action"] == "insert"


# ---- the page and the CSV, against a SQL oracle --------------------------------------------------------

TZ = TEST_SETTINGS.timezone


@pytest.fixture
def history(demo_db, lead_grid):
    """Changes by three actors and three log-ins (two failed) in the test's transaction; returns the marks
    (audit_log and login_attempts ids before them)."""
    with demo_db.session() as s:
        marks = (_since(s), s.execute(text("SELECT coalesce(max(id), 0) FROM login_attempts")).scalar())
    for actor, sql in (("alice", "UPDATE categories SET weight = weight + 1 WHERE code IN ('dispute', 'other', 'emergency')"),
                       ("bob", "UPDATE programmes SET name_en = 'Skynet!' WHERE code = 'skynet'"),
                       ("open311:k1", "INSERT INTO members (name) VALUES ('=cmd|x')"),
                       ("alice", "UPDATE incidents SET state = 'accepted', description = repeat('长', 200) "
                                 "WHERE id = (SELECT min(id) FROM incidents WHERE state = 'reported')"),
                       ("alice", "UPDATE grids SET geom = ST_Multi(ST_Buffer(ST_Centroid(geom), 0.001)) "
                                 "WHERE code = (SELECT min(code) FROM grids)"),
                       ("carol", "INSERT INTO member_roles (member_id, grid_code, role) VALUES "
                                 "((SELECT max(id) FROM members), (SELECT min(code) FROM grids), 'mediator')")):
        with demo_db.session() as s:
            stamp_actor(s, actor)
            s.execute(text(sql))
    with demo_db.session() as s:
        s.execute(text("INSERT INTO login_attempts (username, client_addr, success, reason) VALUES "
                       "('alice', '10.0.0.9', false, 'wrong_password'), ('=1+1', '10.0.0.8', false, 'unknown_user'), "
                       "('alice', '10.0.0.9', true, 'ok')"))
    return marks


def _oracle(s, q: dict) -> list[tuple]:
    """Every matching entry as (src, id), newest first: plain SQL and Python, no code of the service."""
    audit = s.execute(text("SELECT 'a', id, at, actor, object_type, object_id, action FROM audit_log")).all()
    login = s.execute(text("SELECT 'l', id, at, username, 'login', username, 'login_failed' FROM login_attempts "
                           "WHERE NOT success")).all()
    zone = ZoneInfo(TZ)
    out = []
    for src, rid, at, actor, otype, oid, action in list(audit) + list(login):
        local = at.astimezone(zone).date()
        if q.get("object_type") and otype != q["object_type"]:
            continue
        want = q.get("object_id")  # a member's role (member@grid) is found by either part as well
        if want and oid != want and not (otype == "member_role" and want in (oid.split("@")[0], oid.split("@")[-1])):
            continue
        if q.get("action") and action != q["action"]:
            continue
        a = q.get("actor")
        if a and not (actor.startswith(a[:-1]) if a.endswith("*") else actor == a):
            continue
        if q.get("from") and local < date.fromisoformat(q["from"]) or q.get("to") and local > date.fromisoformat(q["to"]):
            continue
        out.append((at, src, rid))
    return [(src, rid) for at, src, rid in sorted(out, reverse=True)]


def _today() -> str:
    return datetime.now(ZoneInfo(TZ)).date().isoformat()


QUERIES = [
    {"actor": "alice"}, {"actor": "open311:*"}, {"actor": "bo*"}, {"object_type": "login"},
    {"action": "login_failed"}, {"object_type": "category", "actor": "alice"}, {"object_id": "dispute", "actor": "alice"},
    {"action": "update", "actor": "alice"}, {"actor": "bob", "from": "TODAY", "to": "TODAY"},
    {"actor": "alice", "from": "TOMORROW"}, {"object_id": "alice"}, {"object_type": "grid", "actor": "alice"},
    {"object_id": "GRID"}, {"object_id": "MEMBER", "actor": "carol"}, {"object_id": "MEMBER@GRID"},
    {"object_type": "member_role", "object_id": "GRID", "actor": "carol"},
]


def _ids(s) -> dict:
    """The member and grid of carol's membership (the history's newest member, the smallest grid code)."""
    return {"MEMBER": str(s.execute(text("SELECT max(id) FROM members")).scalar()),
            "GRID": s.execute(text("SELECT min(code) FROM grids")).scalar()}


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: ",".join(f"{k}={v}" for k, v in q.items()))
def test_search_walked_page_by_page_equals_the_oracle(demo_db, history, query):
    tomorrow = (datetime.now(ZoneInfo(TZ)).date() + timedelta(days=1)).isoformat()
    query = {k: v.replace("TOMORROW", tomorrow).replace("TODAY", _today()) for k, v in query.items()}
    with demo_db.session() as s:
        for name, value in _ids(s).items():
            query = {k: v.replace(name, value) for k, v in query.items()}
        want = _oracle(s, query)
        q, after = service.parse_query(query, earliest=date(2010, 1, 1), tz=TZ)
        assert after is None
        got = []
        while True:
            rows, nxt = service.search(s, q, limit=2, after=after)
            got += [(r["src"], r["id"]) for r in rows]
            if nxt is None:
                break
            after = service.parse_query({**query, "after": nxt}, earliest=date(2010, 1, 1), tz=TZ)[1]
    assert got == want
    if "TOMORROW" not in str(query.values()) and query.get("from") != tomorrow:
        assert want  # every query but the future one finds something


def test_a_part_of_a_member_role_key_is_matched_literally_and_links_to_its_grid(app, demo_db, history):
    with demo_db.session() as s:
        ids = _ids(s)
        for wild in ("%", "_", ids["GRID"][:-1] + "_", "%" + ids["GRID"][-3:], ids["MEMBER"] + "%"):
            q, _after = service.parse_query({"object_id": wild, "object_type": "member_role"},
                                            earliest=date(2010, 1, 1), tz=TZ)
            assert service.search(s, q)[0] == [], wild
        q, _after = service.parse_query({"object_id": ids["GRID"], "actor": "carol"}, earliest=date(2010, 1, 1), tz=TZ)
        (row,) = service.search(s, q)[0]
    assert row["object_id"] == f"{ids['MEMBER']}@{ids['GRID']}"
    with app.test_request_context():
        assert service.object_path("member_role", row["object_id"]) == f"/grids/{ids['GRID']}"


def test_the_page_pages_by_keyset_and_matches_the_oracle(app, demo_db, history, monkeypatch):
    monkeypatch.setattr(service, "PAGE_SIZE", 2)
    client = app.test_client()
    login(client, "admin")
    with demo_db.session() as s:
        want = _oracle(s, {"actor": "alice"})
    got, url = [], "/admin/audit?actor=alice&lang=zh"
    import re

    while url:
        html = client.get(url).get_data(as_text=True)
        got += [(m[0], int(m[1])) for m in re.findall(r'data-entry="([al])(\d+)"', html)]
        nxt = re.search(r'href="([^"]+)" rel="next"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert got == want and len(want) >= 5


def test_the_page_shows_words_summaries_and_links(app, demo_db, history):
    client = app.test_client()
    login(client, "admin")
    html = client.get("/admin/audit", query_string={"actor": "alice", "lang": "zh"}).get_data(as_text=True)
    assert "已上报" in html and "已受理" in html             # the incident's state by name
    assert "MultiPolygon (" in html and "104." not in html   # a boundary summarised, not its coordinates
    assert "<details>" in html                               # the 200-character description folded
    assert 'href="/dashboard/operator#incident=' in html     # an incident links to the operator page
    assert "密码错误" in html and "10.0.0.9" in html           # the failed log-in: reason by name, address
    assert "事件类别" in html and "修改" in html and "登录失败" in html
    assert "权重" in html                                    # a column by its name
    ops = client.get("/admin/audit", query_string={"actor": "open311:k1", "lang": "zh"}).get_data(as_text=True)
    assert "接口密钥 k1" in ops and "=cmd|x" in ops


def test_bad_parameters_are_422_naming_them_and_only_admins_read(app, demo_db, lead_grid):
    client = app.test_client()
    login(client, "admin")
    for query, field in ((("object_type", "nope"),), "object_type"), ((("action", "drop"),), "action"), \
                        ((("after", "garbage"),), "after"), ((("from", "2030-13-01"),), "from"), \
                        ((("from", "2025-02-02"), ("to", "2025-02-01")), "to"), ((("actor", "a\x00b"),), "actor"):
        r = client.get("/admin/audit", query_string=dict(query), headers={"Accept": "application/json"})
        assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == [field], (query, r.get_json())
        assert client.get("/admin/audit.csv", query_string=dict(query)).status_code == 422
    for account in ("operator", "planner", "lead", "member"):
        c = app.test_client()
        login(c, account)
        assert c.get("/admin/audit").status_code == 403 and c.get("/admin/audit.csv").status_code == 403


def test_the_csv_is_the_same_search_with_bom_and_escaped_formulas(app, demo_db, history):
    client = app.test_client()
    login(client, "admin")
    for query in ({"actor": "open311:*"}, {"object_type": "login"}, {"actor": "alice", "lang": "en"}):
        r = client.get("/admin/audit.csv", query_string=query)
        assert r.status_code == 200 and r.is_streamed and r.mimetype == "text/csv"
        body = r.get_data()
        assert body.startswith("\ufeff".encode())
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        with demo_db.session() as s:
            want = _oracle(s, query)
        assert len(rows) == len(want) and list(rows[0]) == list(service.CSV_COLUMNS)
        for row in rows:
            assert datetime.fromisoformat(row["at"]).utcoffset() == timedelta(hours=8)
            for cell in row.values():
                assert not cell.startswith(("=", "+", "@")), cell
    logins = list(csv.DictReader(io.StringIO(client.get("/admin/audit.csv?object_type=login&lang=zh").get_data()
                                             .decode("utf-8-sig"))))
    formula = [r for r in logins if r["object_id"].lstrip("'") == "=1+1"]
    assert formula and formula[0]["object_id"] == "'=1+1" and formula[0]["reason"] == "unknown_user"
    assert formula[0]["object_type_name"] == "登录失败"


def test_the_links_are_the_applications_own_urls_under_a_prefix(app, demo_db, history):
    """Links are built with ``url_for`` from the pages' endpoints: behind a reverse proxy that mounts the
    application under a prefix (SCRIPT_NAME) every link carries it, and each one is a route of this app."""
    client = app.test_client()
    login(client, "admin")
    with demo_db.session() as s:
        grid = s.execute(text("SELECT min(code) FROM grids")).scalar()
    html = client.get("/admin/audit", query_string={"actor": "alice", "lang": "zh"},
                      base_url="http://localhost/gw/").get_data(as_text=True)
    links = set(re.findall(r'href="(/[^"]*)"', html))
    assert f"/gw/grids/{grid}" in links                                # the grid's page
    assert "/gw/admin/users/alice" in links                            # the actor's account page
    assert any(h.startswith("/gw/dashboard/operator#incident=") for h in links)
    shown = {h for h in links if h.startswith(("/gw/grids/", "/gw/admin/users/", "/gw/dashboard/operator#"))}
    adapter = app.url_map.bind("localhost")
    for h in shown:  # every object link is a page of this application (without the proxy's prefix)
        assert adapter.match(h[len("/gw"):].split("#")[0], method="GET")[0] in ("grids.grid", "people.user",
                                                                                  "dashboards.operator"), h
