"""Statistics tables (统计) and tiny inline-SVG bar charts (no JavaScript chart library).

Every table is a DataFrame with a ``label`` column and numeric columns, scoped to the grids the user
may see, to a period of calendar months (:class:`Period`, default the last 12 months in the district's zone)
and to one area or none (:class:`Area`: a street, a community or a grid), and downloadable as CSV. Labels
are words in the page's language, never codes: a table of coded things (categories, streets, communities,
camera status) also carries the ``code`` as its last column, so the CSV stays joinable for a machine while a
person reads the names (the chart shows the label).

Each incident chart is one query on the monthly roll-ups of migration ``0013_stats`` (kept by triggers on
``incidents`` in the writing transaction); the on-time chart adds, in the same query, the open incidents
past their deadline, counted live (they depend on the clock). docs/dashboards.md says why and how fast.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timezone as _utc
from zoneinfo import ZoneInfo
from html import escape

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.incidents.models import OPEN_STATES, RESOLUTION_BINS_H, RESOLUTION_COLUMNS

#: the default period: this many calendar months, the current one included
DEFAULT_MONTHS = 12


def add_months(d: date, n: int) -> date:
    """The first day of the month ``n`` months after the month of ``d``."""
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Calendar months [``start``, ``end``) of the district's zone (first days of months); ``all_time``: no
    bound at all (``start``/``end`` None)."""

    start: date | None
    end: date | None

    @property
    def all_time(self) -> bool:
        return self.start is None

    @property
    def last(self) -> date | None:
        """The first day of the last month shown."""
        return None if self.end is None else add_months(self.end, -1)

    def bounds(self, tz: str) -> tuple[datetime | None, datetime | None]:
        """The period as aware times (the start of its first month, the start of the month after it)."""
        if self.all_time:
            return None, None
        zone = ZoneInfo(tz)
        return (datetime(self.start.year, self.start.month, 1, tzinfo=zone),
                datetime(self.end.year, self.end.month, 1, tzinfo=zone))


def default_period(tz: str, today: date | None = None, latest: date | None = None) -> Period:
    """The last ``DEFAULT_MONTHS`` calendar months in zone ``tz``, this month included; when the latest month
    with incidents (``latest``) is earlier (a frozen data set: the demo's files, an archive copy), the
    ``DEFAULT_MONTHS`` months up to that one, so the page shows the last year that has data."""
    today = today or datetime.now(ZoneInfo(tz)).date()
    end = add_months(today, 1)
    if latest is not None and latest < today.replace(day=1):
        end = add_months(latest, 1)
    return Period(add_months(end, -DEFAULT_MONTHS), end)


def latest_month(s: Session) -> date | None:
    """The latest month of report with incidents (the roll-up's)."""
    return s.execute(text("SELECT max(month) FROM (SELECT month FROM stats_incidents_monthly GROUP BY month "
                          "HAVING sum(n) > 0) m")).scalar()


ALL_TIME = Period(None, None)


@dataclass(frozen=True)
class Area:
    """One area of the district: ``kind`` street (9 digits), community (12) or grid (15), its code and name."""

    kind: str
    code: str
    name: str


def _where(grids, period: Period | None, area: Area | None, *, tz: str, raw: bool = False) -> tuple[str, dict]:
    """The WHERE of a roll-up query (``raw``: of a query on ``incidents``, the period on ``dispatched_at``)."""
    conds, p = ["TRUE"], {}
    if grids is not None:
        conds.append("grid_code = ANY(:grids)")
        p["grids"] = sorted(grids)
    if area is not None:
        conds.append({"street": "left(community_code, 9) = :area", "community": "community_code = :area",
                      "grid": "grid_code = :area"}[area.kind])
        p["area"] = area.code
    if period is not None and not period.all_time:  # None: every month (a caller outside the page)
        if raw:
            conds.append("dispatched_at >= :t0 AND dispatched_at < :t1")
            p["t0"], p["t1"] = period.bounds(tz)
        else:
            conds.append("month >= :m0 AND month < :m1")
            p["m0"], p["m1"] = period.start, period.end
    return " AND ".join(conds), p


def _frame(s: Session, sql: str, params: dict, columns=("label", "count")) -> pd.DataFrame:
    rows = s.execute(text(sql), params).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


_CODED = ("label", "count", "code")
_MONTHLY = "stats_incidents_monthly"


def per_month(s: Session, grids, *, lang: str = "zh", tz: str, period: Period | None = None,
              area: Area | None = None) -> pd.DataFrame:
    """Incidents per month of report (months with none are left out)."""
    where, p = _where(grids, period, area, tz=tz)
    return _frame(s, f"SELECT to_char(month, 'YYYY-MM'), sum(n)::int FROM {_MONTHLY} WHERE {where} "
                     "GROUP BY month HAVING sum(n) > 0 ORDER BY month", p)


