"""Log-in and log-out, the own-password page, and the hooks every request passes (CSRF, template helpers)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from app import web
from app.accounts import auth, capabilities, throttle
from app.accounts.service import MAX_PASSWORD, MIN_PASSWORD, check_login, password_problem, set_password
from app.i18n import LANGUAGES, current_language, translate
from gis.text import check_text

bp = Blueprint("accounts", __name__)
bp.before_app_request(auth.check_csrf)


@bp.app_context_processor
def _template_helpers():
    lang = current_language(web.settings().language)
    return {"t": lambda key, **kw: translate(key, lang, **kw), "lang": lang, "languages": LANGUAGES,
            "csrf_token": auth.csrf_token, "current_user": auth.current_user(), "page_roles": auth.PAGE_ROLES,
            # ``{% if can('camera.status') %}``: the capability table (app.accounts.capabilities)
            "can": lambda capability: capabilities.can(auth.current_user(), capability)}


def _login_page(status: int, error: str | None = None, detail: str | None = None, retry_after: int | None = None):
    minutes = -(-retry_after // 60) if retry_after else None
    html = render_template("dashboards/login.html", error=error, detail=detail, minutes=minutes)
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return html, status, headers


def _form_problem(username: str, password: str) -> str | None:
    """``field: reason`` for a log-in form that cannot be a real attempt, or None."""
    if not username:
        return "username: required"
    if (err := check_text(username, "username", max_len=throttle.USERNAME_LEN)) is not None:
        return f"username: {err.reason}"
    if not password:
        return "password: required"
    if len(password) > MAX_PASSWORD:
        return f"password: at most {MAX_PASSWORD} characters"
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return _login_page(200)
    s, st, addr = web.db_session(), web.settings(), auth.client_addr()
    username, password = request.form.get("username", ""), request.form.get("password", "")
    problem = _form_problem(username, password)
    name_ok = problem is None or problem.startswith("password")
    throttle.lock_account(s, username if name_ok else None, addr)
    wait = throttle.retry_after(s, username if name_ok else None, addr, max_failures=st.login_max_failures,
                                window_minutes=st.login_window_minutes,
                                max_failures_per_address=st.login_max_failures_per_address)
    logged = username if name_ok else throttle.recordable(username)
    if wait is not None:
        throttle.record(s, logged, addr, success=False, reason="throttled")
        s.commit()
        return _login_page(429, "login_throttled", retry_after=wait)
    if problem is not None:
        throttle.record(s, logged, addr, success=False, reason="invalid_form")
        s.commit()
        return _login_page(400, "bad_form", detail=problem)
    user, reason = check_login(s, username, password)
    throttle.record_and_prune(s, username, addr, success=user is not None, reason=reason,
                              keep_days=st.login_attempts_keep_days)
    if user is None:
        s.commit()
        return _login_page(401, "bad_login")
    auth.log_in(user)
    s.commit()
    return redirect(auth.safe_next(request.args.get("next")) or url_for(auth.home_endpoint(user)))


@bp.post("/logout")
def logout():
    auth.log_out()
    web.db_session().commit()
    return redirect(url_for("accounts.login"))


def _password_page(status: int = 200, **context):
    context.setdefault("errors", {})
    return render_template("dashboards/account_password.html", min_password=MIN_PASSWORD, **context), status


def _password_errors(current_ok: bool, new: str, again: str) -> dict[str, str]:
    errors = {}
    if not current_ok:
        errors["current_password"] = "wrong_current_password"
    if len(new) < MIN_PASSWORD:
        errors["new_password"] = "password_too_short"
    elif (why := password_problem(new)) is not None:
        errors["new_password"] = why
    elif new != again:
        errors["new_password_again"] = "passwords_differ"
    return errors


@bp.route("/account/password", methods=["GET", "POST"])
@auth.login_required
def password():
    """Change one's own password: the current one, the new one twice. Ends the account's other sessions
    and replaces this one (new token, new CSRF token)."""
    user = auth.current_user()
    if request.method == "GET":
        return _password_page(done=bool(request.args.get("done")))
    s, st, addr = web.db_session(), web.settings(), auth.client_addr()
    throttle.lock_account(s, user.username, addr)
    wait = throttle.retry_after(s, user.username, addr, max_failures=st.login_max_failures,
                                window_minutes=st.login_window_minutes,
                                max_failures_per_address=st.login_max_failures_per_address)
    if wait is not None:  # guessing the current password with a borrowed session is throttled like log-in
        throttle.record(s, user.username, addr, success=False, reason="throttled")
        s.commit()
        html, status = _password_page(429, throttled=-(-wait // 60))
        return html, status, {"Retry-After": str(wait)}
    current = request.form.get("current_password", "")
    new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
    current_ok = len(current) <= MAX_PASSWORD and check_login(s, user.username, current)[0] is not None
    errors = _password_errors(current_ok, new, again)
    if errors:
        if not current_ok:
            throttle.record(s, user.username, addr, success=False, reason="wrong_current_password")
            s.commit()
        return _password_page(400, errors=errors)
    set_password(s, user, new, keep_token=session.get("sid"))
    throttle.record(s, user.username, addr, success=True, reason="password_changed")
    auth.rotate_session(user)
    s.commit()
    return redirect(url_for("accounts.password", done=1))
