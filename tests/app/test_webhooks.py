"""The outgoing webhook against a receiver on 127.0.0.1 that checks every signature itself.

Most tests run on a database of their own with committed data (the worker's transactions, and two
workers at once, must see each other's commits, which the rolled-back ``demo_db`` cannot show); the
admin page's tests use the usual ``client`` on the demo district. Time is the tests' own: every worker
function takes ``now``, so back-off is checked without sleeping.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.app.dash_helpers import TOKEN, lead_grid, login  # noqa: F401  (fixture)
from tests.settings import TEST_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-for-the-test-receiver"
EVENTS_OF_LOOP = ["created", "dispatched", "resolved", "closed"]


# -- the receiver ------------------------------------------------------------------------------------------
class Receiver:
    """An HTTP server on 127.0.0.1 that verifies each request's signature with ``SECRET`` (recomputed here,
    not with the worker's function) and answers from ``script`` (then 200): a status code, or "hang" to
    answer only after the client has given up."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts = self.headers.get("X-Gridwatch-Timestamp", "")
                expected = "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                with outer.lock:
                    step = outer.script.pop(0) if outer.script else 200
                    outer.requests.append({
                        "headers": dict(self.headers), "body": body, "json": json.loads(body),
                        "signed": hmac.compare_digest(expected, self.headers.get("X-Gridwatch-Signature", "")),
                        "answer": step})
                if step == "hang":
                    time.sleep(1.5)
                    step = 200
                try:
                    self.send_response(step)
                    self.send_header("Content-Type", "text/html")
                    self.end_headers()
                    self.wfile.write(b"<b>answer</b> " + str(step).encode())
                except OSError:
                    pass  # the worker gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[str]:
        return [r["json"]["event"] for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# -- a committed database with the district's grids, members and the demo accounts ---------------------------
@pytest.fixture(scope="module")
def hook_engine(database_factory):
    from app.db import Database
    from app.demo import create_demo_accounts, load_boundaries, load_members, load_reference

    eng = database_factory("webhooks")
    with Database(eng).session() as s:
        load_reference(s, ROOT / "data")
        load_boundaries(s, ROOT / "data" / "demo")
        load_members(s, ROOT / "data" / "demo")
        create_demo_accounts(s)
    return eng


@pytest.fixture
def hdb(hook_engine):
    """A ``Database`` on the committed webhook database, emptied of incidents and deliveries first."""
    from app.db import Database

    db = Database(hook_engine)
    with db.session() as s:
        s.execute(text("TRUNCATE webhook_deliveries, webhook_cursor, incidents RESTART IDENTITY CASCADE"))
    return db


def hook_settings(receiver, **kw):
    values = {"webhook_url": receiver.url, "webhook_secret": SECRET, "webhook_timeout_s": 0.5,
              "webhook_max_attempts": 8, **kw}
    return TEST_SETTINGS.replace(**values)


def _user(s, name):
    from app.accounts.auth import user_by_name

    return user_by_name(s, name)


def _report(db, settings, *, phone="13800001111", name="张三", at=None, key=None):
    """One report in the member's grid (through the incident service), committed; returns its id."""
    from app.incidents.service import report_incident

    with db.session() as s:
        member = _user(s, "member")
        lon, lat = s.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(g.geom) p FROM grids g JOIN member_roles r "
            "ON r.grid_code = g.code WHERE r.member_id = :m ORDER BY g.code LIMIT 1) q"),
            {"m": member.member_id}).one()
        category = s.scalar(text("SELECT min(code) FROM categories"))
        inc = report_incident(s, category=category, source="hotline", description="垃圾堆放 described privately",
                              lon=lon, lat=lat, reporter_name=name, reporter_phone=phone, actor=_user(s, "operator"),
                              reported_at=at, idempotency_key=key, settings=settings)
        return inc.id


