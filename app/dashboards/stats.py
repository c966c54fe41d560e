"""Statistics tables (统计) and tiny inline-SVG bar charts (no JavaScript chart library).

Every table is a DataFrame with a ``label`` column and numeric columns, scoped to the grids the user
may see, and downloadable as CSV. Labels are words in the page's language, never codes: a table of coded
things (categories, streets, communities, camera status) also carries the ``code`` as its last column, so
the CSV stays joinable for a machine while a person reads the names (the chart shows the label).
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from html import escape

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

RESOLUTION_BINS_H = (0, 2, 8, 24, 48, 72, 168)


def _scope(grids, column: str = "i.grid_code") -> tuple[str, dict]:
    if grids is None:
        return "TRUE", {}
    return f"{column} = ANY(:grids)", {"grids": sorted(grids)}


def _frame(s: Session, sql: str, params: dict, columns=("label", "count")) -> pd.DataFrame:
    rows = s.execute(text(sql), params).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


_CODED = ("label", "count", "code")


def per_month(s: Session, grids, *, lang: str = "zh", tz: str) -> pd.DataFrame:
    where, p = _scope(grids)
    return _frame(s, "SELECT to_char(i.reported_at AT TIME ZONE :tz, 'YYYY-MM') AS m, count(*) "
                     f"FROM incidents i WHERE {where} GROUP BY 1 ORDER BY 1", {**p, "tz": tz})


def per_category(s: Session, grids, *, lang: str = "zh", tz: str) -> pd.DataFrame:
    where, p = _scope(grids)
    name = "k.name_en" if lang == "en" else "k.name_zh"
    return _frame(s, f"SELECT {name}, count(*), k.code FROM incidents i JOIN categories k ON k.code = i.category_code "
                     f"WHERE {where} GROUP BY k.code, 1 ORDER BY 2 DESC, 3", p, _CODED)


def per_street(s: Session, grids, *, lang: str = "zh", tz: str) -> pd.DataFrame:
    where, p = _scope(grids)
    return _frame(s, "SELECT coalesce(st.name, '—'), count(*), st.code FROM incidents i "
                     "LEFT JOIN streets st ON st.code = left(i.community_code, 9) "
                     f"WHERE {where} GROUP BY st.code, 1 ORDER BY 2 DESC, 3", p, _CODED)


def per_community(s: Session, grids, *, lang: str = "zh", tz: str) -> pd.DataFrame:
    where, p = _scope(grids)
    return _frame(s, "SELECT coalesce(c.name, '—'), count(*), c.code FROM incidents i "
                     "LEFT JOIN communities c ON c.code = i.community_code "
                     f"WHERE {where} GROUP BY c.code, 1 ORDER BY 2 DESC, 3", p, _CODED)


def per_grid(s: Session, grids, *, lang: str = "zh", tz: str) -> pd.DataFrame:
    where, p = _scope(grids)
    return _frame(s, f"SELECT coalesce(i.grid_code, '—'), count(*) FROM incidents i WHERE {where} "
                     "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 30", p)


def resolution_time(s: Session, grids, *, lang: str = "zh", tz: str) -> pd.DataFrame:
    """Closed incidents by hours from report to close, in ``RESOLUTION_BINS_H`` classes."""
    where, p = _scope(grids)
    edges = list(RESOLUTION_BINS_H)
    rows = s.execute(text(
        "SELECT width_bucket(EXTRACT(EPOCH FROM (i.closed_at - i.reported_at)) / 3600.0, CAST(:edges AS float8[])), "
        f"count(*) FROM incidents i WHERE i.state = 'closed' AND i.closed_at IS NOT NULL AND {where} GROUP BY 1"),
        {**p, "edges": [float(e) for e in edges]}).all()
    counts = dict((int(b), int(n)) for b, n in rows)
    labels = [f"{lo}–{hi} h" for lo, hi in zip(edges, edges[1:])] + [f"≥ {edges[-1]} h"]
    return pd.DataFrame({"label": labels, "count": [counts.get(i + 1, 0) for i in range(len(labels))]})


def on_time(s: Session, grids, *, lang: str = "zh", tz: str) -> pd.DataFrame:
    """On-time rate per month of dispatch (months of the district's zone ``tz``) over the last 12 months
    (``app.incidents.queries.on_time_rate``)."""
    from app.incidents.queries import on_time_rate

    zone = ZoneInfo(tz)
    now = datetime.now(zone)
    start = datetime(now.year - 1, now.month, 1, tzinfo=zone)
    rows = []
    while start <= now:
        end = (start.replace(tzinfo=None) + timedelta(days=32)).replace(day=1, tzinfo=zone)
        rate = on_time_rate(s, start, end, grids)
        rows.append((start.strftime("%Y-%m"), None if rate is None else round(100 * rate, 1)))
        start = end
    return pd.DataFrame(rows, columns=["label", "percent"])


def camera_status(s: Session, grids, *, lang: str = "zh", tz: str) -> pd.DataFrame:
    """Cameras per status, by name (``app.labels``), in the registry's order of statuses."""
    from app.labels import CODES, label

    where, p = _scope(grids, "grid_code")
    counts = dict(s.execute(text(f"SELECT status, count(*) FROM cameras WHERE lifecycle = 'active' AND {where} GROUP BY 1"), p).all())
    order = [c for c in CODES["camera_status"] if c in counts] + sorted(set(counts) - set(CODES["camera_status"]))
    return pd.DataFrame({"label": [label("camera_status", c, lang) for c in order],
                         "count": [int(counts[c]) for c in order], "code": order}, columns=list(_CODED))


TABLES = {"per_month": per_month, "per_category": per_category, "per_street": per_street,
          "per_community": per_community, "per_grid": per_grid, "resolution_time": resolution_time,
          "on_time_rate": on_time, "camera_status": camera_status}


def all_tables(s: Session, grids, *, lang: str = "zh", tz: str) -> dict[str, pd.DataFrame]:
    """Every table, months and days in the district's zone ``tz``."""
    return {name: fn(s, grids, lang=lang, tz=tz) for name, fn in TABLES.items()}


def table_csv(frame: pd.DataFrame) -> bytes:
    """A statistics table as CSV for Excel: labels (street, community names) escaped against formulas."""
    from gis.io import escape_frame

    buf = io.StringIO()
    escape_frame(frame).to_csv(buf, index=False)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens Chinese CSV correctly


def svg_bar_chart(labels, values, *, width: int = 640, bar_h: int = 18, label_w: int = 170,
                  colour: str = "#3182bd") -> str:
    """A horizontal bar chart as inline SVG; labels escaped, missing values drawn as empty bars."""
    vals = [0.0 if v is None or pd.isna(v) else float(v) for v in values]
    top = max(vals) if vals and max(vals) > 0 else 1.0
    plot_w = width - label_w - 60
    rows = []
    for i, (label, v, raw) in enumerate(zip(labels, vals, values)):
        y = i * (bar_h + 4)
        w = plot_w * v / top
        shown = "—" if raw is None or pd.isna(raw) else (f"{raw:g}" if isinstance(raw, float) else str(raw))
        rows.append(f'<text x="{label_w - 6}" y="{y + bar_h - 5}" text-anchor="end">{escape(str(label))}</text>'
                    f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
                    f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 5}">{escape(shown)}</text>')
    height = max(len(vals), 1) * (bar_h + 4)
    return (f'<svg class="gw-chart" width="{width}" height="{height}" '
            f'font-size="12" font-family="sans-serif" role="img">{"".join(rows)}</svg>')


def charts(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    return {name: svg_bar_chart(t["label"], t[t.columns[1]]) for name, t in tables.items()}


def filter_options(s: Session, lang: str = "zh") -> dict:
    """(code, name) choices of the incident filters in ``lang``: states (``app.labels``), categories, streets,
    communities."""
    from app.labels import names

    name = "name_en" if lang == "en" else "name_zh"
    return {"states": list(names("state", lang).items()),
            "categories": s.execute(text(f"SELECT code, {name} FROM categories ORDER BY code")).all(),
            "streets": s.execute(text("SELECT code, name FROM streets ORDER BY code")).all(),
            "communities": s.execute(text("SELECT code, name FROM communities ORDER BY code")).all()}
