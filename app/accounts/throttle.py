"""Log-in throttling, counted in PostgreSQL from the ``login_attempts`` table.

Every attempt is recorded (user name as typed, client address, success, reason). An account that
collected ``login_max_failures`` failures within ``login_window_minutes`` since its last successful
log-in, or a client address that collected ``login_max_failures_per_address`` failures within the window
(whatever log-ins succeeded from it meanwhile: an attacker with one account of their own must not reset
the count between guesses at others), is throttled: the answer is 429 with ``Retry-After`` (the seconds
until the oldest counted failure leaves the window) and even the right password is refused until then.
The address limit is the larger one because a command centre's operators often share one NAT address. Throttled
attempts are recorded too (reason ``throttled``) but not counted, so a throttle ends on time instead of
being prolonged by the very attempts it refuses.

Why not Flask-Limiter: its default storage is the memory of one process, so a server with several
worker processes (gunicorn) keeps one counter per worker, multiplying the allowance, and a restart
resets it; a shared store (Redis, memcached) would be one more service to run and secure. The attempts
have to be recorded in the database anyway (the audit of failed log-ins), so counting them there is one
indexed query, holds across workers and restarts, and gives an exact ``Retry-After`` per account.
Flask-Limiter also counts requests per route, while this counts failures per account and address.
Concurrent attempts on one account, and from one address, are serialised by transaction-scoped advisory
locks, so parallel guesses cannot slip past the count.
"""
from __future__ import annotations

import math

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts.models import LoginAttempt
from gis.text import column_length

USERNAME_LEN = column_length(LoginAttempt.__table__.c.username)
ADDR_LEN = column_length(LoginAttempt.__table__.c.client_addr)
REASON_LEN = column_length(LoginAttempt.__table__.c.reason)

#: recorded for refused attempts that do not count as failures
NOT_COUNTED = ("throttled",)

_FAILURES = {
    "username": text("""
        SELECT EXTRACT(EPOCH FROM at + make_interval(mins => :w) - now()) FROM login_attempts
        WHERE username = :k AND NOT success AND reason <> ALL(:free) AND at > now() - make_interval(mins => :w)
          AND id > coalesce((SELECT max(id) FROM login_attempts WHERE username = :k AND success), 0)
        ORDER BY at"""),
    "client_addr": text("""
        SELECT EXTRACT(EPOCH FROM at + make_interval(mins => :w) - now()) FROM login_attempts
        WHERE client_addr = :k AND NOT success AND reason <> ALL(:free) AND at > now() - make_interval(mins => :w)
        ORDER BY at"""),
}


def lock_account(s: Session, username: str | None, client_addr: str) -> None:
    """Serialise log-in attempts on one account (when the name is valid) and from one address until the
    transaction ends (always the account first, then the address: no lock cycle)."""
    if username is not None:
        s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('gridwatch-login:' || :u, 0))"),
                  {"u": username})
    s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('gridwatch-login-addr:' || :a, 0))"),
              {"a": client_addr})


def _wait(s: Session, key: str, value: str, *, max_failures: int, window_minutes: int) -> float:
    max_failures = max(1, int(max_failures))
    left = s.execute(_FAILURES[key], {"k": value, "w": int(window_minutes), "free": list(NOT_COUNTED)}).scalars().all()
    if len(left) < max_failures:
        return 0.0
    # the count drops below the limit once the (len - max + 1)-th oldest failure leaves the window
    return float(left[len(left) - max_failures])


def retry_after(s: Session, username: str | None, client_addr: str, *, max_failures: int, window_minutes: int,
                max_failures_per_address: int) -> int | None:
    """Seconds until log-in is allowed again for this account and address, or None when it is allowed.

    ``username`` None (not a valid name) checks the address only."""
    waits = [_wait(s, "client_addr", client_addr, max_failures=max_failures_per_address,
                   window_minutes=window_minutes)]
    if username is not None:
        waits.append(_wait(s, "username", username, max_failures=max_failures, window_minutes=window_minutes))
    wait = max(waits)
    return max(1, math.ceil(wait)) if wait > 0 else None


def record(s: Session, username: str, client_addr: str, *, success: bool, reason: str) -> LoginAttempt:
    """Record one attempt. ``username`` must already fit the column (see :func:`recordable`)."""
    attempt = LoginAttempt(username=username, client_addr=client_addr[:ADDR_LEN], success=success,
                           reason=reason[:REASON_LEN])
    s.add(attempt)
    s.flush()
    return attempt


#: old attempts are deleted on every PRUNE_EVERY-th recorded attempt (a log-in does not pay for it each time)
PRUNE_EVERY = 500


def prune(s: Session, keep_days: int) -> int:
    """Delete attempts older than ``keep_days`` (setting ``login_attempts_keep_days``); returns how many."""
    return s.execute(text("DELETE FROM login_attempts WHERE at < now() - make_interval(days => :d)"),
                     {"d": max(1, int(keep_days))}).rowcount


def record_and_prune(s: Session, username: str, client_addr: str, *, success: bool, reason: str,
                     keep_days: int) -> LoginAttempt:
    """:func:`record`, and every ``PRUNE_EVERY``-th attempt :func:`prune` too, so the table stays bounded."""
    attempt = record(s, username, client_addr, success=success, reason=reason)
    if attempt.id % PRUNE_EVERY == 0:
        prune(s, keep_days)
    return attempt


def recordable(username: str) -> str:
    """A user name that failed validation, in a form the column can hold: control characters written as
    escapes (``\\x00``), cut to the column's size."""
    return repr(username)[1:-1][:USERNAME_LEN]