def _act(db, incident_id, action, who, **kw):
    from app.incidents.service import transition

    with db.session() as s:
        user = _user(s, who)
        if action == "dispatch":
            kw.setdefault("member_id", _user(s, "member").member_id)
        transition(s, incident_id, action, user, **kw)


def _deliveries(db):
    with db.session() as s:
        return [dict(r) for r in s.execute(text(
            "SELECT id, event, incident_id, status, attempts, last_status, last_error, next_attempt_at, "
            "last_attempt_at, delivered_at, dedupe_key FROM webhook_deliveries ORDER BY id")).mappings()]


def _set_up(db, settings, now=None):
    """The first pass ever: the webhook starts at the current last event."""
    from app.webhooks.worker import run_once

    result = run_once(db, settings, now or datetime.now(timezone.utc))
    assert result.scan.started and result.scan.total == 0
    return result


# -- the loop's events ---------------------------------------------------------------------------------------
def test_the_loop_sends_created_dispatched_resolved_closed_once_each_signed(hdb, receiver):
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver)
    before = _report(hdb, settings)  # history before the webhook was set up: never sent
    _act(hdb, before, "accept", "operator")
    _set_up(hdb, settings)
    assert receiver.requests == []

    inc = _report(hdb, settings)
    now = datetime.now(timezone.utc)
    assert [o.status for o in run_once(hdb, settings, now).sent] == ["delivered"]
    _act(hdb, inc, "accept", "operator")
    _act(hdb, inc, "dispatch", "operator")
    _act(hdb, inc, "start", "member")
    _act(hdb, inc, "resolve", "member", note="清理完毕")
    _act(hdb, inc, "pass_check", "operator")
    _act(hdb, inc, "comment", "operator", note="不推送")
    run_once(hdb, settings, now)
    for _ in range(3):  # more passes send nothing again
        again = run_once(hdb, settings, now)
        assert again.scan.total == 0 and again.sent == []

    assert receiver.events() == EVENTS_OF_LOOP
    assert all(r["signed"] for r in receiver.requests)
    states = [r["json"]["incident"]["state"] for r in receiver.requests]
    assert states == ["reported", "dispatched", "resolved", "closed"]
    ids = [r["json"]["id"] for r in receiver.requests]
    assert len(set(ids)) == 4
    for r in receiver.requests:
        h, doc = r["headers"], r["json"]
        assert h["Content-Type"].startswith("application/json")
        assert h["X-Gridwatch-Event"] == doc["event"] and h["X-Gridwatch-Delivery"] == str(doc["id"])
        assert h["X-Gridwatch-Timestamp"] == str(int(now.timestamp()))
        assert doc["incident"]["id"] == inc and doc["incident"]["grid_code"]
        assert datetime.fromisoformat(doc["occurred_at"]).tzinfo is not None
        # personal data stays in: no reporter's phone or name, no description
        assert b"13800001111" not in r["body"] and "张三".encode() not in r["body"]
        assert "described privately".encode() not in r["body"]
    assert receiver.requests[1]["json"]["incident"]["deadline"] is not None
    rows = _deliveries(hdb)
    assert [d["status"] for d in rows] == ["delivered"] * 4 and all(d["attempts"] == 1 for d in rows)


def test_void_and_redispatch_are_sent_as_closed_and_dispatched(hdb, receiver):
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver)
    _set_up(hdb, settings)
    a, b = _report(hdb, settings), _report(hdb, settings)
    _act(hdb, a, "void", "operator", note="无效")
    _act(hdb, b, "accept", "operator")
    _act(hdb, b, "dispatch", "operator")
    _act(hdb, b, "start", "member")
    _act(hdb, b, "resolve", "member", note="好了")
    _act(hdb, b, "fail_check", "operator", note="没清干净")
    run_once(hdb, settings)
    got = [(r["json"]["incident"]["id"], r["json"]["event"], r["json"]["incident"]["state"]) for r in receiver.requests]
    assert sorted(got) == sorted([(a, "created", "reported"), (b, "created", "reported"), (a, "closed", "voided"),
                                  (b, "dispatched", "dispatched"), (b, "resolved", "resolved"),
                                  (b, "dispatched", "dispatched")])


