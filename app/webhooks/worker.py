"""The webhook worker (事件推送): queue incident events from the audit log, POST them signed, retry with back-off.

The outbox is the audit log itself: every change of an incident already writes an ``IncidentEvent`` in the
same transaction, so nothing in the incident services knows about webhooks. ``scan`` reads the events after
the cursor (``webhook_cursor``) and the open incidents' deadlines, and queues one ``WebhookDelivery`` per
event (its unique ``dedupe_key``, ``INSERT … ON CONFLICT DO NOTHING``: a second scan, or a second worker,
queues nothing twice). ``deliver_due`` claims one due delivery at a time (``FOR UPDATE SKIP LOCKED``: two
workers never send the same one at once), POSTs it and records the outcome. docs/webhooks.md has the
payload, the headers, how a receiver verifies the signature, and how a deployment runs the worker.

Every function takes ``now`` (an aware datetime) instead of reading the clock, so the tests drive time.

Why the cursor does not simply jump to the highest event id it read: ids come from a sequence, and a
transaction that drew a lower id may commit after a higher one was read; a cursor past it would skip that
event for ever. So a scan reads every event after ``last_event_id`` (re-reading is harmless: the dedupe
key), and the cursor moves to an id only once no transaction that could still write an event up to it is
running (``pending_id``, ``pending_xmax``: see ``_advance``).
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable
from urllib.parse import urlsplit

from sqlalchemy import BigInteger, Text, cast, exists, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.incidents.models import Incident, IncidentEvent
from app.incidents.queries import due_soon_condition, overdue_condition
from app.webhooks.models import WebhookCursor, WebhookDelivery
from gis.errors import Conflict, NotFound

log = logging.getLogger(__name__)

#: which log action is which webhook event. ``dispatched``: every time an incident lands with someone to work
#: on it (dispatch, reassign to another member, a failed check sending it back, the re-dispatch after a move);
#: ``closed``: every end of the loop (check passed → closed, void or confirmed duplicate → voided; the
#: payload's ``state`` tells which). start, accept, move, comment and the duplicate rejection send nothing.
EVENT_OF_ACTION = {
    "report": "created",
    "dispatch": "dispatched", "reassign": "dispatched", "fail_check": "dispatched",
    "resolve": "resolved",
    "pass_check": "closed", "void": "closed", "confirm_duplicate": "closed",
}

#: the first retry waits this long; each further one twice as long as the one before …
BACKOFF_FIRST_S = 30
#: … but never longer than this
BACKOFF_MAX_S = 3600
#: events read per query of a scan (a scan reads page after page until it has read them all)
SCAN_PAGE = 500
#: how much of a receiver's answer or of an error is kept in ``last_error``
ERROR_MAX = 500
#: the advisory lock that makes two workers' scans take turns (the deliveries need no lock: SKIP LOCKED)
SCAN_LOCK = 7_355_608_012
#: the one row of ``webhook_cursor``
CURSOR_ID = 1
USER_AGENT = "gridwatch-webhook/1"

HEADER_EVENT = "X-Gridwatch-Event"
HEADER_DELIVERY = "X-Gridwatch-Delivery"
HEADER_TIMESTAMP = "X-Gridwatch-Timestamp"
HEADER_SIGNATURE = "X-Gridwatch-Signature"


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- settings -----------------------------------------------------------------------------------------
def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the webhook's address, or None (empty = no webhook, which is fine)."""
    if not url:
        return None
    if not isinstance(url, str):
        return "must be text"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  a port that is not a number raises here
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} is not an http:// or https:// URL (a webhook is POSTed over HTTP)"
    if not parts.hostname:
        return f"{url!r} names no host"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return f"{url!r} contains spaces or control characters"
    return None


