"""Open311 API keys: issue one (shown once) and check one; only the SHA-256 is stored (``api_keys``)."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import Conflict, InvalidData


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def add_api_key(session: Session, name: str) -> str:
    """Create a key called ``name``; returns the key itself, which is shown once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise InvalidData("name: use 1–80 characters (who the key is for, e.g. wechat-miniprogram)")
    if session.execute(text("SELECT 1 FROM api_keys WHERE name = :n"), {"n": name}).scalar():
        raise Conflict(f"an API key named {name!r} exists; revoke it first or pick another name")
    key = secrets.token_urlsafe(32)
    session.execute(text("INSERT INTO api_keys (name, key_sha256) VALUES (:n, :d)"), {"n": name, "d": digest(key)})
    return key


def key_name(session: Session, key: str) -> str | None:
    """The name of the active key ``key``, or None."""
    return session.execute(text("SELECT name FROM api_keys WHERE key_sha256 = :d AND active"),
                           {"d": digest(key)}).scalar()