def per_category(s: Session, grids, *, lang: str = "zh", tz: str, period: Period | None = None,
                 area: Area | None = None) -> pd.DataFrame:
    where, p = _where(grids, period, area, tz=tz)
    name = "k.name_en" if lang == "en" else "k.name_zh"
    return _frame(s, f"SELECT {name}, sum(r.n)::int, k.code FROM {_MONTHLY} r JOIN categories k "
                     f"ON k.code = r.category_code WHERE {where} GROUP BY k.code, 1 HAVING sum(r.n) > 0 "
                     "ORDER BY 2 DESC, 3", p, _CODED)


def per_street(s: Session, grids, *, lang: str = "zh", tz: str, period: Period | None = None,
               area: Area | None = None) -> pd.DataFrame:
    where, p = _where(grids, period, area, tz=tz)
    return _frame(s, f"SELECT coalesce(st.name, '—'), sum(r.n)::int, st.code FROM {_MONTHLY} r "
                     "LEFT JOIN streets st ON st.code = left(r.community_code, 9) "
                     f"WHERE {where} GROUP BY st.code, 1 HAVING sum(r.n) > 0 ORDER BY 2 DESC, 3", p, _CODED)


def per_community(s: Session, grids, *, lang: str = "zh", tz: str, period: Period | None = None,
                  area: Area | None = None) -> pd.DataFrame:
    where, p = _where(grids, period, area, tz=tz)
    return _frame(s, f"SELECT coalesce(c.name, '—'), sum(r.n)::int, c.code FROM {_MONTHLY} r "
                     "LEFT JOIN communities c ON c.code = r.community_code "
                     f"WHERE {where} GROUP BY c.code, 1 HAVING sum(r.n) > 0 ORDER BY 2 DESC, 3", p, _CODED)


def per_grid(s: Session, grids, *, lang: str = "zh", tz: str, period: Period | None = None,
             area: Area | None = None) -> pd.DataFrame:
    """The 30 grids with most incidents."""
    where, p = _where(grids, period, area, tz=tz)
    return _frame(s, f"SELECT coalesce(grid_code, '—'), sum(n)::int FROM {_MONTHLY} WHERE {where} "
                     "GROUP BY 1 HAVING sum(n) > 0 ORDER BY 2 DESC, 1 LIMIT 30", p)


def resolution_time(s: Session, grids, *, lang: str = "zh", tz: str, period: Period | None = None,
                    area: Area | None = None) -> pd.DataFrame:
    """Closed incidents (reported in the period) by hours from report to close, in ``RESOLUTION_BINS_H``
    classes (a close before the report is in no class, as ``width_bucket`` puts it below the first edge)."""
    where, p = _where(grids, period, area, tz=tz)
    sums = ", ".join(f"coalesce(sum({c}), 0)::int" for c in RESOLUTION_COLUMNS)
    counts = s.execute(text(f"SELECT {sums} FROM {_MONTHLY} WHERE {where}"), p).one()
    edges = list(RESOLUTION_BINS_H)
    labels = [f"{lo}–{hi} h" for lo, hi in zip(edges, edges[1:])] + [f"≥ {edges[-1]} h"]
    return pd.DataFrame({"label": labels, "count": [int(n) for n in counts]})


def period_months(period: Period) -> list[date]:
    """Every month of a bounded period (first days)."""
    out, m = [], period.start
    while m < period.end:
        out.append(m)
        m = add_months(m, 1)
    return out


