"""API keys (Open311, the OGC API, scripts): issue one (shown once), check one; only the SHA-256 of a key
is stored (``api_keys``).

A key belongs to an account (``api_keys.user_id``) and acts with that account's scope: a grid lead's
key reads only the lead's grids. A revoked key, or a key of a disabled account, stops working at once
(every request looks the key and its account up). This module is the only place a key is looked up.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.accounts.models import ApiKey, User
from app.db import actor_setting
from gis.errors import Conflict, InvalidData, NotFound
from gis.text import column_length, text_problem

NAME_MAX = column_length(ApiKey.__table__.c.name)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who an Open311 request acts for: a key and its account, or nobody (an anonymous read)."""

    key_name: str | None
    user: User | None

    @property
    def anonymous(self) -> bool:
        return self.user is None


ANONYMOUS = Caller(None, None)


class KeyRefused(Exception):
    """The request's key is missing (401), unknown (401), revoked or its account disabled (403)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def add_api_key(session: Session, name: str, username: str) -> str:
    """Create a key called ``name`` for the account ``username``; returns the key, shown once and never stored.

    Raises
    ------
    InvalidData
        ``name`` is empty, too long or holds control characters.
    NotFound
        No account ``username``.
    Conflict
        A key called ``name`` exists, or the account is disabled.
    """
    name = (name or "").strip()
    if not name or (problem := text_problem(name, max_len=NAME_MAX)):
        raise InvalidData(f"name: {problem or 'is empty'} (who the key is for, e.g. wechat-miniprogram)")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no account {username!r}; a key belongs to an account (`gridwatch users add` creates one)")
    if not user.active:
        raise Conflict(f"account {username!r} is disabled; its keys would not work")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"an API key named {name!r} exists; revoke it first or pick another name")
    key = secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, key_sha256=digest(key), user_id=user.id))
    session.flush()
    return key


def revoke_api_key(session: Session, name: str) -> None:
    """Revoke the key called ``name`` (it stays listed as revoked). Raises NotFound when there is none."""
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise NotFound(f"no API key named {name!r}; `gridwatch api-keys list` shows them")
    row.active = False
    session.flush()


def list_api_keys(session: Session, username: str | None = None) -> list[tuple[ApiKey, str | None]]:
    """Every key with its account's user name (None for a key issued before keys had accounts); only
    the keys of ``username`` when given (an account's page), its live keys first, newest first."""
    stmt = select(ApiKey, User.username).outerjoin(User, User.id == ApiKey.user_id)
    if username is None:
        stmt = stmt.order_by(ApiKey.name)
    else:
        stmt = stmt.where(User.username == username).order_by(ApiKey.active.desc(), ApiKey.created_at.desc(),
                                                               ApiKey.name)
    return [(k, u) for k, u in session.execute(stmt)]


def revoke_account_key(session: Session, username: str, key_id: int) -> ApiKey:
    """Revoke key ``key_id`` of the account ``username`` (the page's revoke button names the key by its
    number, which a name with any characters in it could not be in a URL). ``NotFound`` when that account
    has no such key; revoking a revoked key again changes nothing."""
    row = session.scalar(select(ApiKey).join(User, User.id == ApiKey.user_id)
                         .where(ApiKey.id == key_id, User.username == username))
    if row is None:
        raise NotFound(f"account {username!r} has no API key {key_id}")
    row.active = False
    session.flush()
    return row


# built once: a statement's construction cost more CPU than its execution (a report's biggest share)
_BY_DIGEST = (select(ApiKey, User).outerjoin(User, User.id == ApiKey.user_id)
              .where(ApiKey.key_sha256 == bindparam("digest")))
_BY_DIGEST_STAMPED = _BY_DIGEST.add_columns(actor_setting(bindparam("actor_prefix", type_=ApiKey.name.type)
                                                          + ApiKey.name))


def authenticate(session: Session, key: str | None, *, actor_prefix: str | None = None) -> Caller:
    """The caller a key stands for. With ``actor_prefix``, the same query also makes ``actor_prefix`` + the
    key's name the audit log's actor of the transaction (``app.db.stamp_actor``): a writer's one round trip.

    Raises
    ------
    KeyRefused
        401 when ``key`` is missing or unknown; 403 when it is revoked, its account is disabled, or it
        belongs to no account (a key from before keys had accounts: issue a new one with ``--user``).
    """
    key = (key or "").strip()
    if not key:
        raise KeyRefused(401, "api_key is required: send it in the X-API-Key header (ask the district for one)")
    if actor_prefix is None:
        row = session.execute(_BY_DIGEST, {"digest": digest(key)}).first()
    else:
        row = session.execute(_BY_DIGEST_STAMPED, {"digest": digest(key), "actor_prefix": actor_prefix}).first()
    if row is None:
        raise KeyRefused(401, "api_key is not valid")
    api_key, user = row[0], row[1]
    if not api_key.active:
        raise KeyRefused(403, f"api_key {api_key.name!r} has been revoked")
    if user is None:
        raise KeyRefused(403, f"api_key {api_key.name!r} belongs to no account; "
                              "ask for a new key (gridwatch api-keys add NAME --user USERNAME)")
    if not user.active:
        raise KeyRefused(403, f"api_key {api_key.name!r}: its account is disabled")
    return Caller(api_key.name, user)