def check_settings(settings) -> None:
    """Raise ValueError naming the setting when the webhook settings cannot work (checked at start-up by the
    worker and by the web application, so a bad URL is refused before anything is queued)."""
    problem = url_problem(settings.webhook_url)
    if problem:
        raise ValueError(f"setting 'webhook_url': {problem}")
    if settings.webhook_url and not settings.webhook_secret:
        raise ValueError("setting 'webhook_secret': empty, but webhook_url is set: every webhook is signed; "
                         "give a long random secret (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
                         " and give the receiver the same")
    if not settings.webhook_timeout_s > 0:
        raise ValueError(f"setting 'webhook_timeout_s': {settings.webhook_timeout_s!r} must be more than 0 seconds")
    if settings.webhook_max_attempts < 1:
        raise ValueError(f"setting 'webhook_max_attempts': {settings.webhook_max_attempts!r} must be at least 1")


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 30 s, 60 s, 120 s, … at most an hour."""
    return timedelta(seconds=min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, attempts - 1)))


# -- the payload ----------------------------------------------------------------------------------------
def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(timezone.utc).isoformat()


def incident_payload(session: Session, incidents: list[Incident]) -> dict[int, dict]:
    """What a webhook tells about each incident: no reporter's name, phone or e-mail, no description (the
    personal data stays in); the place by its codes and coordinates."""
    if not incidents:
        return {}
    ids = [i.id for i in incidents]
    rows = session.execute(text(
        "SELECT i.id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, k.name_zh, k.name_en, s.code AS street, "
        "s.name AS street_name, g.name AS grid_name FROM incidents i JOIN categories k ON k.code = i.category_code "
        "LEFT JOIN communities c ON c.code = i.community_code LEFT JOIN streets s ON s.code = c.street_code "
        "LEFT JOIN grids g ON g.code = i.grid_code WHERE i.id = ANY(:ids)"), {"ids": ids}).mappings()
    extra = {r["id"]: r for r in rows}
    out = {}
    for inc in incidents:
        r = extra[inc.id]
        out[inc.id] = {
            "id": inc.id, "no": inc.external_id or str(inc.id), "category": inc.category_code,
            "category_name": r["name_zh"], "category_name_en": r["name_en"], "state": inc.state,
            "priority": inc.priority, "source": inc.source, "grid_code": inc.grid_code, "grid_name": r["grid_name"],
            "community_code": inc.community_code, "street_code": r["street"], "street_name": r["street_name"],
            "reported_at": _iso(inc.reported_at), "deadline": _iso(inc.deadline),
            "lon": round(float(r["lon"]), 7), "lat": round(float(r["lat"]), 7),
        }
    return out


def body_of(delivery: WebhookDelivery) -> bytes:
    """The JSON body POSTed for ``delivery``: the same bytes on every attempt (keys sorted, UTF-8)."""
    doc = {"id": delivery.id, "event": delivery.event, **delivery.payload}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of timestamp + "." + body>`` keyed with ``secret`` (X-Gridwatch-Signature)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers_for(delivery: WebhookDelivery, body: bytes, secret: str, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
            HEADER_EVENT: delivery.event, HEADER_DELIVERY: str(delivery.id), HEADER_TIMESTAMP: timestamp,
            HEADER_SIGNATURE: signature(secret, timestamp, body)}


# -- scanning: the log and the deadlines → queued deliveries ------------------------------------------------
@dataclass
class ScanResult:
    queued: dict[str, int] = field(default_factory=dict)  # event → deliveries newly queued
    read: int = 0                                         # events read after the cursor
    cursor: int = 0                                       # last_event_id after the scan
    started: bool = False                                 # True when this scan set the webhook up

    @property
    def total(self) -> int:
        return sum(self.queued.values())


def _queue(session: Session, rows: list[dict], now: datetime, result: ScanResult) -> None:
    if not rows:
        return
    for row in rows:  # due at once, on the worker's clock
        row["next_attempt_at"] = row["created_at"] = now
    stmt = (insert(WebhookDelivery).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(WebhookDelivery.event))
    for event in session.scalars(stmt):
        result.queued[event] = result.queued.get(event, 0) + 1


def _cursor(session: Session, now: datetime) -> tuple[WebhookCursor, bool]:
    """The cursor row, locked; made at the current last event when the webhook runs for the first time."""
    cur = session.get(WebhookCursor, CURSOR_ID, with_for_update=True)
    if cur is not None:
        return cur, False
    last = session.scalar(select(func.coalesce(func.max(IncidentEvent.id), 0)))
    session.execute(insert(WebhookCursor).values(id=CURSOR_ID, last_event_id=last, started_at=now, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["id"]))
    return session.get(WebhookCursor, CURSOR_ID, with_for_update=True, populate_existing=True), True


def _advance(session: Session, cur: WebhookCursor, seen: int, now: datetime) -> None:
    """Move the cursor as far as is safe, in two steps over passes.

    A transaction drew its event ids after it had a transaction id (every event follows a write to its
    incident in the same transaction). Pass A notes the highest id it saw (``pending_id``); a later pass B
    takes a transaction id of its own (``pending_xmax``), later than that of every transaction that could
    hold an id up to ``pending_id``; once the oldest running transaction is younger than ``pending_xmax``
    (``pg_snapshot_xmin``), every event up to ``pending_id`` is committed (and was read by this scan) or
    rolled back, and the cursor moves there."""
    if cur.pending_id is not None and cur.pending_xmax is not None:
        oldest = session.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
        if oldest > cur.pending_xmax:
            cur.last_event_id = max(cur.last_event_id, cur.pending_id)
            cur.pending_id = cur.pending_xmax = None
    if cur.pending_id is None:
        if seen > cur.last_event_id:
            cur.pending_id = seen
    elif cur.pending_xmax is None:
        cur.pending_xmax = session.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
    cur.updated_at = now


def _log_rows(session: Session, after: int, now: datetime, result: ScanResult, since: datetime) -> int:
    """Queue one delivery per event after ``after`` that is a webhook event and happened at or after
    ``since`` (the webhook's start); returns the highest id read. An event dated before the start is
    history, like the events before it: a historical import (its report events carry the incidents' own
    times) is read past, not sent as thousands of "created"."""
    seen = after
    while True:
        events = list(session.scalars(select(IncidentEvent).where(IncidentEvent.id > seen)
                                      .order_by(IncidentEvent.id).limit(SCAN_PAGE)))
        if not events:
            return seen
        seen = events[-1].id
        result.read += len(events)
        wanted = [e for e in events if e.action in EVENT_OF_ACTION and e.at >= since]
        incidents = {i.id: i for i in session.scalars(select(Incident).where(
            Incident.id.in_({e.incident_id for e in wanted})))} if wanted else {}
        about = incident_payload(session, list(incidents.values()))
        rows = []
        for e in wanted:
            event = EVENT_OF_ACTION[e.action]
            doc = dict(about[e.incident_id])
            doc["state"] = e.to_state or doc["state"]  # the state this event led to, whatever came after
            rows.append({"event": event, "incident_id": e.incident_id, "dedupe_key": f"{event}:e{e.id}",
                         "source_event_id": e.id, "payload": {"occurred_at": _iso(e.at), "action": e.action,
                                                              "incident": doc}})
        _queue(session, rows, now, result)
        if len(events) < SCAN_PAGE:
            return seen


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def deadline_key(event: str, incident_id: int, deadline: datetime) -> str:
    """The dedupe key of a deadline event: the incident and its deadline in microseconds since 1970 (the
    same text ``_deadline_key_sql`` builds in the database)."""
    return f"{event}:{incident_id}:{(deadline - _EPOCH) // timedelta(microseconds=1)}"


def _deadline_key_sql(event: str):
    micros = cast(func.extract("epoch", Incident.deadline) * 1_000_000, BigInteger)
    return literal(f"{event}:") + cast(Incident.id, Text) + literal(":") + cast(micros, Text)


def _not_queued(event: str):
    return ~exists().where(WebhookDelivery.dedupe_key == _deadline_key_sql(event))


def _deadline_rows(session: Session, settings, since: datetime, now: datetime, result: ScanResult) -> None:
    """Queue ``overdue`` for open incidents whose deadline passed, ``due_soon`` for those that came within
    ``due_soon_hours`` of it, once per incident and deadline (a new deadline is a new alert), and only for
    crossings after ``since`` (when the webhook was set up: no flood of old deadlines). Incidents already
    queued for their deadline are not read again (the key's index answers)."""
    hours = float(settings.due_soon_hours)
    window = timedelta(hours=hours)
    late = list(session.scalars(select(Incident).where(overdue_condition(now), Incident.deadline > since,
                                                       _not_queued("overdue")).order_by(Incident.id)))
    # an incident dispatched with less time than the window is due soon from its dispatch on
    became_due_soon = func.greatest(Incident.deadline - window, func.coalesce(Incident.dispatched_at,
                                                                            Incident.deadline - window))
    soon = list(session.scalars(select(Incident).where(due_soon_condition(hours, now), became_due_soon > since,
                                                       _not_queued("due_soon")).order_by(Incident.id)))
    about = incident_payload(session, late + soon)
    rows = []
    for event, incidents in (("overdue", late), ("due_soon", soon)):
        for inc in incidents:
            at = inc.deadline if event == "overdue" else max(inc.deadline - window,
                                                             inc.dispatched_at or inc.deadline - window)
            rows.append({"event": event, "incident_id": inc.id, "dedupe_key": deadline_key(event, inc.id, inc.deadline),
                         "source_event_id": None, "payload": {"occurred_at": _iso(at), "action": None,
                                                              "incident": about[inc.id]}})
    _queue(session, rows, now, result)


def scan(session: Session, settings, now: datetime | None = None) -> ScanResult:
    """Queue what happened since the last scan (the caller commits). Nothing while ``webhook_url`` is empty.

    The first scan ever (no cursor row) starts at the current last event and queues no history."""
    result = ScanResult()
    if not settings.webhook_url:
        return result
    now = now or _now()
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCAN_LOCK})
    cur, result.started = _cursor(session, now)
    seen = _log_rows(session, cur.last_event_id, now, result, cur.started_at)
    _deadline_rows(session, settings, cur.started_at, now, result)
    _advance(session, cur, seen, now)
    result.cursor = cur.last_event_id
    session.flush()
    return result