def test_nothing_is_queued_while_no_url_is_set(hdb, receiver):
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver, webhook_url="")
    _report(hdb, settings)
    result = run_once(hdb, settings)
    assert result.scan.total == 0 and result.sent == []
    with hdb.session() as s:
        assert s.scalar(text("SELECT count(*) FROM webhook_cursor")) == 0
        assert s.scalar(text("SELECT count(*) FROM webhook_deliveries")) == 0
    assert receiver.requests == []


def test_a_historical_import_after_set_up_is_read_past_not_sent(hdb, receiver):
    """Events dated before the webhook's start are history however late they are written: importing last
    year's incidents (the importer dates each report event at its incident's own time) sends nothing,
    while a live report written with them is sent."""
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver)
    _set_up(hdb, settings)
    year_ago = datetime.now(timezone.utc) - timedelta(days=365)
    old = [_report(hdb, settings, at=year_ago + timedelta(hours=k)) for k in range(3)]
    live = _report(hdb, settings)
    result = run_once(hdb, settings)
    assert [(d["event"], d["incident_id"]) for d in _deliveries(hdb)] == [("created", live)]
    assert result.scan.read >= len(old) + 1          # the old events were read (the cursor passes them) …
    assert run_once(hdb, settings).scan.total == 0   # … and are never queued later either
    assert [r["headers"]["X-Gridwatch-Event"] for r in receiver.requests] == ["created"]


def test_an_event_committed_after_a_later_one_is_not_skipped(hdb, receiver):
    """Event ids come from a sequence: a transaction holding a lower id may commit after a higher one was read.
    A cursor that jumped to the highest id read would never send it."""
    from app.db import Database
    from app.incidents.service import report_incident
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver)
    _set_up(hdb, settings)
    slow_conn = hdb.engine.connect()
    slow_trans = slow_conn.begin()
    try:
        with Database(slow_conn).Session() as s:  # an open transaction that has drawn its event id
            member = _user(s, "member")
            lon, lat = s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                                      "WHERE code IN (SELECT grid_code FROM member_roles WHERE member_id = :m) "
                                      "ORDER BY code LIMIT 1) q"), {"m": member.member_id}).one()
            slow = report_incident(s, category=s.scalar(text("SELECT min(code) FROM categories")), source="patrol",
                                   description="", lon=lon, lat=lat, actor=member, settings=settings)
            s.flush()
            slow_event = s.scalar(text("SELECT max(id) FROM incident_events WHERE incident_id = :i"), {"i": slow.id})
            fast = _report(hdb, settings)  # reported and committed meanwhile, with a higher event id
            with hdb.session() as s2:
                fast_event = s2.scalar(text("SELECT max(id) FROM incident_events WHERE incident_id = :i"), {"i": fast})
            assert slow_event < fast_event
            for _ in range(4):
                run_once(hdb, settings)
            with hdb.session() as s2:
                assert s2.scalar(text("SELECT last_event_id FROM webhook_cursor")) < slow_event
            s.commit()
        slow_trans.commit()
    finally:
        slow_conn.close()
    for _ in range(3):
        run_once(hdb, settings)
    sent = sorted(r["json"]["incident"]["id"] for r in receiver.requests)
    assert sent == sorted([slow.id, fast]) and receiver.events() == ["created", "created"]
    with hdb.session() as s:  # and the cursor moved on once nothing could still appear below it
        assert s.scalar(text("SELECT last_event_id FROM webhook_cursor")) >= fast_event


