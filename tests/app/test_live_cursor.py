"""The live map's cursor (migration 0016_live_cursor): ``/api/incidents?after=<cursor>`` answers every change
that the answer which gave the cursor could not see, in whatever order transactions stamp and commit, and
``gone`` names the incidents that changed and left the filter, within the account's grids only.
Real PostgreSQL transactions on a committed copy of the demo; the cursor reader checked against
PostgreSQL's own parser."""
from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from sqlalchemy import text

from app.dashboards.params import MAX_XID, Params
from tests.app.dash_helpers import lead_grid, login  # noqa: F401  (lead_grid: a fixture)

NEW_INCIDENT = (
    "INSERT INTO incidents (category_code, source, description, state, grid_code, community_code, geom, "
    "reported_at) SELECT (SELECT min(code) FROM categories), 'patrol', 'live cursor', 'reported', code, "
    "community_code, ST_PointOnSurface(geom), now() - interval '3 years' FROM grids WHERE code = :g RETURNING id")


@pytest.fixture(scope="module")
def live(demo_copy):
    """(engine, Database, the grid lead's grid, a grid outside it) on a committed demo of this module's own."""
    from app.db import Database
    from app.demo import create_demo_accounts

    engine = demo_copy("live_cursor")
    database = Database(engine)
    with database.session() as s:
        lead_grid = create_demo_accounts(s)
    with engine.connect() as conn:  # the grids the lead leads, and one outside them
        lead_grids = sorted(conn.execute(text(
            "SELECT grid_code FROM member_roles WHERE role = 'lead' AND member_id = "
            "(SELECT member_id FROM member_roles WHERE role = 'lead' AND grid_code = :g LIMIT 1)"),
            {"g": lead_grid}).scalars())
        other = conn.execute(text("SELECT min(code) FROM grids WHERE NOT (code = ANY(:mine))"),
                             {"mine": lead_grids}).scalar()
    yield engine, database, lead_grid, other


def _client(settings, database, account):
    from app import create_app

    client = create_app(settings, database=database).test_client()
    login(client, account)
    return client


def _poll(client, **query):
    r = client.get("/api/incidents", query_string=query)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.get_json()


