"""Log-in and log-out pages, and the hooks every request passes (CSRF, template helpers)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from app import web
from app.accounts import auth
from app.accounts.service import authenticate
from app.i18n import LANGUAGES, current_language, translate

bp = Blueprint("accounts", __name__)
bp.before_app_request(auth.check_csrf)


@bp.app_context_processor
def _template_helpers():
    lang = current_language(web.settings().language)
    return {"t": lambda key, **kw: translate(key, lang, **kw), "lang": lang, "languages": LANGUAGES,
            "csrf_token": auth.csrf_token, "current_user": auth.current_user()}


def _safe_next(target: str | None) -> str | None:
    # only same-site paths: an open redirect would let a phishing link bounce through our log-in
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        user = authenticate(web.db_session(), request.form.get("username", ""), request.form.get("password", ""))
        if user is not None:
            lang = session.get("lang")
            auth.log_in(user)
            if lang:
                session["lang"] = lang
            return redirect(_safe_next(request.args.get("next")) or url_for(auth.home_endpoint(user)))
        error = "bad_login"
    return render_template("dashboards/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("accounts.login"))
