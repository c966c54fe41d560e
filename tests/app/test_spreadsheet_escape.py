"""Every table the dashboards hand out as CSV/xlsx escapes cells a spreadsheet would evaluate."""
from __future__ import annotations

import csv
import io

from sqlalchemy import text

from app.dashboards import planning, stats

EVIL = '=HYPERLINK("http://x.example","y")'


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_statistics_csv_escapes_a_street_name(demo_session):
    code = demo_session.execute(text("SELECT street_code FROM communities c JOIN incidents i "
                                     "ON i.community_code = c.code LIMIT 1")).scalar()
    demo_session.execute(text("UPDATE streets SET name = :n WHERE code = :c"), {"n": EVIL, "c": code})
    rows = _rows(stats.table_csv(stats.per_street(demo_session, None, tz="Asia/Shanghai")))
    labels = [r[0] for r in rows[1:]]
    assert "'" + EVIL in labels and EVIL not in labels


def test_planner_coverage_csv_and_xlsx_escape_a_grid_name(app, demo_session):
    from openpyxl import load_workbook

    with app.app_context():  # the coverage report keeps its cache under the app's var dir
        _planner_files_escape(demo_session, load_workbook)


def _planner_files_escape(demo_session, load_workbook):
    code = demo_session.execute(text("SELECT code FROM grids ORDER BY code LIMIT 1")).scalar()
    demo_session.execute(text("UPDATE grids SET name = :n WHERE code = :c"), {"n": EVIL, "c": code})
    body, _ = planning.coverage_file(demo_session, "csv")
    rows = _rows(body)
    name = rows[0].index("name")
    assert ["'" + EVIL] == [r[name] for r in rows[1:] if r[0] == code]
    body, _ = planning.coverage_file(demo_session, "xlsx")
    sheet = load_workbook(io.BytesIO(body)).active
    cells = [c.value for c in next(sheet.iter_cols(min_col=name + 1, max_col=name + 1))]
    assert "'" + EVIL in cells and EVIL not in cells
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)  # no formula cells at all
