"""The demo district loaded into PostGIS: counts, codes, tiling, idempotence."""
from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from app.demo import load_demo
from app.demo_dates import read_times
from app.incidents.models import OPEN_STATES
from app.incidents.queries import on_time_rate
from app.patrols.service import patrol_report, unpatrolled_grids
from tests.conftest import ROOT
from tests.settings import DISTRICT, TEST_SETTINGS

TABLES = ["streets", "communities", "grids", "members", "member_roles", "cameras", "incidents", "roads",
          "buildings", "service_centres", "renovation_sites", "categories", "patrol_points"]


def _count(s, table, where="true"):
    return s.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar()


def test_demo_counts(demo_session):
    s = demo_session
    assert _count(s, "streets") == 16
    assert _count(s, "communities") == 34
    assert _count(s, "cameras", "programme = 'skynet'") == 371
    assert _count(s, "service_centres") == 22
    assert _count(s, "renovation_sites") == 8
    assert 200 <= _count(s, "grids") <= 600
    assert 15000 <= _count(s, "incidents") <= 17000
    assert _count(s, "cameras", "programme IN ('xueliang', 'compound')") > 0


def test_urban_communities_sit_in_the_four_streets(demo_session):
    rows = demo_session.execute(text(
        "SELECT s.kind, count(*) FROM communities c JOIN streets s ON s.code = c.street_code GROUP BY s.kind")).all()
    by_kind = dict(rows)
    assert by_kind["street"] == 22
    assert by_kind.get("town", 0) + by_kind.get("township", 0) == 12
    per_town = demo_session.execute(text(
        "SELECT count(*) FROM communities c JOIN streets s ON s.code = c.street_code "
        "WHERE s.kind <> 'street' GROUP BY s.code")).scalars().all()
    assert per_town == [1] * 12


def test_every_code_is_valid(demo_session):
    from camera_registry.models import Camera  # noqa: F401  (table registered)
    from gis.codes import COMMUNITY, GRID, STREET

    s = demo_session
    for code, in s.execute(text("SELECT code FROM streets")):
        STREET.validate(code, parent="510304")
    for code, street in s.execute(text("SELECT code, street_code FROM communities")):
        COMMUNITY.validate(code, parent=street)
    for code, comm in s.execute(text("SELECT code, community_code FROM grids")):
        GRID.validate(code, parent=comm)
    ids = s.execute(text("SELECT device_id FROM cameras")).scalars().all()
    assert all(re.fullmatch(r"51030400\d{12}", d) for d in ids)
    assert len(set(ids)) == len(ids)


def test_grids_tile_their_communities(demo_session):
    """No overlap and no gap over 1 m², measured by PostGIS in EPSG:4544."""
    rows = demo_session.execute(text(
        "WITH u AS (SELECT community_code, ST_Union(geom) AS g, sum(ST_Area(ST_Transform(geom, 4544))) AS a "
        "           FROM grids GROUP BY community_code) "
        "SELECT c.code, ST_Area(ST_Transform(ST_SymDifference(c.geom, u.g), 4544)) AS diff, "
        "       u.a - ST_Area(ST_Transform(c.geom, 4544)) AS overlap "
        "FROM communities c JOIN u ON u.community_code = c.code")).all()
    assert len(rows) == 34
    bad = [(code, diff, overlap) for code, diff, overlap in rows if diff > 1.0 or abs(overlap) > 1.0]
    assert not bad


def test_every_grid_has_exactly_one_lead(demo_session):
    counts = demo_session.execute(text(
        "SELECT g.code, count(r.id) FROM grids g LEFT JOIN member_roles r ON r.grid_code = g.code AND r.role = 'lead' "
        "GROUP BY g.code")).all()
    assert counts and all(n == 1 for _, n in counts)


def test_incidents_carry_the_grid_that_covers_them(demo_session):
    mismatched = demo_session.execute(text(
        "SELECT count(*) FROM incidents i WHERE i.grid_code IS DISTINCT FROM "
        "(SELECT min(g.code) FROM grids g WHERE ST_Covers(g.geom, i.geom))")).scalar()
    assert mismatched == 0
    assert _count(demo_session, "incidents", "grid_code IS NULL") == 0


# the row as it reads, without the bookkeeping of who wrote it last (the live map's cursor, migration 0016)
_ROW_TEXT = {"incidents": "(to_jsonb(x) - 'changed_xid' || jsonb_build_object('geom', ST_AsEWKB(x.geom)::text))::text"}


def _fingerprint(s, extra=()):
    def row(t):
        return _ROW_TEXT.get(t, "x::text")
    return {t: s.execute(text(f"SELECT count(*), md5(string_agg(md5({row(t)}), '' ORDER BY md5({row(t)}))) "
                              f"FROM {t} x")).one() for t in [*TABLES, *extra]}


