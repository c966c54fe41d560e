"""Every cell of the role matrix (``app.accounts.capabilities.CAPABILITIES``), tried against the routes.

The URL map is walked, so a route another area adds is tried without editing this file: every view that
carries ``required_capability`` (set by ``capability_required``) is requested by every role, with path
arguments sampled from the demo district by their name (a camera, a grid and a member of the grid
lead's own grid, an account made for the purpose, …) and a dummy body. A role without the capability
must get 403; a role with it must get past the check: not 401, not 403, not sent to log in (a 404 or
422 for the sampled argument or the dummy body is the view's own answer, after the check).

Plus: no route under the console's prefixes is without a capability (a route forgotten is a hole), and
``docs/roles.md`` prints the table as it is.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from app.accounts.auth import PAGE_ROLES
from app.accounts.capabilities import CAPABILITIES, can
from app.incidents.permissions import REPORT_ROLES
from app.accounts.models import ACCOUNT_ROLES
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
#: the demo account that logs in for each role
ACCOUNT_OF = {"admin": "admin", "operator": "operator", "planner": "planner", "grid_lead": "lead", "member": "member"}
#: a route under one of these must carry a capability
GUARDED_PREFIXES = ("/admin", "/api/cameras", "/api/coverage", "/api/grids", "/api/members", "/cameras",
                    "/dashboard/planner", "/grids")
#: routes under those prefixes that check the role another way for now, with the roles they admit: tried
#: below like a capability's routes (the lead is asked to move them onto the table, then drop them here)
ROLE_CHECKED = {"dashboards.api_cameras_seeing": tuple(PAGE_ROLES["operator"]) + ("planner",),
                "field.grid_at": tuple(REPORT_ROLES)}
TARGET = "matrix-target"  # the account the /admin/users/<username> routes are tried on


@pytest.fixture
def facts(app, demo_db, lead_grid) -> dict:
    """Path arguments from the demo district, in the grid lead's own grid where there is a choice."""
    from app.accounts.service import add_user
    from app.accounts.keys import add_api_key

    with demo_db.session() as s:
        add_user(s, TARGET, "matrix-target-pw", role="operator")
        add_api_key(s, "matrix-key", TARGET)
        one = lambda sql, **p: s.execute(text(sql), p).scalar()  # noqa: E731
        return {
            "grid": lead_grid,
            "device_id": one("SELECT min(device_id) FROM cameras WHERE grid_code = :g AND lifecycle = 'active'",
                             g=lead_grid) or one("SELECT min(device_id) FROM cameras"),
            "member_id": one("SELECT u.member_id FROM users u WHERE u.username = 'member'"),
            "incident_id": one("SELECT min(id) FROM incidents WHERE grid_code = :g", g=lead_grid),
            "key_id": one("SELECT id FROM api_keys WHERE name = 'matrix-key'"),
            "category": one("SELECT min(code) FROM categories"),
            "programme": one("SELECT min(code) FROM programmes"),
        }


#: argument name → its sample (from ``facts``); (path prefix, name) first where a name means two things
SAMPLES = {
    ("/api/reference/categories/", "code"): lambda f: f["category"],
    ("/api/reference/", "code"): lambda f: f["programme"],
    ("/api/reference/", "kind"): lambda f: "programme",
    ("", "code"): lambda f: f["grid"],
    ("", "grid_code"): lambda f: f["grid"],
    ("", "device_id"): lambda f: f["device_id"],
    ("", "member_id"): lambda f: f["member_id"],
    ("", "incident_id"): lambda f: f["incident_id"],
    ("", "username"): lambda f: TARGET,
    ("", "key_id"): lambda f: f["key_id"],
    ("", "delivery_id"): lambda f: 1,
    ("", "photo_id"): lambda f: 1,
    ("", "fmt"): lambda f: "csv",
    ("", "token"): lambda f: "0" * 32,
    ("", "name"): lambda f: "x",
}


def sample(rule, name: str, f: dict):
    """The sample for argument ``name`` of ``rule``; None when there is none (listed by ``unsampled``)."""
    for (prefix, arg), make in SAMPLES.items():
        if arg == name and rule.rule.startswith(prefix):
            return make(f)
    return None


def capability_routes(app):
    """(rule, method, capability or None, roles admitted) of every route the matrix tries."""
    out = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        capability = getattr(view, "required_capability", None)
        if capability is None and rule.endpoint not in ROLE_CHECKED:
            continue
        roles = CAPABILITIES[capability][0] if capability else ROLE_CHECKED[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule, method, capability, roles))
    return sorted(out, key=lambda x: (x[0].rule, x[1]))


def unsampled(app, f: dict) -> list[str]:
    return sorted({f"{rule.endpoint}:{name}" for rule, *_ in capability_routes(app) for name in rule.arguments
                   if sample(rule, name, f) is None})


def build(rule, f: dict) -> str:
    values = {name: sample(rule, name, f) for name in rule.arguments}
    values = {k: ("x" if v is None else v) for k, v in values.items()}
    return rule.build(values, append_unknown=False)[1]