def test_two_workers_at_once_send_each_event_once(hdb, receiver):
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver)
    _set_up(hdb, settings)
    incidents = [_report(hdb, settings) for _ in range(6)]
    for inc in incidents[:3]:
        _act(hdb, inc, "accept", "operator")
        _act(hdb, inc, "dispatch", "operator")
    start, errors = threading.Barrier(2), []

    def worker():
        try:
            start.wait()
            for _ in range(4):
                run_once(hdb, settings)
        except Exception as exc:  # noqa: BLE001  reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    ids = [r["headers"]["X-Gridwatch-Delivery"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 9
    assert sorted(receiver.events()) == ["created"] * 6 + ["dispatched"] * 3
    rows = _deliveries(hdb)
    assert len(rows) == 9 and {d["status"] for d in rows} == {"delivered"} and {d["attempts"] for d in rows} == {1}


# -- deadlines -----------------------------------------------------------------------------------------------
def test_due_soon_then_overdue_once_each_per_deadline(hdb, receiver):
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver)
    # overdue before the webhook was set up: not sent (no flood of old deadlines)
    old = _report(hdb, settings, at=datetime.now(timezone.utc) - timedelta(days=20))
    _act(hdb, old, "accept", "operator")
    _act(hdb, old, "dispatch", "operator", at=datetime.now(timezone.utc) - timedelta(days=20))
    _set_up(hdb, settings)
    inc = _report(hdb, settings)
    _act(hdb, inc, "accept", "operator")
    _act(hdb, inc, "dispatch", "operator")
    run_once(hdb, settings)
    with hdb.session() as s:
        deadline, dispatched = s.execute(text("SELECT deadline, dispatched_at FROM incidents WHERE id = :i"),
                                         {"i": inc}).one()
    hours = timedelta(hours=settings.due_soon_hours)
    assert deadline - dispatched > hours  # the category's deadline is longer than the due-soon window
    assert receiver.events() == ["created", "dispatched"]

    run_once(hdb, settings, deadline - hours - timedelta(minutes=1))
    assert receiver.events() == ["created", "dispatched"]
    for _ in range(2):
        run_once(hdb, settings, deadline - hours + timedelta(minutes=1))
    assert receiver.events()[2:] == ["due_soon"]
    for _ in range(2):
        run_once(hdb, settings, deadline + timedelta(minutes=1))
    assert receiver.events()[2:] == ["due_soon", "overdue"]
    soon, late = receiver.requests[2]["json"], receiver.requests[3]["json"]
    assert soon["incident"]["id"] == late["incident"]["id"] == inc
    assert datetime.fromisoformat(soon["occurred_at"]) == deadline - hours
    assert datetime.fromisoformat(late["occurred_at"]) == deadline
    assert all(r["signed"] for r in receiver.requests)
    # a closed incident is neither due soon nor overdue
    _act(hdb, inc, "start", "member")
    _act(hdb, inc, "resolve", "member", note="ok")
    _act(hdb, inc, "pass_check", "operator")
    run_once(hdb, settings, deadline + timedelta(days=2))
    assert receiver.events()[4:] == ["resolved", "closed"]
    assert old not in {r["json"]["incident"]["id"] for r in receiver.requests}


def test_deadline_scan_agrees_with_the_python_rule(hdb, receiver):
    """Differential: after each probe time, the incidents ever queued as overdue (due soon) are exactly those
    that ``is_overdue`` (``is_due_soon``) said of at some probe so far, judged row by row in Python."""
    from app.incidents.models import Incident
    from app.incidents.queries import is_due_soon, is_overdue
    from app.webhooks.worker import scan

    settings = hook_settings(receiver)
    _set_up(hdb, settings, datetime.now(timezone.utc) - timedelta(days=30))
    base = datetime.now(timezone.utc)
    ids = [_report(hdb, settings) for _ in range(8)]
    for n, inc in enumerate(ids[:6]):
        _act(hdb, inc, "accept", "operator")
        _act(hdb, inc, "dispatch", "operator", at=base - timedelta(hours=7 * n))
    _act(hdb, ids[0], "start", "member")
    _act(hdb, ids[0], "resolve", "member", note="ok")  # resolved, not checked yet: still open
    _act(hdb, ids[1], "start", "member")
    _act(hdb, ids[1], "resolve", "member", note="ok")
    _act(hdb, ids[1], "pass_check", "operator")
    want = {"overdue": set(), "due_soon": set()}
    for probe in (base, base + timedelta(hours=10), base + timedelta(hours=24), base + timedelta(hours=48),
                  base + timedelta(days=9)):
        with hdb.session() as s:
            scan(s, settings, probe)
            for i in s.query(Incident):
                if is_overdue(i, probe):
                    want["overdue"].add(i.id)
                if is_due_soon(i, settings.due_soon_hours, probe):
                    want["due_soon"].add(i.id)
            got = {ev: set(s.scalars(text("SELECT incident_id FROM webhook_deliveries WHERE event = :e"), {"e": ev}))
                   for ev in want}
        assert got == want, probe
    assert want["overdue"] and want["due_soon"], "the probes reach both sides of some deadlines"
    assert ids[1] not in want["overdue"] | want["due_soon"]


