"""Who a machine-readable request (the OGC API) acts for: a session cookie, an API key, or an account's
user name and password by HTTP Basic (what QGIS's authentication configurations send).

Order: ``Authorization: Bearer <key>``, ``Authorization: Basic …``, ``X-API-Key: <key>``, then the session
cookie (``current_user()``, with its CSRF rules). Keys are checked by ``app.accounts.keys.authenticate``
(a revoked key or a disabled account's: 403). Basic checks the account's password with
``app.accounts.service.check_login`` under the same log-in throttle as ``/login``
(``app.accounts.throttle``): every failure is recorded and counted, a throttled account or address gets
429 with ``Retry-After``. A client such as QGIS sends Basic on every request; so that each does not pay a
password hash (tens of milliseconds), a verified name and password are remembered in this process for
:data:`BASIC_CACHE_S` seconds, keyed by a digest that includes the stored password hash, so a password
change or a disabled account takes effect on the next request.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time

from flask import g, request
from sqlalchemy import select, text

from app import web
from app.accounts import auth, keys, throttle
from app.accounts.models import User
from app.accounts.service import MAX_PASSWORD, check_login
from gis.errors import GridwatchError

REALM = "gridwatch"
CHALLENGES = (f'Basic realm="{REALM}", charset="UTF-8"', f'Bearer realm="{REALM}"')
BASIC_CACHE_S = 60.0
_BASIC_OK: dict[str, float] = {}
_LOCK = threading.Lock()


class Unauthenticated(GridwatchError):
    """No credentials, or wrong ones (401 with ``WWW-Authenticate``)."""

    status = 401


class KeyForbidden(GridwatchError):
    """A revoked key, or a key whose account is disabled (403)."""

    status = 403


class Throttled(GridwatchError):
    """Too many failed log-ins for the account or the address (429 with ``Retry-After``)."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def _from_key(key: str) -> User:
    try:
        caller = keys.authenticate(web.db_session(), key)
    except keys.KeyRefused as exc:
        if exc.status == 401:
            raise Unauthenticated(str(exc)) from None
        raise KeyForbidden(str(exc)) from None
    auth.name_actor(f"key:{caller.key_name}")
    return caller.user


#: the remembered passwords' key, new in every process: a memory dump and the stored hash do not let anyone
#: guess passwords at SHA-256 speed (without this key the digests are worthless)
_PROCESS_KEY = secrets.token_bytes(32)


def _digest(username: str, password: str, stored_hash: str) -> str:
    message = "\0".join((username, password, stored_hash)).encode("utf-8", "surrogatepass")
    return hmac.new(_PROCESS_KEY, message, hashlib.sha256).hexdigest()


def _remembered(digest: str) -> bool:
    with _LOCK:
        until = _BASIC_OK.get(digest)
        if until is None or until < time.monotonic():
            _BASIC_OK.pop(digest, None)
            return False
        return True


def _remember(digest: str) -> None:
    with _LOCK:
        now = time.monotonic()
        for k in [k for k, v in _BASIC_OK.items() if v < now]:
            del _BASIC_OK[k]
        _BASIC_OK[digest] = now + BASIC_CACHE_S


def _failures_since_success(s, username: str) -> bool:
    return bool(s.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM login_attempts WHERE username = :u AND NOT success AND id > "
        "coalesce((SELECT max(id) FROM login_attempts WHERE username = :u AND success), 0))"), {"u": username}))


def _from_basic(encoded: str) -> User:
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Unauthenticated("Authorization: Basic credentials are not base64 of UTF-8 'username:password'") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username or not password:
        raise Unauthenticated("Authorization: Basic credentials must be 'username:password'")
    if "\x00" in decoded:  # PostgreSQL text cannot hold it: no account has it
        raise Unauthenticated("Authorization: wrong user name or password, or the account is disabled")
    s, st, addr = web.db_session(), web.settings(), auth.client_addr()
    name_ok = len(username) <= throttle.USERNAME_LEN
    user = s.scalar(select(User).where(User.username == username)) if name_ok else None

    def wait() -> int | None:
        return throttle.retry_after(s, username if name_ok else None, addr, max_failures=st.login_max_failures,
                                    window_minutes=st.login_window_minutes,
                                    max_failures_per_address=st.login_max_failures_per_address)

    # a remembered password skips the hash, not the throttle: a throttled account is refused either way
    if (user is not None and user.active and _remembered(_digest(username, password, user.password_hash))
            and wait() is None):
        auth.name_actor(user.username)
        return user
    logged = username if name_ok else throttle.recordable(username)
    throttle.lock_account(s, username if name_ok else None, addr)
    if (seconds := wait()) is not None:
        throttle.record(s, logged, addr, success=False, reason="throttled")
        s.commit()
        raise Throttled(f"Authorization: too many failed log-ins; try again in {seconds} s", seconds)
    if len(password) > MAX_PASSWORD:
        found, reason = None, "invalid_form"
    else:
        found, reason = check_login(s, username, password)
    if found is None:
        throttle.record_and_prune(s, logged, addr, success=False, reason=f"basic_{reason}"[:throttle.REASON_LEN],
                                  keep_days=st.login_attempts_keep_days)
        s.commit()
        raise Unauthenticated("Authorization: wrong user name or password, or the account is disabled")
    if _failures_since_success(s, username):  # a success ends the account's count, as a log-in does
        throttle.record_and_prune(s, username, addr, success=True, reason="basic_ok",
                                  keep_days=st.login_attempts_keep_days)
    s.commit()  # ends the advisory locks: one client's parallel requests must not queue on them
    _remember(_digest(username, password, found.password_hash))
    auth.name_actor(found.username)
    return found


def request_user() -> User:
    """The account this request acts for; raises :class:`Unauthenticated` (401), :class:`KeyForbidden`
    (403) or :class:`Throttled` (429). Computed once per request."""
    if "ogc_user" in g:
        return g.ogc_user
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if header:
        if scheme.lower() == "bearer" and value.strip():
            user = _from_key(value.strip())
        elif scheme.lower() == "basic" and value.strip():
            user = _from_basic(value)
        else:
            raise Unauthenticated("Authorization: use 'Bearer <key>' or 'Basic <base64 username:password>'")
    elif request.headers.get("X-API-Key") is not None:
        user = _from_key(request.headers.get("X-API-Key", ""))
    else:
        user = auth.current_user()
        if user is None:
            raise Unauthenticated("log in first: send an API key (Authorization: Bearer or X-API-Key), "
                                  "HTTP Basic with an account, or a session cookie")
    g.ogc_user = user
    return user