def answer(client, token: str, method: str, path: str) -> tuple[int, str, str]:
    """(status, Location, the start of the body), the response read to its end and closed: a streamed
    one left open would keep its request context (and its user) pushed under the next request."""
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    if method == "GET":
        r = client.get(path, headers=headers)
    else:
        r = client.open(path, method=method, json={}, headers=headers)
    try:
        return r.status_code, r.headers.get("Location", ""), r.get_data(as_text=True)[:160]
    finally:
        r.close()


def test_every_role_gets_exactly_its_capabilities(app, client, facts):
    """One client per role (so each keeps its session), every route in the URL map; a failure lists
    every wrong cell, not only the first."""
    assert unsampled(app, facts) == [], "give these path arguments a sample in SAMPLES"
    clients = {}
    for role, account in ACCOUNT_OF.items():
        c = app.test_client()
        login(c, account)
        clients[role] = (c, csrf(c, "/dashboard/stats"))
    wrong, tried = [], 0
    for rule, method, capability, roles in capability_routes(app):
        path = build(rule, facts)
        for role in ACCOUNT_ROLES:
            c, token = clients[role]
            status, location, body = answer(c, token, method, path)
            tried += 1
            allowed = role in roles
            to_login = status in (301, 302, 303) and "/login" in location
            if allowed and (status in (401, 403) or to_login or status >= 500):
                wrong.append(f"{role} {method} {path} ({capability}): {status} {body!r}")
            elif not allowed and status != 403:
                wrong.append(f"{role} {method} {path} ({capability}): {status}, expected 403")
    assert tried >= len(ACCOUNT_ROLES) * 20  # the other areas' routes are in the map too
    assert wrong == [], "\n".join(wrong)


def test_a_refusal_names_the_capability(app, lead_grid):
    c = app.test_client()
    login(c, "planner")
    r = c.get("/admin/users", headers={"Accept": "application/json"})
    assert r.status_code == 403 and "user.manage" in r.get_json()["message"]


def test_a_route_under_the_console_has_a_capability(app):
    """A route under the console's prefixes without ``capability_required`` is a hole: it would answer
    every logged-in role (or everyone)."""
    holes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(GUARDED_PREFIXES) or rule.endpoint in ROLE_CHECKED:
            continue
        if getattr(app.view_functions[rule.endpoint], "required_capability", None) is None:
            holes.append(f"{rule.rule} ({rule.endpoint})")
    assert holes == [], "routes without a capability:\n" + "\n".join(sorted(holes))


def test_the_planner_page_and_its_bar_link_read_one_capability(app):
    """The planner's page, its what-if and its downloads are ``coverage.plan``; the bar's link
    (``PAGE_ROLES["planner"]``) admits the same roles, so the link never shows a page that refuses."""
    planner = {"dashboards.planner", "dashboards.coverage_download", "dashboards.coverage_plan",
               "dashboards.plan_download"}
    assert {e: getattr(app.view_functions[e], "required_capability", None) for e in planner} == \
        dict.fromkeys(planner, "coverage.plan")
    assert PAGE_ROLES["planner"] == CAPABILITIES["coverage.plan"][0]


def test_the_logged_out_get_nothing(app, client, facts):
    """No capability route answers a client that has not logged in (a page sends it to log in)."""
    for rule, method, _capability, _roles in capability_routes(app):
        path = build(rule, facts)
        status, _location, _body = answer(client, "", method, path)
        assert status in (302, 400, 401), (method, path, status)  # 400: a write without CSRF


# -- docs/roles.md -----------------------------------------------------------------------------------
ROW = re.compile(r"^\|\s*`([a-z_.]+)`\s*\|(.*)\|\s*$")


def doc_table() -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """(the roles of the header, {capability: roles marked ✓}) of the table in ``docs/roles.md`` whose
    header starts ``| capability``, read to its first blank line."""
    lines = (ROOT / "docs" / "roles.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| capability"))
    roles = [c.strip().strip("`") for c in lines[start].strip("|").split("|")[1:-1]]
    table = {}
    for line in lines[start + 2:]:
        if not line.strip():
            break
        m = ROW.match(line)
        assert m, f"not a row of the matrix: {line}"
        cells = [c.strip() for c in m.group(2).split("|")]
        assert all(c in ("✓", "") for c in cells[:len(roles)]), line
        assert m.group(1) not in table, f"{m.group(1)} twice"
        table[m.group(1)] = tuple(r for r, c in zip(roles, cells) if c == "✓")
    return roles, table


def test_the_docs_print_the_table_as_it_is():
    roles, table = doc_table()
    assert roles == list(ACCOUNT_ROLES)
    assert table == {name: tuple(r for r in ACCOUNT_ROLES if r in allowed) for name, (allowed, _) in CAPABILITIES.items()}


def test_can_reads_the_table():
    from types import SimpleNamespace

    for name, (allowed, _what) in CAPABILITIES.items():
        for role in ACCOUNT_ROLES:
            assert can(SimpleNamespace(role=role), name) == (role in allowed)
        assert not can(None, name)