# -- failures, back-off, give-up, retry ----------------------------------------------------------------------
def test_a_receiver_failing_at_first_gets_the_event_with_back_off(hdb, receiver):
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver)
    _set_up(hdb, settings)
    _report(hdb, settings)
    receiver.script = [500, 500, "hang"]
    t0 = datetime.now(timezone.utc).replace(microsecond=0)

    run_once(hdb, settings, t0)
    [d] = _deliveries(hdb)
    assert (d["status"], d["attempts"], d["last_status"]) == ("pending", 1, 500)
    assert d["last_error"].startswith("HTTP 500") and d["next_attempt_at"] == t0 + timedelta(seconds=30)
    assert run_once(hdb, settings, t0 + timedelta(seconds=29)).sent == []  # not due yet
    run_once(hdb, settings, t0 + timedelta(seconds=30))
    [d] = _deliveries(hdb)
    assert (d["attempts"], d["next_attempt_at"]) == (2, t0 + timedelta(seconds=90))
    run_once(hdb, settings, t0 + timedelta(seconds=90))
    [d] = _deliveries(hdb)
    assert (d["status"], d["attempts"], d["last_status"]) == ("pending", 3, None)
    assert "timeout" in d["last_error"] and d["next_attempt_at"] == t0 + timedelta(seconds=210)
    assert run_once(hdb, settings, t0 + timedelta(seconds=209)).sent == []
    run_once(hdb, settings, t0 + timedelta(seconds=210))
    [d] = _deliveries(hdb)
    assert (d["status"], d["attempts"], d["last_status"], d["last_error"]) == ("delivered", 4, 200, None)
    assert d["delivered_at"] == t0 + timedelta(seconds=210)

    assert [r["answer"] for r in receiver.requests] == [500, 500, "hang", 200]
    assert len({r["body"] for r in receiver.requests}) == 1  # the same body every time …
    assert len({r["headers"]["X-Gridwatch-Delivery"] for r in receiver.requests}) == 1  # … and the same id
    assert [int(r["headers"]["X-Gridwatch-Timestamp"]) - int(t0.timestamp()) for r in receiver.requests] == \
        [0, 30, 90, 210]
    assert all(r["signed"] for r in receiver.requests)


def test_each_delivery_of_a_backlog_is_signed_at_its_own_time(hdb, receiver):
    """A running worker reads the clock per delivery: behind a slow receiver the last of a backlog still
    carries a fresh timestamp (receivers refuse old ones as replays), not the one the pass began with."""
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver)
    _set_up(hdb, settings)
    for _ in range(3):
        _report(hdb, settings)
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    ticks = iter(range(0, 3600, 100))   # every read of the clock: 100 s later (a receiver that takes long)
    clock = lambda: t0 + timedelta(seconds=next(ticks))  # noqa: E731
    result = run_once(hdb, settings, clock=clock)
    assert len(result.sent) == 3 and all(r["signed"] for r in receiver.requests)
    stamps = [int(r["headers"]["X-Gridwatch-Timestamp"]) - int(t0.timestamp()) for r in receiver.requests]
    assert stamps == [100, 200, 300]    # the scan read the clock at 0, each delivery at its own time
    assert [d["delivered_at"] for d in _deliveries(hdb)] == [t0 + timedelta(seconds=s) for s in stamps]