# -- delivering -----------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    delivery_id: int
    event: str
    status: str               # pending (to retry), delivered, failed
    attempts: int
    http_status: int | None
    error: str | None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None  # a redirect is an answer that is not 2xx: not delivered (POST bodies are not re-sent)


#: direct connections only: no proxy from the environment, no redirects followed
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _cut(text_: str) -> str:
    text_ = " ".join(text_.split())
    return text_ if len(text_) <= ERROR_MAX else text_[:ERROR_MAX - 1] + "…"


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST once: (HTTP status or None, error or None). Only a 2xx answer has no error."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            resp.read(64 * 1024)
            return resp.status, None
    except urllib.error.HTTPError as exc:
        try:
            answer = exc.read(ERROR_MAX).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            answer = ""
        where = f" (to {exc.headers.get('Location')})" if 300 <= exc.code < 400 and exc.headers.get("Location") else ""
        return exc.code, _cut(f"HTTP {exc.code}{where}: {answer}" if answer else f"HTTP {exc.code}{where}")
    except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return None, f"no answer within {timeout:g} s (timeout)"
        return None, _cut(f"{type(reason).__name__}: {reason}")


Sender = Callable[[str, bytes, dict, float], tuple]


def deliver_one(db, settings, now: datetime | None = None, *, send: Sender = post) -> Outcome | None:
    """Claim the most overdue pending delivery that is due at ``now``, POST it, record the outcome, commit.
    None when nothing is due. The row stays locked while it is sent (another worker skips it)."""
    now = now or _now()
    with db.session() as s:
        d = s.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "pending",
                                                    WebhookDelivery.next_attempt_at <= now)
                      .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(1)
                      .with_for_update(skip_locked=True)).first()
        if d is None:
            return None
        body = body_of(d)
        code, error = send(settings.webhook_url, body, headers_for(d, body, settings.webhook_secret, now),
                           float(settings.webhook_timeout_s))
        d.attempts += 1
        d.last_attempt_at, d.last_status = now, code
        if code is not None and 200 <= code < 300:
            d.status, d.delivered_at, d.last_error = "delivered", now, None
        else:
            d.last_error = error or f"HTTP {code}"
            if d.attempts >= settings.webhook_max_attempts:
                d.status = "failed"
            else:
                d.next_attempt_at = now + backoff(d.attempts)
        return Outcome(d.id, d.event, d.status, d.attempts, code, d.last_error if d.status != "delivered" else None)


