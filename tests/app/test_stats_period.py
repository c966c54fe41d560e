"""/dashboard/stats and its CSVs: the period (months, default the last 12 with data) and the area (street,
community or grid), checked into a 400 naming the parameter; a grid lead's areas; CSVs of what the page shows."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import text

from app.dashboards import stats
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)
from tests.settings import TEST_SETTINGS

TZ = TEST_SETTINGS.timezone


def _csv(client, path):
    r = client.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)[:800]
    return list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))


def _raw_months(s, start: str, end: str, cond: str = "TRUE", p=None) -> list[list[str]]:
    rows = s.execute(text(
        "SELECT to_char(reported_at AT TIME ZONE :tz, 'YYYY-MM'), count(*) FROM incidents "
        f"WHERE to_char(reported_at AT TIME ZONE :tz, 'YYYY-MM') BETWEEN :a AND :b AND {cond} GROUP BY 1 ORDER BY 1"),
        {"tz": TZ, "a": start, "b": end, **(p or {})}).all()
    return [[m, str(n)] for m, n in rows]


def test_default_period_is_the_last_12_months_with_data_and_says_so(client, lead_grid, demo_session):
    login(client, "operator")
    html = client.get("/dashboard/stats").get_data(as_text=True)
    latest = demo_session.execute(text(
        "SELECT max(to_char(reported_at AT TIME ZONE :tz, 'YYYY-MM')) FROM incidents"), {"tz": TZ}).scalar()
    period = stats.default_period(TZ, latest=date.fromisoformat(latest + "-01"))
    first = period.start.strftime("%Y-%m")
    assert f"{first} 至 {latest}" in html and "全区" in html  # the page says what it shows
    months = _csv(client, "/dashboard/stats/per_month.csv")
    assert months[1:] == _raw_months(demo_session, first, latest)
    assert len(months) - 1 <= 12


def test_months_and_area_reach_the_csv_links_and_the_csvs(client, lead_grid, demo_session):
    login(client, "operator")
    community = demo_session.execute(text(
        "SELECT community_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar()
    name = demo_session.execute(text("SELECT name FROM communities WHERE code = :c"), {"c": community}).scalar()
    q = f"start=2025-03&end=2025-05&community={community}"
    html = client.get(f"/dashboard/stats?{q}&lang=en").get_data(as_text=True)
    assert f"Period: 2025-03 to 2025-05; area: Community {name}" in html
    links = re.findall(r'href="(/dashboard/stats/[a-z_]+\.csv[^"]*)"', html)
    assert len(links) == len(stats.TABLES)
    assert all("start=2025-03" in u and "end=2025-05" in u and f"community={community}" in u for u in links)
    got = _csv(client, f"/dashboard/stats/per_month.csv?{q}")
    assert got[1:] == _raw_months(demo_session, "2025-03", "2025-05", "community_code = :c", {"c": community})
    assert len(got) == 4
    streets = _csv(client, f"/dashboard/stats/per_street.csv?{q}")
    assert [r[2] for r in streets[1:]] == [community[:9]]  # one community: one street


def test_all_time_counts_every_incident(client, lead_grid, demo_session):
    login(client, "operator")
    rows = _csv(client, "/dashboard/stats/per_category.csv?period=all")
    assert sum(int(r[1]) for r in rows[1:]) == demo_session.execute(text("SELECT count(*) FROM incidents")).scalar()
    assert "全部时间" in client.get("/dashboard/stats?period=all").get_data(as_text=True)


@pytest.mark.parametrize("query,name", [
    ("start=2025-13", "start"), ("start=2025-3", "start"), ("end=25-01", "end"), ("start=1999-01", "start"),
    ("start=2025-05&end=2025-03", "end"), ("period=all&start=2025-01", "period"), ("period=week", "period"),
    ("street=510304999", "street"), ("street=51030400A", "street"), ("community=5103040010", "community"),
    ("grid=510311001001001", "grid"),  # a grid of another district
    ("street=510304001&grid=510304001001001", "grid"),
])
def test_bad_parameters_are_a_400_naming_them(client, lead_grid, query, name):
    login(client, "operator")
    for path in ("/dashboard/stats", "/dashboard/stats/per_month.csv"):
        r = client.get(f"{path}?{query}", headers={"Accept": "application/json"})
        assert r.status_code == 400, (query, r.status_code)
        assert name in [e["field"] for e in r.get_json()["errors"]], r.get_json()
    page = client.get(f"/dashboard/stats?{query}")
    assert page.status_code == 400 and name in page.get_data(as_text=True)


def test_a_grid_lead_sees_only_areas_of_their_grids(client, lead_grid, demo_session):
    login(client, "lead")
    other = demo_session.execute(text("SELECT code FROM grids WHERE code <> :g ORDER BY code LIMIT 1"),
                                 {"g": lead_grid}).scalar()
    other_street = demo_session.execute(text("SELECT code FROM streets WHERE code <> :s ORDER BY code LIMIT 1"),
                                        {"s": lead_grid[:9]}).scalar()
    assert client.get(f"/dashboard/stats?grid={other}").status_code == 404
    assert client.get(f"/dashboard/stats/per_grid.csv?street={other_street}").status_code == 404
    html = client.get(f"/dashboard/stats?community={lead_grid[:12]}&period=all").get_data(as_text=True)
    assert f'value="{other}"' not in html and f'value="{lead_grid}"' in html
    rows = _csv(client, f"/dashboard/stats/per_grid.csv?community={lead_grid[:12]}&period=all")
    n = demo_session.execute(text("SELECT count(*) FROM incidents WHERE grid_code = :g"), {"g": lead_grid}).scalar()
    assert rows[1:] == [[lead_grid, str(n)]]


def test_the_form_names_the_areas(client, lead_grid, demo_session):
    login(client, "operator")
    html = client.get("/dashboard/stats").get_data(as_text=True)
    code, name = demo_session.execute(text("SELECT code, name FROM streets ORDER BY code LIMIT 1")).one()
    assert re.search(rf'<option value="{code}"[^>]*>{re.escape(name)}</option>', html)
    assert 'type="month" name="start"' in html and "js/stats.js" in html