def test_load_demo_twice_leaves_identical_rows(demo_session):
    before = _fingerprint(demo_session)
    load_demo(demo_session, ROOT / "data", settings=TEST_SETTINGS, keep_dates=True)
    demo_session.flush()
    after = _fingerprint(demo_session)
    # events and revisions may record the re-run, but the district's rows must be identical
    assert {t: v[0] for t, v in after.items()} == {t: v[0] for t, v in before.items()}
    stable = [t for t in TABLES if t not in ("incidents", "cameras")]
    assert {t: after[t] for t in stable} == {t: before[t] for t in stable}


# -- the demo's dates follow the clock (app.demo_dates) ------------------------------------------
DEMO = ROOT / "data" / "demo"
NOW = datetime(2026, 6, 2, 10, 30, tzinfo=DISTRICT.tz)  # a Tuesday; in the past, as the importers require
DEMO_ROWS = "external_id LIKE 'DA2025-%'"


def _file_hashes():
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(DEMO.iterdir())}


def _load(s, **kw):
    counts = load_demo(s, ROOT / "data", settings=TEST_SETTINGS, **kw)
    s.flush()
    return counts


def _late_share_intended() -> float:
    """P(close after the deadline) of the generator's log-normal (median 45 % of the deadline, sigma 0.7)."""
    z = math.log(1 / 0.45) / 0.7
    return 0.5 * math.erfc(z / math.sqrt(2))


def _overdue(s, now) -> tuple[int, int]:
    """(open demo incidents, of them past their deadline at ``now``)."""
    return tuple(s.execute(text(
        f"SELECT count(*), count(*) FILTER (WHERE deadline < :now) FROM incidents WHERE {DEMO_ROWS} "
        "AND state = ANY(:open)"), {"now": now, "open": list(OPEN_STATES)}).one())


def test_load_demo_moves_the_demo_to_now_in_whole_days_with_real_patrols(demo_session):
    s = demo_session
    hashes = _file_hashes()
    counts = _load(s, now=NOW)
    assert _file_hashes() == hashes  # the shift happens in the database only
    newest = s.execute(text(f"SELECT greatest(max(reported_at), max(closed_at)) FROM incidents WHERE {DEMO_ROWS}")
                       ).scalar()
    newest = max(newest, s.execute(text("SELECT max(at) FROM patrol_points")).scalar())
    assert NOW - timedelta(days=1) < newest <= NOW
    times = read_times(DEMO)
    # every incident: same wall-clock time, whole days later; its events and deadline moved with it
    off = s.execute(text(
        f"SELECT count(*) FILTER (WHERE (i.reported_at AT TIME ZONE :tz) - (f.rep AT TIME ZONE :tz) "
        "                       <> make_interval(days => :d)), count(*) "
        "FROM incidents i JOIN unnest(CAST(:ids AS text[]), CAST(:rep AS timestamptz[])) AS f(ext, rep) "
        "ON f.ext = i.external_id"),
        {"tz": DISTRICT.timezone, "d": counts["days shifted"], "ids": list(times.reported),
         "rep": list(times.reported.values())}).one()
    assert off == (0, len(times.reported))
    assert s.execute(text(
        "SELECT count(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id WHERE "
        "(e.action = 'report' AND e.at <> i.reported_at) OR "
        "(e.action = 'import' AND e.at <> coalesce(i.closed_at, i.dispatched_at, i.reported_at))")).scalar() == 0
    assert s.execute(text(
        "SELECT count(*) FROM incidents i JOIN categories c ON c.code = i.category_code WHERE i.deadline <> "
        "i.dispatched_at + make_interval(secs => 3600 * CASE i.priority WHEN 'urgent' THEN c.urgent_h "
        "WHEN 'high' THEN c.high_h WHEN 'low' THEN c.low_h ELSE c.normal_h END)")).scalar() == 0
    # overdue as the generator intends: ~13 % of closed ones closed late, the open ones mostly not yet due
    late = s.execute(text(f"SELECT avg(CAST(closed_at > deadline AS int)) FROM incidents WHERE {DEMO_ROWS} "
                          "AND state = 'closed'")).scalar()
    intended = _late_share_intended()
    assert abs(float(late) - intended) < 0.03
    n_open, n_overdue = _overdue(s, NOW)
    assert 20 <= n_open <= 0.01 * len(times.reported)   # a day's work or two, not a backlog
    assert 1 <= n_overdue <= 0.5 * n_open               # never the old 208 of 351
    # the on-time chart: each of the 11 months before has a rate, about 1 - the late share
    for k in range(1, 12):  # the month of NOW has hardly begun
        year, month = divmod(NOW.year * 12 + NOW.month - 1 - k, 12)
        start = datetime(year, month + 1, 1, tzinfo=DISTRICT.tz)
        end = (start + timedelta(days=32)).replace(day=1)
        rate = on_time_rate(s, start, end, now=NOW)
        assert rate is not None and abs(rate - (1 - intended)) < 0.08, (start, rate)
    _patrols_of_the_last_week(s)


