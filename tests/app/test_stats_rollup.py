"""The monthly roll-ups of the statistics (0013_stats) against the raw incidents: random incidents inserted,
updated, moved, closed, reopened and deleted, then every table from the roll-up equals the same table from the
all-rows SQL (the oracle below, and ``app.incidents.queries.on_time_rate`` for the on-time chart)."""
from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from app.dashboards import stats
from app.dashboards.stats import Area, Period, add_months
from app.incidents.models import OPEN_STATES, RESOLUTION_BINS_H, STATES
from tests.settings import TEST_SETTINGS

TZ = TEST_SETTINGS.timezone
NOW = datetime(2025, 9, 15, 4, 0, tzinfo=timezone.utc)


# -- the oracle: the old all-rows SQL with the period on reported_at (months of TZ) ---------------------------
def _cond(grids, period, area):
    conds, p = ["TRUE"], {"tz": TZ}
    if grids is not None:
        conds.append("i.grid_code = ANY(:grids)")
        p["grids"] = sorted(grids)
    if area is not None:
        conds.append({"street": "left(i.community_code, 9) = :a", "community": "i.community_code = :a",
                      "grid": "i.grid_code = :a"}[area.kind])
        p["a"] = area.code
    if period is not None and not period.all_time:
        conds.append("i.reported_at >= :t0 AND i.reported_at < :t1")
        p["t0"], p["t1"] = period.bounds(TZ)
    return " AND ".join(conds), p


def oracle(s, grids, period, area, now):
    w, p = _cond(grids, period, area)
    q = lambda sql: [tuple(r) for r in s.execute(text(sql), p).all()]  # noqa: E731
    out = {
        "per_month": q("SELECT to_char(i.reported_at AT TIME ZONE :tz, 'YYYY-MM') AS m, count(*) FROM incidents i "
                       f"WHERE {w} GROUP BY 1 ORDER BY 1"),
        "per_category": q("SELECT k.name_zh, count(*), k.code FROM incidents i JOIN categories k ON k.code = "
                          f"i.category_code WHERE {w} GROUP BY k.code, 1 ORDER BY 2 DESC, 3"),
        "per_street": q("SELECT coalesce(st.name, '—'), count(*), st.code FROM incidents i LEFT JOIN streets st "
                        f"ON st.code = left(i.community_code, 9) WHERE {w} GROUP BY st.code, 1 ORDER BY 2 DESC, 3"),
        "per_community": q("SELECT coalesce(c.name, '—'), count(*), c.code FROM incidents i LEFT JOIN communities c "
                           f"ON c.code = i.community_code WHERE {w} GROUP BY c.code, 1 ORDER BY 2 DESC, 3"),
        "per_grid": q(f"SELECT coalesce(i.grid_code, '—'), count(*) FROM incidents i WHERE {w} "
                      "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 30"),
    }
    edges = [float(e) for e in RESOLUTION_BINS_H]
    bins = dict(s.execute(text(
        "SELECT width_bucket(EXTRACT(EPOCH FROM (i.closed_at - i.reported_at)) / 3600.0, CAST(:edges AS float8[])), "
        f"count(*) FROM incidents i WHERE i.state = 'closed' AND i.closed_at IS NOT NULL AND {w} GROUP BY 1"),
        {**p, "edges": edges}).all())
    out["resolution_time"] = [bins.get(i + 1, 0) for i in range(len(edges))]
    # on-time: the independent function, month by month of dispatch
    from app.incidents.queries import on_time_rate
    from zoneinfo import ZoneInfo

    scope = grids
    if area is not None:
        col = {"street": "left(community_code, 9)", "community": "community_code", "grid": "grid_code"}[area.kind]
        in_area = {r[0] for r in s.execute(text(f"SELECT DISTINCT grid_code FROM incidents WHERE {col} = :a "
                                                "AND grid_code IS NOT NULL"), {"a": area.code})}
        scope = in_area if scope is None else scope & in_area
    all_time = period is None or period.all_time
    if all_time:  # every month from the first dispatch to the last, then trimmed to those with a rate
        first, last = s.execute(text("SELECT min(date_trunc('month', dispatched_at AT TIME ZONE :tz))::date, "
                                     "max(date_trunc('month', dispatched_at AT TIME ZONE :tz))::date FROM incidents"),
                                {"tz": TZ}).one()
        months = stats.period_months(Period(first, add_months(last, 1))) if first else []
    else:
        months = stats.period_months(period)
    zone = ZoneInfo(TZ)
    rates = []
    for m in months:
        end = add_months(m, 1)
        rate = on_time_rate(s, datetime(m.year, m.month, 1, tzinfo=zone), datetime(end.year, end.month, 1, tzinfo=zone),
                            scope, now=now)
        rates.append((m.strftime("%Y-%m"), None if rate is None else round(100 * rate, 1)))
    if all_time:
        while rates and rates[0][1] is None:
            rates.pop(0)
        while rates and rates[-1][1] is None:
            rates.pop()
    out["on_time_rate"] = rates
    return out