def deliver_due(db, settings, now: datetime | None = None, *, send: Sender = post, limit: int = 1000,
                stop: Callable[[], bool] = lambda: False,
                clock: Callable[[], datetime] | None = None) -> list[Outcome]:
    """Send every delivery due at ``now`` (at most ``limit``, and none after ``stop()``), one transaction each.

    With ``clock`` each delivery reads the time afresh (the running worker): its signature's timestamp,
    attempt time and back-off are its own, so a slow receiver cannot make the last of a backlog carry a
    timestamp minutes old (which receivers refuse as a replay)."""
    out = []
    while len(out) < limit and not stop():
        outcome = deliver_one(db, settings, clock() if clock is not None else now, send=send)
        if outcome is None:
            break
        out.append(outcome)
    return out


@dataclass
class PassResult:
    scan: ScanResult
    sent: list[Outcome]


def run_once(db, settings, now: datetime | None = None, *, send: Sender = post,
             stop: Callable[[], bool] = lambda: False,
             clock: Callable[[], datetime] | None = None) -> PassResult:
    """One pass: scan (its own transaction), then send what is due (until ``stop()``); with ``clock``
    every delivery takes its own time (``deliver_due``)."""
    now = now or (clock() if clock is not None else _now())
    with db.session() as s:
        result = scan(s, settings, now)
    sent = deliver_due(db, settings, now, send=send, stop=stop, clock=clock) if settings.webhook_url else []
    return PassResult(result, sent)


