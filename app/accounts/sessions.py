"""Server-side log-in sessions (table ``user_sessions``): the cookie carries a random token, the database
decides whether it is still alive.

A session is alive while its row is not ended, was used within the idle lifetime
(``session_idle_minutes``) and began within the absolute lifetime (``session_max_hours``), and its
account is active. Log-out, a password change and disabling the account end rows for good, so a cookie
copied before then is refused afterwards. Only the token's SHA-256 is stored: a database dump holds no
usable session.

``last_seen_at`` is written at most once a minute per session (``TOUCH_EVERY_S``), not on every request:
the idle lifetime is counted in minutes, and a write per page view would tax the read paths.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.accounts.models import User, UserSession
from gis.text import column_length

TOUCH_EVERY_S = 60
TOKEN_BYTES = 32
ADDR_LEN = column_length(UserSession.__table__.c.client_addr)

#: why a session ended (``user_sessions.end_reason``)
END_REASONS = ("logout", "password", "rotated", "disabled", "idle", "expired", "replaced")


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a session token is stored: the same digest as API keys."""
    from app.accounts.keys import digest

    return digest(token)


def start_session(s: Session, user: User, client_addr: str | None) -> str:
    """Open a new session for ``user`` and return its token (for the cookie; not stored in clear)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    s.add(UserSession(token_sha256=token_digest(token), user_id=user.id,
                      client_addr=(client_addr or "")[:ADDR_LEN] or None))
    s.flush()
    return token


def end_session(s: Session, token: str, reason: str) -> None:
    """End the session of ``token`` (nothing happens for an unknown or already ended token)."""
    s.execute(text("UPDATE user_sessions SET ended_at = now(), end_reason = :r "
                   "WHERE token_sha256 = :t AND ended_at IS NULL"), {"t": token_digest(token), "r": reason})


def end_user_sessions(s: Session, user_id: int, reason: str, *, keep_token: str | None = None) -> int:
    """End every open session of ``user_id`` (but the one of ``keep_token``); returns how many ended."""
    keep = token_digest(keep_token) if keep_token else ""
    return s.execute(text("UPDATE user_sessions SET ended_at = now(), end_reason = :r "
                          "WHERE user_id = :u AND ended_at IS NULL AND token_sha256 <> :k"),
                     {"u": user_id, "r": reason, "k": keep}).rowcount


@dataclass(frozen=True)
class Lookup:
    """What :func:`lookup` found for a token: the user when the session is alive, else why not."""

    user: User | None
    session_id: int | None = None
    dead_reason: str | None = None  # idle | expired | disabled, when a live row must now be ended
    needs_touch: bool = False


def _older_than(column, *, hours: int = 0, mins: int = 0, secs: int = 0):
    # compared in the database against its own clock, the clock that wrote the timestamps
    return column < func.now() - func.make_interval(0, 0, 0, 0, hours, mins, secs)


def lookup(s: Session, token: str, *, idle_minutes: int, max_hours: int) -> Lookup:
    """The session of ``token`` and its user if it is alive (one indexed query)."""
    row = s.execute(
        select(User, UserSession.id,
               _older_than(UserSession.created_at, hours=int(max_hours)).label("expired"),
               _older_than(UserSession.last_seen_at, mins=int(idle_minutes)).label("idle"),
               _older_than(UserSession.last_seen_at, secs=TOUCH_EVERY_S).label("stale"))
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_sha256 == token_digest(token), UserSession.ended_at.is_(None))).first()
    if row is None:
        return Lookup(None)
    user, sid = row[0], row[1]
    if row.expired:
        return Lookup(None, sid, "expired")
    if row.idle:
        return Lookup(None, sid, "idle")
    if not user.active:
        return Lookup(None, sid, "disabled")
    return Lookup(user, sid, needs_touch=bool(row.stale))


def touch(s: Session, session_id: int) -> None:
    s.execute(text("UPDATE user_sessions SET last_seen_at = now() WHERE id = :i"), {"i": session_id})


def end_by_id(s: Session, session_id: int, reason: str) -> None:
    s.execute(text("UPDATE user_sessions SET ended_at = now(), end_reason = :r WHERE id = :i AND ended_at IS NULL"),
              {"i": session_id, "r": reason})