def from_rollup(s, grids, period, area, now):
    t = {name: fn(s, grids, lang="zh", tz=TZ, period=period, area=area)
         for name, fn in stats.TABLES.items() if name not in ("camera_status", "on_time_rate")}
    out = {name: [tuple(r) for r in f.itertuples(index=False)] for name, f in t.items()}
    out["resolution_time"] = list(t["resolution_time"]["count"])
    ot = stats.on_time(s, grids, tz=TZ, period=period, area=area, now=now)
    out["on_time_rate"] = [(a, None if b is None or b != b else b) for a, b in ot.itertuples(index=False)]
    return out


# -- random changes ---------------------------------------------------------------------------------------------
def _random_changes(s, rng: random.Random, n: int = 120) -> None:
    grids = s.execute(text("SELECT code, community_code FROM grids ORDER BY code")).all()
    cats = [r[0] for r in s.execute(text("SELECT code FROM categories ORDER BY code"))]
    source = s.execute(text("SELECT code FROM incident_sources ORDER BY code LIMIT 1")).scalar()
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    ids = []
    for k in range(n):
        g = rng.choice(grids + [(None, None)])
        reported = base + timedelta(hours=rng.uniform(0, 24 * 640))
        state = rng.choice(STATES)
        dispatched = reported + timedelta(hours=rng.uniform(0, 30)) if rng.random() < 0.8 else None
        deadline = (dispatched or reported) + timedelta(hours=rng.choice([2, 24, 72])) if rng.random() < 0.9 else None
        closed = reported + timedelta(hours=rng.choice([-1, 0.5, 3, 30, 50, 100, 200, 900])) \
            if state == "closed" and rng.random() < 0.95 else None
        ids.append(s.execute(text(
            "INSERT INTO incidents (category_code, source, geom, grid_code, community_code, state, reported_at, "
            "dispatched_at, deadline, closed_at) VALUES (:c, :src, ST_SetSRID(ST_MakePoint(104.75, 29.35), 4326), "
            ":g, :cc, :st, :r, :d, :dl, :cl) RETURNING id"),
            {"c": rng.choice(cats), "src": source, "g": g[0], "cc": g[1], "st": state, "r": reported,
             "d": dispatched, "dl": deadline, "cl": closed}).scalar())
    # one statement touching many rows at once, then single-row changes of every kind
    s.execute(text("UPDATE incidents SET version = version + 1 WHERE id = ANY(:ids)"), {"ids": ids[: n // 2]})
    for iid in rng.sample(ids, n // 3):
        kind = rng.choice(["close", "reopen", "move", "recategorise", "redate", "undispatch"])
        if kind == "close":
            s.execute(text("UPDATE incidents SET state = 'closed', closed_at = reported_at + interval '5 hours' "
                           "WHERE id = :i"), {"i": iid})
        elif kind == "reopen":
            s.execute(text("UPDATE incidents SET state = 'in_progress', closed_at = NULL WHERE id = :i"), {"i": iid})
        elif kind == "move":
            g = rng.choice(grids)
            s.execute(text("UPDATE incidents SET grid_code = :g, community_code = :c WHERE id = :i"),
                      {"g": g[0], "c": g[1], "i": iid})
        elif kind == "recategorise":
            s.execute(text("UPDATE incidents SET category_code = :c WHERE id = :i"), {"c": rng.choice(cats), "i": iid})
        elif kind == "redate":
            s.execute(text("UPDATE incidents SET reported_at = reported_at - interval '40 days' WHERE id = :i"),
                      {"i": iid})
        else:
            s.execute(text("UPDATE incidents SET dispatched_at = NULL WHERE id = :i"), {"i": iid})
    s.execute(text("DELETE FROM incidents WHERE id = ANY(:ids)"), {"ids": rng.sample(ids, n // 6)})
    s.execute(text("DELETE FROM incidents WHERE id = :i"), {"i": ids[-1]})


def _cases(s):
    grid, community = s.execute(text("SELECT grid_code, community_code FROM incidents WHERE grid_code IS NOT NULL "
                                     "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1")).one()
    street = community[:9]
    names = dict(s.execute(text("SELECT code, name FROM streets")).all())
    year = Period(date(2024, 10, 1), date(2025, 10, 1))
    return [
        (None, None, None),
        (None, year, None),
        (None, Period(date(2025, 3, 1), date(2025, 4, 1)), None),
        (None, year, Area("street", street, names.get(street, street))),
        (None, stats.ALL_TIME, Area("community", community, community)),
        (None, year, Area("grid", grid, grid)),
        ({grid}, year, None),
        ({grid}, None, Area("community", community, community)),
    ]


@pytest.mark.parametrize("seed", [1, 2])
def test_rollup_equals_the_raw_incidents_after_random_changes(demo_session, seed):
    s = demo_session
    _random_changes(s, random.Random(seed))
    for grids, period, area in _cases(s):
        assert from_rollup(s, grids, period, area, NOW) == oracle(s, grids, period, area, NOW), (grids, period, area)


def test_rebuild_counts_what_the_triggers_kept(demo_session):
    """The roll-up kept row by row equals the roll-up counted afresh (gw_stats_rebuild), row for row."""
    s = demo_session
    _random_changes(s, random.Random(3), n=60)
    kept = rollup_totals(s)
    assert kept[0] and kept[1]
    assert s.execute(text("SELECT count(*) FROM stats_incidents_monthly WHERE xact <> 0")).scalar() > 0
    s.execute(text("SELECT gw_stats_rebuild(:z)"), {"z": TZ})
    assert rollup_totals(s) == kept
    assert s.execute(text("SELECT count(*) FROM stats_incidents_monthly WHERE xact <> 0")).scalar() == 0


def rollup_totals(s):
    """Each roll-up's counts per key (summed over its transactions' rows), keys whose counts are all 0 left out."""
    bins = " + ".join(f"abs(sum(b{i}))" for i in range(1, len(RESOLUTION_BINS_H) + 1))
    return (s.execute(text("SELECT month, grid_code, community_code, category_code, sum(n), "
                           + ", ".join(f"sum(b{i})" for i in range(1, len(RESOLUTION_BINS_H) + 1))
                           + " FROM stats_incidents_monthly GROUP BY 1, 2, 3, 4 "
                           f"HAVING abs(sum(n)) + {bins} > 0 ORDER BY 1, 2, 3, 4")).all(),
            s.execute(text("SELECT month, grid_code, community_code, sum(closed), sum(on_time) "
                           "FROM stats_dispatch_monthly GROUP BY 1, 2, 3 "
                           "HAVING abs(sum(closed)) + abs(sum(on_time)) > 0 ORDER BY 1, 2, 3")).all())


def test_another_zone_recounts_the_months(demo_session):
    """An incident at 16:30 UTC on the last day of a month (00:30 the next day in Shanghai) is in the next month in Shanghai, not in London."""
    s = demo_session
    src = s.execute(text("SELECT code FROM incident_sources LIMIT 1")).scalar()
    cat = s.execute(text("SELECT code FROM categories LIMIT 1")).scalar()
    s.execute(text("TRUNCATE incidents CASCADE"))  # (rolled back; a DELETE checks 16k rows' references: 35 s)
    s.execute(text("INSERT INTO incidents (category_code, source, geom, reported_at) VALUES "
                   "(:c, :s, ST_SetSRID(ST_MakePoint(104.75, 29.35), 4326), '2025-03-31T16:30:00Z')"),
              {"c": cat, "s": src})
    assert list(stats.per_month(s, None, tz=TZ)["label"]) == ["2025-04"]
    assert stats.ensure_zone(s, "Europe/London") and stats.rollup_zone(s) == "Europe/London"
    assert list(stats.per_month(s, None, tz="Europe/London")["label"]) == ["2025-03"]
    assert not stats.ensure_zone(s, "Europe/London")


def test_truncate_empties_the_rollups(session):
    s = session
    s.execute(text("TRUNCATE incidents CASCADE"))
    assert s.execute(text("SELECT count(*) FROM stats_incidents_monthly")).scalar() == 0


# -- concurrent writers (0015_stats_xact): one delta row per transaction, folded later ------------------------
@pytest.fixture(scope="module")
def rollup_engine(database_factory):
    """A database of its own: these tests commit, from several connections at once."""
    from app.db import Database
    from app.demo import load_reference

    eng = database_factory("rollup")
    with Database(eng).session() as s:
        load_reference(s)
    return eng


@contextmanager
def _rolled_back(conn):
    """A read on a plain connection, in a transaction of its own."""
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()


def _insert_one(conn, reported: datetime) -> None:
    conn.execute(text(
        "INSERT INTO incidents (category_code, source, geom, reported_at) SELECT (SELECT min(code) FROM categories), "
        "(SELECT min(code) FROM incident_sources), ST_SetSRID(ST_MakePoint(104.75, 29.35), 4326), :r"),
        {"r": reported})


def test_two_writers_of_the_same_month_and_grid_do_not_wait_on_each_other(rollup_engine):
    """Both incidents count in the same roll-up key (no grid, one category, one month): the second writer
    must not queue behind the first one's open transaction (0013's single row per key made it wait)."""
    t = datetime(2025, 5, 10, 4, 0, tzinfo=timezone.utc)
    with rollup_engine.connect() as a, rollup_engine.connect() as b:
        before = a.execute(text("SELECT coalesce(sum(n), 0) FROM stats_incidents_monthly")).scalar()
        a.commit()
        with a.begin():
            _insert_one(a, t)
            with b.begin():
                b.execute(text("SET LOCAL lock_timeout = '3s'"))
                _insert_one(b, t + timedelta(minutes=1))  # a lock wait would fail here after 3 s
                b.execute(text("SET LOCAL lock_timeout = 0"))
        after = a.execute(text("SELECT coalesce(sum(n), 0) FROM stats_incidents_monthly")).scalar()
        assert after == before + 2
        xacts = a.execute(text("SELECT count(DISTINCT xact) FROM stats_incidents_monthly WHERE xact <> 0")).scalar()
        assert xacts >= 2


def test_the_fold_keeps_the_totals_and_leaves_open_transactions_alone(rollup_engine):
    t = datetime(2025, 6, 3, 4, 0, tzinfo=timezone.utc)
    with rollup_engine.connect() as a, rollup_engine.connect() as b, rollup_engine.connect() as c:
        for k in range(3):
            with a.begin():
                _insert_one(a, t + timedelta(days=k))
        with b.begin():  # still open while the fold runs: its rows are not the fold's to move
            # b's own trigger must not fold (it does when its txid is a multiple of FOLD_EVERY): its fold would
            # hold the fold's lock until b ends, and c's fold below would rightly skip (1 run in 64 failed)
            b.execute(text("SELECT set_config('gridwatch.stats_folded', '1', true)"))
            _insert_one(b, t)
            with _rolled_back(c) as cs:
                before = rollup_totals(cs)
            with c.begin():
                assert c.execute(text("SELECT gw_stats_fold()")).scalar() > 0
            with c.begin():
                assert c.execute(text("SELECT count(*) FROM stats_incidents_monthly WHERE xact <> 0")).scalar() == 0
            with _rolled_back(c) as cs:
                assert rollup_totals(cs) == before
        with _rolled_back(c) as cs:
            assert c.execute(text("SELECT count(*) FROM stats_incidents_monthly WHERE xact <> 0")).scalar() > 0
            total = sum(r[4] for r in rollup_totals(cs)[0])
        with c.begin():
            c.execute(text("SELECT gw_stats_fold()"))
            n_all = c.execute(text("SELECT count(*) FROM incidents")).scalar()
        assert total == n_all
        with c.begin():  # folded: one row per key again
            assert c.execute(text("SELECT count(*) FROM stats_incidents_monthly WHERE xact <> 0")).scalar() == 0
            assert c.execute(text("SELECT count(*) = count(DISTINCT (month, grid_code, community_code, "
                                  "category_code)) FROM stats_incidents_monthly")).scalar()


def test_a_second_fold_skips_instead_of_waiting(rollup_engine):
    with rollup_engine.connect() as a, rollup_engine.connect() as b:
        with a.begin():
            _insert_one(a, datetime(2025, 7, 1, 4, 0, tzinfo=timezone.utc))
        with a.begin():
            a.execute(text("SELECT gw_stats_fold()"))  # holds the fold's lock until this transaction ends
            with b.begin():
                b.execute(text("SET LOCAL lock_timeout = '3s'"))
                _insert_one(b, datetime(2025, 7, 2, 4, 0, tzinfo=timezone.utc))
            with b.begin():
                assert b.execute(text("SELECT gw_stats_fold()")).scalar() == 0
        with b.begin():
            assert b.execute(text("SELECT gw_stats_fold()")).scalar() > 0