def test_backoff_doubles_and_is_capped():
    from app.webhooks.worker import BACKOFF_MAX_S, backoff

    assert [backoff(n).total_seconds() for n in range(1, 6)] == [30, 60, 120, 240, 480]
    assert backoff(40).total_seconds() == BACKOFF_MAX_S == 3600


def test_max_attempts_then_failed_and_retry_sends_it(hdb, receiver, tmp_path):
    from click.testing import CliRunner

    from app.cli import Context, main
    from app.webhooks.worker import run_once

    settings = hook_settings(receiver, webhook_max_attempts=2)
    _set_up(hdb, settings)
    _report(hdb, settings)
    receiver.script = [503, 503]
    t0 = datetime.now(timezone.utc)
    run_once(hdb, settings, t0)
    run_once(hdb, settings, t0 + timedelta(seconds=30))
    [d] = _deliveries(hdb)
    assert (d["status"], d["attempts"], d["last_status"]) == ("failed", 2, 503)
    assert run_once(hdb, settings, t0 + timedelta(days=1)).sent == []  # given up: never sent by itself

    def cli(*args):
        ctx = Context(settings)
        ctx._db = hdb
        return CliRunner().invoke(main, list(args), obj=ctx, catch_exceptions=False)

    listed = cli("webhooks", "list", "--status", "failed")
    assert listed.exit_code == 0
    line = [ln for ln in listed.output.splitlines() if ln.startswith(f"{d['id']}\t")]
    assert line and "\tfailed\tcreated\t" in line[0] and "HTTP 503" in line[0]
    assert cli("webhooks", "list", "--status", "delivered").output.count("\n") == 1  # the header only

    done = cli("webhooks", "retry", str(d["id"]))
    assert done.exit_code == 0, done.output
    ran = cli("webhooks", "run", "--once")
    assert ran.exit_code == 0 and "1 delivered" in ran.output
    [d2] = _deliveries(hdb)
    assert (d2["status"], d2["attempts"], d2["last_status"]) == ("delivered", 3, 200)
    with hdb.session() as s:
        assert s.scalar(text("SELECT retried_by FROM webhook_deliveries")).startswith("cli:")
    assert [r["answer"] for r in receiver.requests] == [503, 503, 200]
    again = cli("webhooks", "retry", str(d["id"]))  # only a failed one
    assert again.exit_code != 0 and "not failed" in again.output
    missing = cli("webhooks", "retry", "999999")
    assert missing.exit_code != 0 and "not found" in missing.output


def test_the_worker_process_sends_and_stops_on_sigterm(hdb, receiver, tmp_path):
    """``gridwatch webhooks run`` as a deployment runs it: its own process, stopped by SIGTERM."""
    import os
    import signal
    import subprocess
    import sys

    settings = hook_settings(receiver)
    env = {**os.environ, "DATABASE_URL": hdb.engine.url.render_as_string(hide_password=False),
           "GRIDWATCH_VAR_DIR": str(tmp_path / "var"), "GRIDWATCH_CONFIG": str(tmp_path / "none.toml"),
           "GRIDWATCH_WEBHOOK_URL": receiver.url, "GRIDWATCH_WEBHOOK_SECRET": SECRET}
    proc = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "webhooks", "run",
                             "--interval", "0.5"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the first pass sets the webhook up
            with hdb.session() as s:
                if s.scalar(text("SELECT count(*) FROM webhook_cursor")):
                    break
            time.sleep(0.2)
        inc = _report(hdb, settings)
        while time.monotonic() < deadline and not receiver.requests:
            time.sleep(0.2)
        assert [(r["json"]["event"], r["json"]["incident"]["id"], r["signed"]) for r in receiver.requests] == \
            [("created", inc, True)]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "webhook set up" in out and "1 delivered" in out and out.rstrip().endswith("stopped")


