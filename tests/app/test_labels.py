"""Words, not codes: every code list has its names, the database agrees with the lists, and no page of the
Chinese interface shows a code where a name belongs (every page, as every role)."""
from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import text

from app import labels

ROOT = Path(__file__).resolve().parents[2]

# kind → the (table, column) whose CHECK constraint in the migrated database lists its codes
CHECKED = {
    "state": ("incidents", "state"), "priority": ("incidents", "priority"),
    "duplicate": ("incidents", "duplicate_status"), "role": ("users", "role"),
    "street_kind": ("streets", "kind"), "camera_status": ("cameras", "status"), "lifecycle": ("cameras", "lifecycle"),
    "camera_event": ("camera_events", "event"), "ptz_type": ("cameras", "ptz_type"),
    "point_class": ("cameras", "point_class"), "photo_kind": ("incident_photos", "kind"),
    "webhook_event": ("webhook_deliveries", "event"), "delivery_status": ("webhook_deliveries", "status"),
}


def test_every_code_of_every_list_has_a_chinese_and_an_english_name():
    assert set(labels.LABELS) == set(labels.CODES) | {"duplicate"}
    for kind, codes in labels.CODES.items():
        assert set(labels.LABELS[kind]) == set(codes), kind
    for kind, table in labels.LABELS.items():
        for code, (zh, en) in table.items():
            assert zh.strip() and en.strip(), (kind, code)
            assert re.search(r"[\u4e00-\u9fff]", zh), (kind, code, zh)       # the Chinese name is Chinese
            assert not re.search(r"[\u4e00-\u9fff]", en), (kind, code, en)   # and the English one is not
            assert labels.label(kind, code) == zh and labels.label(kind, code, "en") == en
        for i in (0, 1):  # within a kind, two codes never share a name: a reader can tell them apart
            shown = [n[i] for n in table.values()]
            assert len(set(shown)) == len(shown), (kind, shown)
    zh, en = labels.table("zh"), labels.table("en")
    assert zh["state"]["in_progress"] == "处置中" and en["camera_status"]["VLOST"] == "Video lost"
    assert json.loads(json.dumps(zh))["ptz_type"]["3"] == "固定枪机"  # what gw.label looks up by String(code)


def test_label_of_an_unknown_or_oddly_typed_code():
    assert labels.label("state", "nope") == "nope" and labels.label("nope", "x") == "x"
    assert labels.label("state", None) == ""
    assert labels.label("ptz_type", 3) == labels.label("ptz_type", "3") == labels.label("ptz_type", 3.0) == "固定枪机"
    assert labels.label("ptz_type", True) == "True" and labels.label("ptz_type", "3.5") == "3.5"
    assert labels.label("ptz_type", float("nan")) == "nan"
    assert labels.label("point_class", "9", "en") == "Other"


def _check_codes(definition: str) -> set:
    """The codes a CHECK constraint admits, read from PostgreSQL's own text of it."""
    quoted = re.findall(r"'([^']*)'", definition)
    if quoted:
        return set(quoted)
    between = re.search(r">= (\d+)\) AND \(\w+ <= (\d+)", definition)
    if between:
        return set(range(int(between.group(1)), int(between.group(2)) + 1))
    return {int(n) for n in re.search(r"ARRAY\[([\d, ]+)\]", definition).group(1).split(",")}


# kind → (reference table, the column whose foreign key points at it): codes a table lists (0009_console)
REFERENCED = {"source": ("incident_sources", "incidents", "source"),
              "member_role": ("member_role_types", "member_roles", "role"),
              "programme": ("programmes", "cameras", "programme")}


def test_the_reference_tables_hold_exactly_the_named_codes_and_the_columns_point_at_them(demo_db):
    """The code lists with a table of their own (data/reference seeds them): the table's codes are the named
    codes, and the using column has a foreign key to it (so no other code can be stored)."""
    with demo_db.session() as s:
        for kind, (ref, table, column) in REFERENCED.items():
            assert set(s.execute(text(f"SELECT code FROM {ref}")).scalars()) == set(labels.LABELS[kind]), kind
            target = s.execute(text(
                "SELECT f.relname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                "JOIN pg_class f ON f.oid = c.confrelid JOIN pg_attribute a ON a.attrelid = t.oid "
                "AND a.attnum = ANY (c.conkey) WHERE c.contype = 'f' AND t.relname = :t AND a.attname = :c"),
                {"t": table, "c": column}).scalars().all()
            assert target == [ref], (kind, target)