def _drop(engine, *ids: int) -> None:
    """Remove the incidents a test wrote (the module's demo copy is shared by its tests)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM incidents WHERE id = ANY(:i)"), {"i": list(ids)})


def _ids(body) -> set[int]:
    return {f["properties"]["id"] for f in body["features"]}


def test_a_report_stamped_before_a_poll_and_committed_after_it_comes_with_the_next_poll(settings, live):
    engine, database, grid, _ = live
    client = _client(settings, database, "operator")
    first = _poll(client)
    writer = engine.connect()
    try:
        writer.begin()
        new_id = writer.execute(text(NEW_INCIDENT), {"g": grid}).scalar()  # updated_at: the writer's now()
        stamped = writer.execute(text("SELECT updated_at FROM incidents WHERE id = :i"), {"i": new_id}).scalar()
        with engine.begin() as conn:  # a second report, begun later, commits first
            quick_id = conn.execute(text(NEW_INCIDENT), {"g": grid}).scalar()
        during = _poll(client, after=first["cursor"])  # runs while the first report is written, not yet committed
        assert new_id not in _ids(during) and quick_id in _ids(during)
        writer.commit()
    finally:
        writer.close()
    assert stamped < datetime.fromisoformat(during["now"])  # a time cursor ("since" = that now) has passed it
    later = _poll(client, after=during["cursor"])
    assert _ids(later) == {new_id}  # the one that poll could not see, and not the one it delivered
    assert _poll(client, after=later["cursor"])["features"] == []  # delivered once, then quiet
    _drop(engine, new_id, quick_id)


def test_rows_restored_from_another_clusters_dump_are_not_changes_on_every_poll(settings, live):
    # pg_dump writes the rows before it creates the trigger: restored rows keep the old cluster's
    # transaction ids, here larger than any this cluster has given
    engine, database, grid, _ = live
    client = _client(settings, database, "operator")
    with engine.begin() as conn:
        restored = conn.execute(text(NEW_INCIDENT), {"g": grid}).scalar()
        conn.execute(text("ALTER TABLE incidents DISABLE TRIGGER gw_incident_xid"))
        conn.execute(text("UPDATE incidents SET changed_xid = 5000000000 WHERE id = :i"), {"i": restored})
        conn.execute(text("ALTER TABLE incidents ENABLE TRIGGER gw_incident_xid"))
    try:
        first = _poll(client)
        assert restored in _ids(first)  # a marker like any other
        assert _poll(client, after=first["cursor"])["features"] == []  # and not a change on each poll
        with engine.begin() as conn:  # written again here, it is a change once
            conn.execute(text("UPDATE incidents SET description = 'edited' WHERE id = :i"), {"i": restored})
        again = _poll(client, after=first["cursor"])
        assert _ids(again) == {restored}
        assert _poll(client, after=again["cursor"])["features"] == []
    finally:
        _drop(engine, restored)


def test_the_cursor_is_taken_before_the_markers_are_read(settings, live):
    # a report committed between the two statements of an answer must come with the next poll: so the
    # cursor must be the older of the two snapshots
    from sqlalchemy import event

    engine, database, grid, _ = live
    client = _client(settings, database, "operator")
    written = []

    def between(conn, cursor, statement, params, context, executemany):
        if not written and statement.startswith("SELECT concat("):  # the markers, after the cursor
            with engine.begin() as other:  # commits after the first statement of the answer, before the next
                written.append(other.execute(text(NEW_INCIDENT), {"g": grid}).scalar())

    first = _poll(client)
    event.listen(database.engine, "before_cursor_execute", between)
    try:
        answer = _poll(client, after=first["cursor"])
    finally:
        event.remove(database.engine, "before_cursor_execute", between)
    try:
        assert written and written[0] in _ids(answer)  # the markers' statement saw it
        assert _ids(_poll(client, after=answer["cursor"])) == set(written)  # and the cursor did not
    finally:
        _drop(engine, *written)


def test_the_page_embeds_the_cursor_of_its_markers(settings, live):
    from tests.app.dash_helpers import page_data

    engine, database, grid, _ = live
    client = _client(settings, database, "operator")
    cursor = page_data(client.get("/dashboard/operator?max=20").get_data(as_text=True))["map"]["cursor"]
    assert _poll(client, after=cursor)["features"] == []
    with engine.begin() as conn:
        new_id = conn.execute(text(NEW_INCIDENT), {"g": grid}).scalar()
    try:
        assert _ids(_poll(client, after=cursor)) == {new_id}  # written after the page: the first poll brings it
    finally:
        _drop(engine, new_id)


@pytest.mark.parametrize("account", ["operator", "lead"])
def test_an_incident_that_leaves_the_filter_is_gone_within_the_accounts_grids(settings, live, account):
    engine, database, grid, other = live
    client = _client(settings, database, account)
    with engine.begin() as conn:
        mine = conn.execute(text(NEW_INCIDENT), {"g": grid}).scalar()
        theirs = conn.execute(text(NEW_INCIDENT), {"g": other}).scalar()
    try:
        cursor = _poll(client)["cursor"]
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET state = 'closed', closed_at = now() WHERE id IN (:a, :b)"),
                         {"a": mine, "b": theirs})
        open_poll = _poll(client, after=cursor)  # the default filter: open incidents
        every = _poll(client, after=cursor, state="all")
        assert mine not in _ids(open_poll) and mine in open_poll["gone"]
        assert mine in _ids(every) and every["gone"] == []  # still matches: nothing is gone
        assert open_poll["gone_truncated"] is False
        if account == "lead":  # outside the lead's grids: neither delivered nor named
            assert theirs not in _ids(open_poll) | _ids(every) and theirs not in open_poll["gone"]
        else:
            assert theirs in open_poll["gone"] and theirs in _ids(every)
        assert "gone" not in _poll(client)  # a full read has nothing to take back
    finally:
        _drop(engine, mine, theirs)


def test_an_incident_without_a_community_is_gone_from_a_street_filter(settings, live):
    # community_code NULL: the street condition is NULL, not false, and an unknown is not a match
    engine, database, grid, _ = live
    client = _client(settings, database, "operator")
    with engine.begin() as conn:
        street = conn.execute(text("SELECT street_code FROM communities ORDER BY code LIMIT 1")).scalar()
        cursor = _poll(client)["cursor"]
        outside = conn.execute(text(NEW_INCIDENT), {"g": grid}).scalar()
        conn.execute(text("UPDATE incidents SET community_code = NULL, grid_code = NULL WHERE id = :i"),
                     {"i": outside})
    try:
        body = _poll(client, after=cursor, street=street)
        assert outside not in _ids(body) and outside in body["gone"]
    finally:
        _drop(engine, outside)


def test_gone_is_capped_and_says_so(live, monkeypatch):
    from app.dashboards import service

    engine, database, grid, _ = live
    with database.session() as s:
        cursor = s.execute(text("SELECT pg_current_snapshot()::text")).scalar()
    with engine.begin() as conn:
        ids = [conn.execute(text(NEW_INCIDENT), {"g": grid}).scalar() for _ in range(3)]
        conn.execute(text("UPDATE incidents SET state = 'closed' WHERE id = ANY(:i)"), {"i": ids})
    try:
        with database.session() as s:
            flt = service.IncidentFilter(after=cursor)
            assert service.gone_ids(s, flt, None, limit=2) == (sorted(ids)[:2], True)
            assert service.gone_ids(s, flt, None, limit=3) == (sorted(ids), False)
            assert service.gone_ids(s, flt, {grid}, limit=3) == (sorted(ids), False)
            assert service.gone_ids(s, flt, set(), limit=3) == ([], False)  # no grids: nothing to name
    finally:
        _drop(engine, *ids)


@pytest.mark.parametrize("value", ["x", "5:3:", "3:10:5,4", "3:10:10", "3:10:2", "0:0:", "1:2:3:4", "1:2:,",
                                   f"{MAX_XID + 1}:{MAX_XID + 1}:", "1:" + "9" * 20 + ":", "1:2: 1", "１:２:",
                                   f"{2**32}:{2**32}:", f"1:{2**32}:", f"5:{2 * 2**32}:6"])
def test_a_cursor_the_server_never_gave_is_a_422_naming_after(client, lead_grid, value):
    login(client, "operator")
    r = client.get("/api/incidents", query_string={"after": value})
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert [e["field"] for e in r.get_json()["errors"]] == ["after"]


def test_a_cursor_far_ahead_answers_nothing(client, lead_grid):
    login(client, "operator")
    body = _poll(client, after=f"{MAX_XID - 1}:{MAX_XID}:")
    assert body["features"] == [] and body["gone"] == []


def _pg_reads(session, value: str) -> bool:
    try:
        with session.begin_nested():
            session.execute(text("SELECT CAST(:v AS pg_snapshot)"), {"v": value})
        return True
    except Exception:  # noqa: BLE001  PostgreSQL refused the text
        return False


# small ids, ids around each of the first epochs (PostgreSQL refuses an xmin or xmax of epoch · 2^32) and
# around the largest a bigint holds
XID = st.one_of(st.integers(0, 20), st.integers(1, 3).flatmap(lambda k: st.integers(k * 2**32 - 2, k * 2**32 + 2)),
                st.integers(MAX_XID - 3, MAX_XID + 3))


@hsettings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(xmin=XID, xmax=XID, xip=st.lists(XID, max_size=4))
def test_the_cursor_reader_accepts_what_postgresql_reads(session, xmin, xmax, xip):
    value = f"{xmin}:{xmax}:" + ",".join(map(str, xip))
    p = Params({"after": value})
    ours = p.snapshot("after") is not None
    if max(xmin, xmax, *xip) > MAX_XID:  # beyond a bigint the reader refuses, whatever PostgreSQL would read
        assert not ours, value
    else:  # within it, exactly what PostgreSQL's pg_snapshot reads (so a cursor never makes a 500)
        assert ours == _pg_reads(session, value), value
