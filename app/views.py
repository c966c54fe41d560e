"""The home page (sends each role to its dashboard), health check, favicon, language links and the
locally served map scripts."""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, redirect, request, send_file, url_for
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import web
from app.errors import DB_RETRY_AFTER_S
from app.accounts.auth import current_user, home_endpoint
from layers.assets import ASSET_FILES

bp = Blueprint("core", __name__)
log = logging.getLogger(__name__)

FAVICON = Path(__file__).resolve().parent / "static" / "favicon.ico"


@bp.get("/")
def home():
    # the map holds incidents and camera positions: nothing is shown before log-in
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    return redirect(url_for(home_endpoint(user)))


@bp.get("/healthz")
def healthz():
    """``ok`` (200) or ``unavailable`` (503). The driver's message names sockets and hosts: log only."""
    try:
        web.db_session().execute(text("SELECT 1"))
        return jsonify(status="ok", database="reachable")
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable: %s", str(exc).splitlines()[0])
        return (jsonify(status="unavailable", database="unreachable"), 503,
                {"Retry-After": str(DB_RETRY_AFTER_S)})


@bp.get("/favicon.ico")
def favicon():
    # browsers ask for it on every page whatever the page links
    return send_file(FAVICON, mimetype="image/vnd.microsoft.icon", max_age=86400)


@bp.app_template_global()
def district_name(lang: str) -> str:
    """The served district's name in the page's language (from the district context)."""
    return web.district().display_name(lang)


@bp.app_template_global()
def lang_url(code: str) -> str:
    """A link to this page in language ``code``: the same path and query, ``lang`` replaced.

    Query-only (``?…``), so it cannot leave this page, let alone this origin."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return "?" + urlencode(kept + [("lang", code)])


@bp.app_template_filter("label")
def label_filter(code, kind: str) -> str:
    """``{{ inc.state|label('state') }}``: a code by its name in the page's language (``app.labels``)."""
    from app.i18n import current_language
    from app.labels import label

    return label(kind, code, current_language(web.settings().language))


@bp.app_template_global()
def page_data(data: dict | None = None, messages=()) -> Markup:
    """The one JSON block a page hands its scripts (``app/static/js/gw.js`` reads it as ``gw.page``):
    ``data`` (the page's own: URLs from ``url_for``, style constants, records), the language, the
    ``messages`` it names in that language (a key, or ``@area`` for every key of ``app.messages.<area>``),
    and the table of code names (``app.labels``). ``base.html`` writes it once per page from the
    template variables ``js`` and ``js_messages``."""
    import importlib

    from app.i18n import current_language, translate
    from app.labels import table

    lang = current_language(web.settings().language)
    keys: list[str] = []
    for item in messages:
        if item.startswith("@"):
            keys.extend(importlib.import_module(f"app.messages.{item[1:]}").MESSAGES)
        else:
            keys.append(item)
    block = {"lang": lang, "messages": {k: translate(k, lang) for k in keys}, "labels": table(lang),
             "data": data or {}}
    from app.security import csp_nonce

    opening = Markup('<script type="application/json" id="gw-page" nonce="{}">').format(csp_nonce())
    return opening + htmlsafe_json_dumps(block) + Markup("</script>")


@bp.get("/vendor/<path:name>")
def vendor(name: str):
    path = ASSET_FILES.get(name)
    if path is None:
        abort(404)
    return send_file(path, max_age=86400)
