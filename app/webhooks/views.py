"""The webhook delivery log for administrators: ``GET /admin/webhooks``, ``POST /admin/webhooks/<id>/retry``."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, redirect, render_template, request, url_for

from app import web
from app.accounts.auth import current_user
from app.accounts.capabilities import capability_required
from app.dashboards.params import Params
from app.webhooks import worker
from app.webhooks.models import DELIVERY_STATES, WEBHOOK_EVENTS, WebhookCursor
from gis.errors import NotFound

bp = Blueprint("webhooks", __name__)

#: rows per page of the log
PAGE_SIZE = 50
#: the last page a client may ask for (the log is read newest first; older rows are for the CLI)
MAX_PAGE = 10_000


@bp.record_once
def _check_settings(state) -> None:
    # a webhook_url that is not http(s) (or set without a secret) stops the application at start-up, with the
    # setting named, before anything could be queued for it
    worker.check_settings(state.app.extensions["gridwatch.settings"])


def shown_url(url: str) -> str:
    """The webhook's address without its query, fragment or user info: a WeChat Work bot's URL carries its
    key in the query, which the page must not show."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "…" if parts.query else "", ""))


def _filters(args) -> tuple[str | None, str | None, int]:
    p = Params(args)
    status = p.choice("status", DELIVERY_STATES)
    event = p.choice("event", WEBHOOK_EVENTS)
    page = p.integer("page", lo=1, hi=MAX_PAGE, default=1)
    p.done()
    return status, event, page


def _log_url(status, event, page, **extra) -> str:
    args = {k: v for k, v in (("status", status), ("event", event)) if v}
    if page and page > 1:
        args["page"] = page
    return url_for("webhooks.log", **args, **extra)


@bp.get("/admin/webhooks")
@capability_required("webhooks.manage")
def log():
    """The delivery log, newest first: filters by status and event, 50 rows a page."""
    status, event, page = _filters(request.args)
    s, st = web.db_session(), web.settings()
    rows, total = worker.list_deliveries(s, status=status, event=event, limit=PAGE_SIZE,
                                         offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    p = Params(request.args)
    retried = p.integer("retried", lo=1, hi=2**63 - 1)
    cursor = s.get(WebhookCursor, worker.CURSOR_ID)
    return render_template(
        "admin/webhooks.html", page="webhooks", rows=rows, total=total, counts=worker.counts(s),
        status=status, event=event, page_no=page, pages=pages, statuses=DELIVERY_STATES, events=WEBHOOK_EVENTS,
        url=shown_url(st.webhook_url), signed=bool(st.webhook_secret), max_attempts=st.webhook_max_attempts,
        backoff=[int(worker.backoff(n).total_seconds()) for n in (1, 2, 3)], backoff_cap=worker.BACKOFF_MAX_S // 60,
        cursor=cursor, retried=retried if not p.errors else None,
        prev_url=_log_url(status, event, page - 1) if page > 1 else None,
        next_url=_log_url(status, event, page + 1) if page < pages else None)


@bp.post("/admin/webhooks/<int:delivery_id>/retry")
@capability_required("webhooks.manage")
def retry(delivery_id: int):
    """Send a failed delivery again at the worker's next pass (form field ``csrf_token``; the filters to
    return to: ``status``, ``event``, ``page``). 409 when it has not failed."""
    if not 1 <= delivery_id <= 2**63 - 1:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    status, event, page = _filters(request.form)
    s = web.db_session()
    worker.retry(s, delivery_id, current_user().username)
    s.commit()
    return redirect(_log_url(status, event, page, retried=delivery_id), code=303)