# -- settings ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "javascript:alert(1)", "127.0.0.1:9/x",
                                 "http://", "http://host:port/", "http://a b/"])
def test_a_webhook_url_that_is_not_http_is_refused_at_start(url, tmp_path, hdb):
    from click.testing import CliRunner

    from app import create_app
    from app.cli import Context, main
    from app.webhooks.worker import check_settings

    settings = TEST_SETTINGS.replace(webhook_url=url, webhook_secret=SECRET, var_dir=str(tmp_path))
    with pytest.raises(ValueError, match="webhook_url"):
        check_settings(settings)
    with pytest.raises(ValueError, match="webhook_url"):
        create_app(settings, database=hdb)
    ctx = Context(settings)
    ctx._db = hdb
    result = CliRunner().invoke(main, ["webhooks", "run", "--once"], obj=ctx)
    assert result.exit_code == 2 and "webhook_url" in result.output


def test_a_url_without_a_secret_is_refused_and_an_empty_url_is_no_webhook(hdb, tmp_path):
    from click.testing import CliRunner

    from app.cli import Context, main
    from app.webhooks.worker import check_settings

    with pytest.raises(ValueError, match="webhook_secret"):
        check_settings(TEST_SETTINGS.replace(webhook_url="https://sms.example/hook"))
    check_settings(TEST_SETTINGS.replace(webhook_url="https://sms.example/hook", webhook_secret="x" * 32))
    ctx = Context(TEST_SETTINGS)
    ctx._db = hdb
    result = CliRunner().invoke(main, ["webhooks", "run"], obj=ctx)
    assert result.exit_code == 0 and "webhook_url is empty" in result.output


# -- the admin page ------------------------------------------------------------------------------------------
XSS = '<script>alert("hook")</script><img src=x onerror=alert(1)>'


def _seed(demo_db, n_failed=1):
    with demo_db.session() as s:
        ids = []
        for i in range(n_failed):
            ids.append(s.execute(text(
                "INSERT INTO webhook_deliveries (event, dedupe_key, payload, status, attempts, last_status, "
                "last_error) "
                "VALUES ('overdue', :k, CAST(:p AS jsonb), 'failed', 8, 500, :e) RETURNING id"),
                {"k": f"test:{i}", "p": json.dumps({"occurred_at": "2025-03-01T02:00:00+00:00",
                                                    "incident": {"no": "A-1", "category_name": XSS}}),
                 "e": "HTTP 500: " + XSS}).scalar())
        s.execute(text("INSERT INTO webhook_deliveries (event, dedupe_key, payload, status, attempts) VALUES "
                       "('created', 'test:ok', '{\"incident\": {}}', 'delivered', 1)"))
    return ids


def test_admin_page_access(app, client, lead_grid, demo_db):
    _seed(demo_db)
    anonymous = client.get("/admin/webhooks")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for role in ("operator", "planner", "lead", "member"):
        other = app.test_client()
        login(other, role)
        assert other.get("/admin/webhooks").status_code == 403
    login(client, "admin")
    page = client.get("/admin/webhooks")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "gw-hook-log" in html and "发送失败" in html and "已超期" in html  # codes by their names
    assert "gw-hook-off" in html  # the test settings configure no webhook: the page says so


def test_admin_page_escapes_the_last_error_and_filters(client, lead_grid, demo_db):
    [failed] = _seed(demo_db)
    login(client, "admin")
    html = client.get("/admin/webhooks").get_data(as_text=True)
    assert XSS not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;hook&#34;)&lt;/script&gt;" in html
    only_failed = client.get("/admin/webhooks?status=failed").get_data(as_text=True)
    assert f'data-delivery="{failed}"' in only_failed and 'data-status="delivered"' not in only_failed
    created = client.get("/admin/webhooks?event=created").get_data(as_text=True)
    assert f'data-delivery="{failed}"' not in created
    for bad in ("status=sent", "event=boom", "page=0", "page=99999999999"):
        r = client.get(f"/admin/webhooks?{bad}")
        assert r.status_code == 422 and bad.split("=")[0] in r.get_data(as_text=True)