def _patrols_of_the_last_week(s):
    """The grid page's table (last 7 days, today included) shows real numbers for most urban grids."""
    urban = s.execute(text("SELECT g.code FROM grids g JOIN communities c ON c.code = g.community_code "
                           "WHERE c.urban ORDER BY g.code")).scalars().all()
    today = NOW.date()
    t0 = datetime.combine(today - timedelta(days=6), datetime.min.time(), DISTRICT.tz)
    walked = s.execute(text("SELECT count(DISTINCT grid_code) FROM patrol_points WHERE grid_code = ANY(:g) "
                            "AND at >= :t0 AND at <= :now"), {"g": urban, "t0": t0, "now": NOW}).scalar()
    assert walked > 0.5 * len(urban)
    sample = urban[::len(urban) // 12]  # the report itself on a sample: it costs ~0.3 s per member-day
    report = patrol_report(s, today - timedelta(days=6), today, sample, settings=TEST_SETTINGS)
    per_grid = report.groupby("grid_code")[["points", "minutes_in_grid"]].sum()
    assert ((per_grid["points"] > 0) & (per_grid["minutes_in_grid"] > 0)).sum() > 0.5 * len(sample)
    assert set(report["day"]) <= {today - timedelta(days=k) for k in range(7)}
    idle = unpatrolled_grids(s, 7, urban, now=NOW)
    assert 0 < len(idle) < 0.5 * len(urban)  # a few grids nobody walked: the flag has something to show




def test_overdue_share_right_after_the_snapshot_is_the_generators(demo_session):
    """A minute after the (moved) newest record nothing more is due: the share is the generator's own."""
    s = demo_session
    newest = read_times(DEMO).newest
    just_after = datetime.combine(NOW.date(), newest.astimezone(DISTRICT.tz).timetz()).replace(
        tzinfo=DISTRICT.tz) + timedelta(minutes=1)
    _load(s, now=just_after)
    n_open, n_overdue = _overdue(s, just_after)
    assert abs(n_overdue / n_open - _late_share_intended()) < 0.08


def test_reload_same_day_changes_nothing_and_a_later_day_moves_every_row(demo_session):
    s = demo_session
    extra = ["incident_events"]
    original = _fingerprint(s, extra)
    _load(s, now=NOW)
    first = _fingerprint(s, extra)
    again = _load(s, now=NOW + timedelta(hours=3))  # same day: the same shift
    assert again["incidents moved"] == 0
    assert {t: v for t, v in _fingerprint(s, extra).items() if t != "cameras"} == \
        {t: v for t, v in first.items() if t != "cameras"}  # cameras: see test_load_demo_twice…
    touched = s.execute(text(f"SELECT id, reported_at FROM incidents WHERE {DEMO_ROWS} ORDER BY id LIMIT 1")).one()
    s.execute(text("INSERT INTO incident_events (incident_id, at, actor, action, note) VALUES "
                   "(:i, now(), 'operator', 'comment', 'worked on in the demo')"), {"i": touched.id})
    before = dict(s.execute(text(f"SELECT external_id, reported_at FROM incidents WHERE {DEMO_ROWS}")).all())
    points = s.execute(text("SELECT count(*), min(at), max(at) FROM patrol_points")).one()
    later = _load(s, now=NOW + timedelta(days=9))
    after = dict(s.execute(text(f"SELECT external_id, reported_at FROM incidents WHERE {DEMO_ROWS}")).all())
    assert later["incidents moved"] == len(before) - 1
    moved = {k: after[k] - before[k] for k in before}
    assert moved.pop(s.execute(text("SELECT external_id FROM incidents WHERE id = :i"), {"i": touched.id}).scalar()
                     ) == timedelta(0)  # someone worked on it: its timeline stays true
    assert set(moved.values()) == {timedelta(days=9)}
    counts = {t: v[0] for t, v in _fingerprint(s, extra).items()}
    assert counts == {t: v[0] for t, v in first.items()} | {"incident_events": first["incident_events"][0] + 1}
    assert tuple(s.execute(text("SELECT count(*), min(at), max(at) FROM patrol_points")).one()) == (
        points[0], points[1] + timedelta(days=9), points[2] + timedelta(days=9))
    s.execute(text("DELETE FROM incident_events WHERE actor = 'operator'"))
    _load(s, keep_dates=True)  # back to the files' own dates: the rows the fixture loaded
    back = _fingerprint(s, extra)
    assert {t: v for t, v in back.items() if t not in ("patrol_points", "cameras")} == \
        {t: v for t, v in original.items() if t not in ("patrol_points", "cameras")}
    assert back["patrol_points"][0] == original["patrol_points"][0]  # replaced, so new ids, same count