def run(db, settings, *, interval: float = 5.0, stop: Callable[[], bool] = lambda: False,
        report: Callable[[PassResult], None] | None = None, clock: Callable[[], datetime] = _now) -> None:
    """Pass after pass, ``interval`` seconds apart, until ``stop()``; a pass that fails (database away) is
    logged and the next one tries again."""
    while not stop():
        try:
            result = run_once(db, settings, stop=stop, clock=clock)
            if report:
                report(result)
        except Exception as exc:  # noqa: BLE001  the worker outlives a database restart
            log.warning("webhook pass failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        deadline = time.monotonic() + interval
        while not stop() and time.monotonic() < deadline:
            time.sleep(min(0.2, interval))


# -- the log ------------------------------------------------------------------------------------------------------
def retry(session: Session, delivery_id: int, actor: str, now: datetime | None = None) -> WebhookDelivery:
    """Send a failed delivery again now: one more attempt (a failure marks it failed again). The row records
    who asked and when (``retried_by``/``retried_at``). NotFound, or Conflict when it has not failed."""
    now = now or _now()
    d = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if d is None:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    if d.status != "failed":
        raise Conflict(f"webhook delivery {delivery_id} is {d.status}, not failed: only a failed one is retried")
    d.status, d.next_attempt_at, d.retried_by, d.retried_at = "pending", now, actor, now
    session.flush()
    return d


def list_deliveries(session: Session, *, status: str | None = None, event: str | None = None, limit: int = 50,
                    offset: int = 0) -> tuple[list[WebhookDelivery], int]:
    """The delivery log newest first, filtered by status and event, and how many match in all."""
    conds = []
    if status is not None:
        conds.append(WebhookDelivery.status == status)
    if event is not None:
        conds.append(WebhookDelivery.event == event)
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(*conds))
    rows = list(session.scalars(select(WebhookDelivery).where(*conds).order_by(WebhookDelivery.id.desc())
                                .limit(limit).offset(offset)))
    return rows, total


def counts(session: Session) -> dict[str, int]:
    """Deliveries per status."""
    return dict(session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all())