def test_admin_retry_needs_csrf_and_only_failed(client, lead_grid, demo_db):
    [failed] = _seed(demo_db)
    login(client, "admin")
    token = TOKEN.search(client.get("/admin/webhooks").get_data(as_text=True)).group(1)
    assert client.post(f"/admin/webhooks/{failed}/retry").status_code == 400
    r = client.post(f"/admin/webhooks/{failed}/retry", data={"csrf_token": token, "status": "failed"})
    where = r.headers["Location"]
    assert r.status_code == 303 and f"retried={failed}" in where and "status=failed" in where
    with demo_db.session() as s:
        status, by = s.execute(text("SELECT status, retried_by FROM webhook_deliveries WHERE id = :i"),
                               {"i": failed}).one()
    assert (status, by) == ("pending", "admin")
    assert "gw-hook-retried" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert client.post(f"/admin/webhooks/{failed}/retry", data={"csrf_token": token}).status_code == 409
    assert client.post("/admin/webhooks/99999999/retry", data={"csrf_token": token}).status_code == 404
    assert client.post("/admin/webhooks/99999999999999999999999/retry", data={"csrf_token": token}).status_code == 404


def test_admin_page_hides_the_url_query():
    from app.webhooks.views import shown_url

    assert shown_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY") == \
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?…"
    assert shown_url("http://user:pw@127.0.0.1:8080/x") == "http://127.0.0.1:8080/x"


def test_the_admin_routes_answer_any_value_without_5xx(app, client, lead_grid, demo_db):
    """The route fuzzer logs in as an operator and a grid lead, who get 403 here: this walks the admin's
    parameters itself (Hypothesis, the fuzzer's nasty values)."""
    from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

    from tests.app.test_fuzz_routes import nasty_text

    [failed] = _seed(demo_db)
    login(client, "admin")
    token = TOKEN.search(client.get("/admin/webhooks").get_data(as_text=True)).group(1)
    names = st.sampled_from(["status", "event", "page", "retried", "csrf_token"])

    @hsettings(max_examples=60, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(query=st.dictionaries(names, nasty_text, max_size=4), form=st.dictionaries(names, nasty_text, max_size=3),
           target=st.one_of(st.just(str(failed)), st.integers(min_value=0, max_value=2 ** 70).map(str)))
    def walk(query, form, target):
        r = client.get("/admin/webhooks", query_string=query)
        assert r.status_code < 500, (query, r.status_code)
        r = client.post(f"/admin/webhooks/{target}/retry", data={**form, "csrf_token": token})
        assert r.status_code < 500, (target, form, r.status_code)

    walk()


def test_the_deadline_key_is_the_same_in_python_and_in_the_database(hdb):
    """A deadline already queued is skipped by its key built in SQL: both builders must agree to the microsecond
    (else every pass would re-read every overdue incident, or worse, a key could differ and send twice)."""
    from app.incidents.models import Incident
    from app.webhooks.worker import _deadline_key_sql, deadline_key

    settings = TEST_SETTINGS
    inc = _report(hdb, settings)
    for deadline in (datetime(2025, 3, 1, 2, 0, tzinfo=timezone.utc),
                     datetime(2025, 3, 1, 2, 0, 0, 123457, tzinfo=timezone.utc),
                     datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)):
        with hdb.session() as s:
            s.execute(text("UPDATE incidents SET deadline = :d WHERE id = :i"), {"d": deadline, "i": inc})
            in_sql = s.scalar(select_key(_deadline_key_sql, Incident, inc))
        assert in_sql == deadline_key("overdue", inc, deadline)


def select_key(builder, model, incident_id):
    from sqlalchemy import select

    return select(builder("overdue")).where(model.id == incident_id)