def on_time(s: Session, grids, *, lang: str = "zh", tz: str, period: Period | None = None,
            area: Area | None = None, now: datetime | None = None) -> pd.DataFrame:
    """On-time rate per month of dispatch (months of the district's zone ``tz``) in the period, as
    ``app.incidents.queries.on_time_rate`` defines it (closed on time / (closed + open past the deadline at
    ``now``)), in one query: the closed side from the roll-up, the open side live."""
    period = period or ALL_TIME
    where, p = _where(grids, period, area, tz=tz)
    live, q = _where(grids, period, area, tz=tz, raw=True)
    rows = s.execute(text(
        "WITH r AS (SELECT month, sum(closed) AS closed, sum(on_time) AS on_time FROM stats_dispatch_monthly "
        f"  WHERE {where} GROUP BY month HAVING sum(closed) > 0), "
        "l AS (SELECT date_trunc('month', dispatched_at AT TIME ZONE :tz)::date AS month, count(*) AS late "
        "  FROM incidents WHERE state = ANY(:open) AND deadline IS NOT NULL AND deadline < :now "
        f"  AND dispatched_at IS NOT NULL AND {live} GROUP BY 1) "
        "SELECT coalesce(r.month, l.month), coalesce(r.on_time, 0), coalesce(r.closed, 0), coalesce(l.late, 0) "
        "FROM r FULL JOIN l ON l.month = r.month ORDER BY 1"),
        {**p, **q, "tz": tz, "open": list(OPEN_STATES), "now": now or datetime.now(_utc.utc)}).all()
    got = {m: (int(ok), int(closed) + int(late)) for m, ok, closed, late in rows}
    if period.all_time:
        months = period_months(Period(min(got), add_months(max(got), 1))) if got else []
    else:
        months = period_months(period)
    out = []
    for m in months:
        ok, denominator = got.get(m, (0, 0))
        out.append((m.strftime("%Y-%m"), round(100 * ok / denominator, 1) if denominator else None))
    return pd.DataFrame(out, columns=["label", "percent"])


def camera_status(s: Session, grids, *, lang: str = "zh", tz: str, period: Period | None = None,
                  area: Area | None = None) -> pd.DataFrame:
    """Active cameras per status now (no period: a camera's status is today's), by name (``app.labels``), in
    the registry's order of statuses; in the area when one is given."""
    from app.labels import CODES, label

    conds, p = ["lifecycle = 'active'"], {}
    if grids is not None:
        conds.append("grid_code = ANY(:grids)")
        p["grids"] = sorted(grids)
    if area is not None:
        conds.append({"street": "street_code = :area", "community": "community_code = :area",
                      "grid": "grid_code = :area"}[area.kind])
        p["area"] = area.code
    counts = dict(s.execute(text(f"SELECT status, count(*) FROM cameras WHERE {' AND '.join(conds)} GROUP BY 1"),
                            p).all())
    order = [c for c in CODES["camera_status"] if c in counts] + sorted(set(counts) - set(CODES["camera_status"]))
    return pd.DataFrame({"label": [label("camera_status", c, lang) for c in order],
                         "count": [int(counts[c]) for c in order], "code": order}, columns=list(_CODED))


TABLES = {"per_month": per_month, "per_category": per_category, "per_street": per_street,
          "per_community": per_community, "per_grid": per_grid, "resolution_time": resolution_time,
          "on_time_rate": on_time, "camera_status": camera_status}


def all_tables(s: Session, grids, *, lang: str = "zh", tz: str, period: Period | None = None,
               area: Area | None = None) -> dict[str, pd.DataFrame]:
    """Every table, months and days in the district's zone ``tz``."""
    return {name: fn(s, grids, lang=lang, tz=tz, period=period, area=area) for name, fn in TABLES.items()}


def rollup_zone(s: Session) -> str | None:
    """The zone whose months the roll-ups count in (``stats_zone``)."""
    return s.execute(text("SELECT zone FROM stats_zone WHERE id = 1")).scalar()


def ensure_zone(s: Session, tz: str) -> bool:
    """Recount the roll-ups in zone ``tz`` when they count in another one (the setting ``timezone`` changed,
    or the migration ran before it was known); True when it did. The caller commits."""
    if rollup_zone(s) == tz:
        return False
    s.execute(text("SELECT gw_stats_rebuild(:z)"), {"z": tz})
    return True


def area_options(s: Session, grids=None) -> dict[str, list[tuple[str, str]]]:
    """(code, name) of the streets, communities and grids one may filter on: all of them, or (a grid lead's
    ``grids``) those holding one of the user's grids."""
    p = {} if grids is None else {"grids": sorted(grids)}
    mine = "" if grids is None else " WHERE g.code = ANY(:grids)"
    rows = s.execute(text(
        "SELECT g.code, g.name, c.code, c.name, st.code, st.name FROM grids g "
        "JOIN communities c ON c.code = g.community_code LEFT JOIN streets st ON st.code = left(c.code, 9)"
        f"{mine} ORDER BY g.code"), p).all()
    out = {"street": {}, "community": {}, "grid": {}}
    for g, gname, c, cname, st, stname in rows:
        out["grid"][g] = gname
        out["community"][c] = cname
        if st is not None:
            out["street"][st] = stname
    if grids is None:  # a community or street with no grid yet is still an area of the district
        for kind, table in (("street", "streets"), ("community", "communities")):
            out[kind].update(s.execute(text(f"SELECT code, name FROM {table}")).all())
    return {k: sorted(v.items()) for k, v in out.items()}


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
