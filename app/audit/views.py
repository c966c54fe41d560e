"""The audit log for administrators: ``GET /admin/audit`` (search, keyset pages) and ``GET /admin/audit.csv``."""
from __future__ import annotations

import io

import pandas as pd
from flask import Blueprint, Response, render_template, request, stream_with_context, url_for

from app import web
from app.accounts.capabilities import capability_required
from app.audit import service
from app.audit.models import OBJECT_TYPES
from app.i18n import current_language
from gis.io import escape_frame

bp = Blueprint("audit", __name__)


def _query():
    d = web.district()
    return service.parse_query(request.args, earliest=d.data_start, tz=d.timezone)


@bp.get("/admin/audit")
@capability_required("audit.read")
def index():
    """Newest first, :data:`service.PAGE_SIZE` rows a page; filters: object_type, object_id, actor, action,
    from/to (district dates); ``after``: the keyset cursor of the 'older' link."""
    q, after = _query()
    d, lang = web.district(), current_language(web.settings().language)
    rows, nxt = service.search(web.db_session(), q, limit=service.PAGE_SIZE, after=after)
    shown = [service.present(r, lang, d.timezone) for r in rows]  # with the links of objects and actors
    args = q.args(d.timezone)
    return render_template(
        "admin/audit.html", page="audit", rows=shown, q=q, args=args, object_types=OBJECT_TYPES,
        actions=service.ACTIONS, older_url=url_for("audit.index", **args, after=nxt) if nxt else None,
        newest_url=url_for("audit.index", **args) if after else None, csv_url=url_for("audit.csv", **args))


@bp.get("/admin/audit.csv")
@capability_required("audit.read")
def csv():
    """The same search as CSV (UTF-8 with BOM, so Excel reads the Chinese; formula cells escaped), streamed
    in keyset batches: the whole log never sits in memory."""
    q, _after = _query()
    d, lang = web.district(), current_language(web.settings().language)
    s = web.db_session()

    def body():
        yield "\ufeff" + ",".join(service.CSV_COLUMNS) + "\r\n"
        for batch in service.iter_all(s, q):
            frame = escape_frame(pd.DataFrame(service.csv_rows(batch, lang, d.timezone), columns=service.CSV_COLUMNS,
                                              dtype=object))
            out = io.StringIO()
            frame.to_csv(out, header=False, index=False, lineterminator="\r\n")
            yield out.getvalue()

    return Response(stream_with_context(body()),
                    headers={"Content-Disposition": "attachment; filename=audit.csv"},
                    content_type="text/csv; charset=utf-8")
