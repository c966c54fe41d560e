"""Benchmark: the demo's incidents (16,174) exported to Excel the old way (gis.io before issue 14: pandas'
``to_excel`` with openpyxl, after a per-cell OOXML escape) versus the shared writer (``gis.writers``: XlsxWriter, typed cells), with openpyxl's write-only mode as the
other candidate; and the GeoPackage and CSV exports.

    .venv/bin/python benchmarks/exports.py [--repeat 3]

Uses DATABASE_URL when set, else a throw-away private cluster. Each figure is the best of ``--repeat``
runs of the write alone (the same flattened cells for every Excel writer, so only the writer differs),
then the whole ``export_incidents`` (SQL read included) per format.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import best_of as _best, scratch_engine  # noqa: E402  (benchmarks/scratch.py)


def _openpyxl_write_only(df: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("incidents")
    sheet.append(list(df.columns))
    for row in df.itertuples(index=False, name=None):
        sheet.append([None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v for v in row])
    book.save(path)


def _before(frame, path: Path, timezone: str) -> None:
    """The Excel path of gis.io before issue 14, as it was: per-value isoformat, formula escape, the OOXML
    escape of every text cell, then pandas' to_excel with openpyxl (the "17 s" of the issue)."""
    import re

    from gis.io import escape_frame

    ooxml = re.compile(r"_x([0-9A-Fa-f]{4})_")

    def escape(v):
        if not isinstance(v, str) or ("_x" not in v and "\r" not in v):
            return v
        return ooxml.sub(lambda m: "_x005F" + m.group(0), v).replace("\r", "_x000D_")

    df = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    for col in df.columns:
        if isinstance(df[col].dtype, pd.DatetimeTZDtype):
            df[col] = df[col].dt.tz_convert(timezone).map(lambda t: "" if pd.isna(t) else t.isoformat())
    df = escape_frame(df)
    df["lon"], df["lat"] = frame.geometry.x.round(8), frame.geometry.y.round(8)
    df.apply(lambda col: col.map(escape) if pd.api.types.is_string_dtype(col.dtype) else col).to_excel(
        path, index=False, engine="openpyxl")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from app.config import Settings
    from app.db import Database
    from app.demo import load_demo
    from app.incidents.exporter import export_incidents, incidents_frame
    from gis import writers

    settings = Settings()  # a benchmark is a composition root of its own
    with scratch_engine() as engine, tempfile.TemporaryDirectory() as tmp:
        db = Database(engine)
        with db.session() as s:
            load_demo(s, ROOT / "data", settings=settings)
        out = Path(tmp)
        with db.session() as s:
            frame = incidents_frame(s).rename_geometry("geometry")
            print(f"{len(frame)} incidents, {len(frame.columns) - 1} columns + lon/lat")
            cells, kinds = writers._flat(frame, settings.timezone)
            before = _best(lambda: _before(frame, out / "before.xlsx", settings.timezone), args.repeat)
            old = _best(lambda: cells.to_excel(out / "old.xlsx", index=False, engine="openpyxl"), args.repeat)
            wo = _best(lambda: _openpyxl_write_only(cells, out / "wo.xlsx"), args.repeat)
            new = _best(lambda: writers._write_xlsx(frame, out / "new.xlsx", layer="incidents",
                                                    timezone=settings.timezone), args.repeat)
            print(f"{'xlsx writer (flattening incl.)':38} {'seconds':>8} {'vs before':>10}")
            print(f"{'before: gis.io of issue 13 (openpyxl)':38} {before:8.2f} {1.0:9.1f}×")
            print(f"{'pandas to_excel (openpyxl), cells only':38} {old:8.2f} {before / old:9.1f}×")
            print(f"{'openpyxl write-only, cells only':38} {wo:8.2f} {before / wo:9.1f}×")
            print(f"{'after: gis.writers (XlsxWriter)':38} {new:8.2f} {before / new:9.1f}×")
            print()
            print(f"{'export_incidents (SQL read incl.)':38} {'seconds':>8}")
            for suffix in (".xlsx", ".gpkg", ".csv", ".geojson"):
                t = _best(lambda: export_incidents(s, out / f"i{suffix}", timezone=settings.timezone), args.repeat)
                print(f"{suffix:38} {t:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