def test_the_databases_check_constraints_admit_exactly_the_named_codes(demo_db):
    """The oracle is the migrated schema (what the database accepts), not the Python lists."""
    with demo_db.session() as s:
        for kind, (table, column) in CHECKED.items():
            defs = s.execute(text(
                "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (c.conkey) "
                "WHERE c.contype = 'c' AND t.relname = :t AND a.attname = :c AND array_length(c.conkey, 1) = 1"),
                {"t": table, "c": column}).scalars().all()
            admitted = [_check_codes(d) for d in defs if "IS NOT NULL" not in d.replace("IS NULL OR", "")]
            assert admitted, (kind, defs)
            assert set(labels.LABELS[kind]) in admitted, (kind, defs)
            stored = set(s.execute(text(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")).scalars())
            assert stored <= set(labels.LABELS[kind]), (kind, stored - set(labels.LABELS[kind]))


@pytest.mark.parametrize("kind, name", [("source", "sources.csv"), ("member_role", "roles.csv"),
                                        ("programme", "programmes.csv")])
def test_reference_tables_of_the_data_use_the_same_names(demo_session, kind, name):
    """After a seed (the demo's load runs ``gridwatch reference load``'s function) the database holds the
    files' names, and the names shown once the database's are overlaid (app.reference) are those too."""
    from app.reference.service import forget_names, refresh_labels, table_of

    with open(ROOT / "data" / "reference" / name, encoding="utf-8") as fh:
        rows = {r["code"]: (r["name_zh"], r["name_en"]) for r in csv.DictReader(fh)}
    assert rows == {str(k): v for k, v in labels.LABELS[kind].items()}
    stored = {c: (zh, en) for c, zh, en in demo_session.execute(text(f"SELECT code, name_zh, name_en FROM {table_of(kind)}"))}
    assert stored == rows
    try:
        refresh_labels(demo_session, force=True)
        assert labels.LABELS[kind] == rows
    finally:
        forget_names()


def test_the_camera_import_accepts_the_names_the_interface_shows():
    from camera_registry.schema import parse_value

    for kind, field in (("programme", "programme"), ("camera_status", "status"), ("ptz_type", "ptz_type"),
                        ("point_class", "point_class")):
        for code, (zh, _en) in labels.LABELS[kind].items():
            assert parse_value(field, zh, centre=None) == code, (kind, zh)


# ---- the rendered pages -------------------------------------------------------------------------------

HIDDEN = {"script", "style", "template", "noscript", "head"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SHOWN_ATTRS = ("title", "placeholder", "aria-label", "alt")


class _Visible(HTMLParser):
    """Text a reader sees: text nodes outside script/style/head, plus titles, placeholders and button values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in HIDDEN:
            self.hidden += 1
        self.parts += [a[k] for k in SHOWN_ATTRS if a.get(k)]
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.parts.append(a["value"])

    def handle_endtag(self, tag):
        if tag in HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    p = _Visible()
    p.feed(html)
    return " ".join(p.parts)


def _string_codes() -> dict[str, str]:
    out = {}
    for kind, table in labels.LABELS.items():
        for code in table:
            # digit codes (GB/T 28181 industries "00"…) are numbers a page shows beside their names, as PTZ types
            if isinstance(code, str) and not code.isdigit():
                out.setdefault(code, kind)
    return out


CODE_WORDS = _string_codes()
CODE_RE = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(sorted(map(re.escape, CODE_WORDS), key=len, reverse=True))
                     + r")(?![A-Za-z0-9_])")
RAW_PTZ = re.compile(r"\bPTZ\s*\d")


def raw_codes(shown: str) -> list[str]:
    return [f"{m.group(1)} ({CODE_WORDS[m.group(1)]})" for m in CODE_RE.finditer(shown)] + RAW_PTZ.findall(shown)


def test_the_visible_text_finder_sees_a_raw_code_and_not_a_script():
    html = ('<html><head><title>x</title></head><body><table><tr><td>in_progress</td><td>PTZ 3</td></tr></table>'
            '<script>var s = "accepted";</script><option value="closed">已办结</option>'
            '<button title="ON">开</button><p>snake_case_in_progress, inprogress</p></body></html>')
    assert raw_codes(visible_text(html)) == ["in_progress (state)", "ON (camera_status)", "PTZ 3"]


def _pages(app) -> list[str]:
    """Every page of the interface: GET routes without arguments, outside the JSON API and the assets."""
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.rule.startswith(("/api/", "/static", "/vendor")):
            continue
        out.append(rule.rule)
    return sorted(out)


ROLES = ("admin", "operator", "planner", "lead", "member")


@pytest.mark.parametrize("account", ROLES + (None,))
def test_no_page_shows_a_raw_code_in_chinese(app, demo_db, account):
    from app.demo import DEMO_ACCOUNTS, create_demo_accounts
    from tests.app.dash_helpers import login

    with demo_db.session() as s:
        grid = create_demo_accounts(s)
        s.commit()
    client = app.test_client()
    if account:
        login(client, account)
    checked = []
    for path in _pages(app):
        query = {"lang": "zh", **({"grid": grid} if path == "/dashboard/grid" and account == "admin" else {})}
        r = client.get(path, headers={"Accept": "text/html"}, query_string=query)
        if r.status_code != 200 or not r.mimetype == "text/html":
            continue
        html = r.get_data(as_text=True)
        shown = visible_text(html)
        # the bar names the account, and the audit log and the people pages name the demo accounts: a
        # username ('lead', 'admin') is a name, not a code
        for name in DEMO_ACCOUNTS:
            shown = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", "", shown)
        assert not raw_codes(shown), (account, path, raw_codes(shown))
        checked.append(path)
    expected = {None: {"/login"}, "admin": {"/dashboard/operator", "/dashboard/planner", "/dashboard/grid",
                                            "/dashboard/stats"},
                "operator": {"/dashboard/operator", "/dashboard/stats"}, "planner": {"/dashboard/planner"},
                "lead": {"/dashboard/grid"}, "member": {"/dashboard/grid"}}[account]
    assert expected <= set(checked), (account, checked)


# ---- map popups: the words of the page's language, codes by name ---------------------------------------

CODED_PROPERTIES = {"state": "state", "status": "camera_status", "programme": "programme", "ptz_type": "ptz_type",
                    "source": "source", "priority": "priority"}


def popup_specs(script: str) -> list[dict]:
    """Every layer spec the page hands ``gw.feature`` (or the older inline ``var S =``)."""
    decoder, out = json.JSONDecoder(), []
    for m in re.finditer(r"gw\.feature\(|var S = ", script):
        spec, _ = decoder.raw_decode(script, m.end())
        out.append(spec)
    return out


@pytest.mark.parametrize("account, path", [("operator", "/dashboard/operator"), ("planner", "/dashboard/planner"),
                                           ("lead", "/dashboard/grid")])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_map_popups_label_rows_in_the_pages_language_and_name_coded_values(app, demo_db, account, path, lang):
    from app.demo import create_demo_accounts
    from tests.app.dash_helpers import login

    with demo_db.session() as s:
        create_demo_accounts(s)
        s.commit()
    client = app.test_client()
    login(client, account)
    html = client.get(path, query_string={"lang": lang}).get_data(as_text=True)
    specs = [s for s in popup_specs(html) if s.get("popup")]
    rows = [row for s in specs for row in s["popup"]["fields"]]
    props = {row[1] for row in rows}
    assert {"state", "status"} <= props, props  # the incident and camera layers are there
    other = r"[\u4e00-\u9fff]" if lang == "en" else r"[A-Za-z]{2,}"
    for row in rows:
        assert not re.search(other, row[0]), (lang, row)          # "类别 category" was both
        if row[1] in CODED_PROPERTIES:
            assert len(row) == 3 and row[2] == CODED_PROPERTIES[row[1]], row
        if len(row) == 3:
            assert row[2] in labels.LABELS, row
    legends = [json.loads(m) for m in re.findall(r'div\.innerHTML = ("(?:[^"\\]|\\.)*");', html)]
    if path != "/dashboard/grid":  # the camera legend names every status in the page's language
        from layers.style import CAMERA_STATUS_COLOURS

        (legend,) = [g for g in legends if all(c in g for c in CAMERA_STATUS_COLOURS.values())]
        names = labels.names("camera_status", lang)
        assert all(n in legend for n in names.values()), (names, legend)
        if lang == "zh":
            assert not raw_codes(visible_text(legend)), legend


# ---- statistics and filters ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_statistics_name_coded_rows_and_keep_the_code_for_machines(demo_session, lang):
    from app.dashboards import stats
    from tests.settings import TEST_SETTINGS

    s, tz = demo_session, TEST_SETTINGS.timezone
    cams = stats.camera_status(s, None, lang=lang, tz=tz)
    truth = dict(s.execute(text("SELECT status, count(*) FROM cameras GROUP BY 1")).all())
    assert dict(zip(cams["code"], cams["count"])) == truth and len(cams) == len(truth)
    assert list(cams["label"]) == [labels.label("camera_status", c, lang) for c in cams["code"]]
    assert list(cams["code"]) == [c for c in labels.CODES["camera_status"] if c in truth]  # the registry's order
    grid = s.execute(text("SELECT grid_code FROM cameras WHERE grid_code IS NOT NULL LIMIT 1")).scalar()
    scoped = stats.camera_status(s, {grid}, lang=lang, tz=tz)
    assert scoped["count"].sum() == s.execute(text("SELECT count(*) FROM cameras WHERE grid_code = :g"),
                                              {"g": grid}).scalar()
    cats = stats.per_category(s, None, lang=lang, tz=tz)
    names = dict(s.execute(text(f"SELECT code, name_{lang} FROM categories")).all())
    assert all(names[c] == n for c, n in zip(cats["code"], cats["label"]))
    assert cats["count"].sum() == s.execute(text("SELECT count(*) FROM incidents")).scalar()
    streets = stats.per_street(s, None, lang=lang, tz=tz)
    street_names = dict(s.execute(text("SELECT code, name FROM streets")).all())
    assert all(street_names.get(c, "—") == n for c, n in zip(streets["code"], streets["label"]))
    csv_text = stats.table_csv(cams).decode("utf-8-sig").splitlines()
    assert csv_text[0] == "label,count,code" and len(csv_text) == len(truth) + 1
    chart = stats.charts({"camera_status": cams})["camera_status"]
    assert all(n in chart for n in cams["label"]) and "VLOST" not in chart


def test_the_filter_offers_every_state_by_name(demo_session):
    from app.dashboards import stats
    from app.incidents.models import STATES

    for lang in ("zh", "en"):
        options = stats.filter_options(demo_session, lang)["states"]
        assert [c for c, _ in options] == list(STATES)
        assert [n for _, n in options] == [labels.label("state", c, lang) for c in STATES]
