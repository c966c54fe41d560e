"""Property: no value a client sends makes any route answer 5xx.

Hypothesis sends generated values (huge and negative numbers, far dates, NaN/inf, NUL and other
control characters, CR/LF, bidi overrides, long strings, wrong types, repeated parameters) to every
route of the application (found in the URL map, so a new route is fuzzed without editing this file),
in its path, its query parameters and its form and JSON fields, logged in as an operator, a grid lead, a
member and an admin so the requests get past the log-in and role checks. The parameter names come from the application's
source (every ``args.get("…")``/``form.get("…")`` and the field tables), plus the standards' names.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.app.dash_helpers import TOKEN, lead_grid, login  # noqa: F401  (fixture)

APP_DIR = Path(__file__).resolve().parents[2] / "app"
#: names the standards define, in case the code reads them through a table this scan misses
STANDARD_NAMES = {
    "service_code", "service_request_id", "start_date", "end_date", "status", "page", "page_size", "lat", "long",
    "address_string", "address_id", "email", "device_id", "account_id", "first_name", "last_name", "phone",
    "description", "media_url", "jurisdiction_id", "api_key", "requested_datetime",
    "state", "category", "grid", "street", "community", "source", "start", "end", "bbox", "q", "limit",
    "lon", "lat", "note", "action", "member_id", "assignee", "k", "next", "lang", "priority", "version",
    "duplicate_of", "reason", "username", "password", "new_password", "new_password2", "current_password"}
NAME_RE = re.compile(r"""(?:args|form|values|body|data|params|payload|fields|json)\s*(?:\.get|\.getlist|\[)\(?\s*["']([a-z_][a-z0-9_]{0,39})["']""")
#: the parameter readers (app/dashboards/params.Params, app/open311/params.Fields): ``p.integer("max")``
READER_RE = re.compile(r"""\b(?:p|fields|params)\.(?:text|integer|number|choice|choices|code|codes|day|moment|whole|"""
                       r"""degrees|date|bbox|values|raw|spot)\(\s*["']([a-z_][a-z0-9_]{0,39})["']""")
SKIP_ENDPOINTS = {"static", "core.vendor", "accounts.logout"}  # files on disk; log-out ends the fuzzing session


def parameter_names() -> list[str]:
    found = set()
    for path in APP_DIR.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        found.update(NAME_RE.findall(source) + READER_RE.findall(source))
    return sorted(found | STANDARD_NAMES)


NAMES = parameter_names()

nasty_text = st.one_of(
    st.sampled_from([
        "", " ", "0", "-1", "99999999999999999999", "-99999999999999999999", "1e308", "-1e308", "nan", "inf",
        "-inf", "0x10", "1,2", "1,2,3,4", "-180,-90,180,90", "999,999,-999,-999", "104.7,29.3,104.8,29.4",
        "0001-01-01T00:00:00", "9999-12-31T23:00:00-12:00", "9999-12-31", "2025-02-30", "2025-13-01",
        "1900-01-01", "2099-01-01", "2025-01-01T00:00:00+99:00", "a\x00b", "a\r\nSet-Cookie: x=1", "\u202egnp.exe",
        "\x1b[31m", "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc/passwd", "//evil.com",
        "/\t/evil.com", "true", "null", "[]", "{}", "ＡＢＣ", "５１０３０４", "x" * 5000]),
    st.text(max_size=60),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
json_value = st.one_of(nasty_text, st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                       st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
                       st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
params = st.dictionaries(st.sampled_from(NAMES), st.one_of(nasty_text, st.lists(nasty_text, min_size=2, max_size=3)),
                         max_size=6)
path_values = st.one_of(nasty_text.filter(lambda v: "/" not in v and "\x00" not in v and v not in (".", "..")),
                        st.integers(min_value=0, max_value=2 ** 70).map(str))


def routes(app):
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule, method))
    return sorted(out, key=lambda rm: (rm[0].rule, rm[1]))


def build_path(rule, data) -> str:
    path = rule.rule
    for name, conv in rule._converters.items():
        kind = type(conv).__name__
        value = data.draw(st.integers(min_value=0, max_value=2 ** 70).map(str) if kind == "IntegerConverter"
                          else path_values, label=name)
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", value.replace("%", "%25").replace("?", "%3F").replace("#", "%23"), path)
    return path


def _fuzz(client, app, data):
    rule, method = data.draw(st.sampled_from(routes(app)), label="route")
    path = build_path(rule, data)
    query = data.draw(params, label="query")
    headers = {"X-CSRF-Token": client.csrf, "X-API-Key": client.api_key,
               "Accept": data.draw(st.sampled_from(["text/html", "application/json", "*/*"]))}
    if method == "GET":
        r = client.get(path, query_string=query, headers=headers)
    elif data.draw(st.booleans(), label="json body"):
        body = data.draw(st.dictionaries(st.sampled_from(NAMES), json_value, max_size=6), label="json")
        r = client.open(path, method=method, query_string=query, json=body, headers=headers)
    else:
        form = data.draw(params, label="form")
        r = client.open(path, method=method, query_string=query, data=form, headers=headers)
    assert r.status_code < 500, (method, path, query, r.status_code, r.get_data(as_text=True)[:500])


def _logged_in(client, account, demo_db):
    """Log in through the form, keep the page's CSRF token, and give the client an API key of the same
    account (Open311 reads and posts take keys, not cookies)."""
    from app.accounts.keys import add_api_key

    login(client, account)
    client.csrf = TOKEN.search(client.get("/dashboard/stats").get_data(as_text=True)).group(1)
    with demo_db.session() as s:
        client.api_key = add_api_key(s, f"fuzz-{account}", account)
    return client


FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_the_fuzzer_reaches_every_route_and_finds_the_parameter_names(app):
    endpoints = {rule.endpoint for rule, _ in routes(app)}
    assert {"dashboards.api_incidents", "open311.requests_create", "accounts.login"} <= endpoints
    from_source = set(NAMES) - STANDARD_NAMES
    assert {"max", "since"} <= from_source  # read from the parameter readers, not only the standards' list


# a district role, a grid lead's and a member's scoping, and the admin (the only one past the admin pages)
@pytest.mark.parametrize("account", ["operator", "lead", "member", "admin"])
@FUZZ
@given(data=st.data())
def test_no_5xx_for_any_value(app, client, lead_grid, demo_db, account, data):
    if not hasattr(client, "csrf"):
        _logged_in(client, account, demo_db)
    _fuzz(client, app, data)


@pytest.mark.parametrize("path, query", [
    ("/open311/v2/requests.json", {"end_date": "0001-01-01T00:00:00"}),
    ("/open311/v2/requests.json", {"start_date": "9999-12-31T23:00:00-12:00"}),
    ("/open311/v2/requests.json", {"page": "99999999999999999999"}),
    ("/api/incidents", {"end": "9999-12-31"}),
    ("/api/search", {"q": "a\x00b"}),
])
def test_the_issues_500s_are_answered(app, client, lead_grid, demo_db, path, query):
    _logged_in(client, "operator", demo_db)
    r = client.get(path, query_string=query, headers={"X-API-Key": client.api_key})
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code >= 400:  # a refusal names what it refuses; a far but valid date is an empty window
        assert next(iter(query)) in r.get_data(as_text=True)
    else:
        assert r.status_code == 200 and (r.get_json() == [] or "features" in r.get_json())
