"""Benchmark: the demo's incidents (16,174) exported to Excel the old way (pandas' ``to_excel`` with openpyxl)
versus the shared writer (``gis.writers``: XlsxWriter, typed cells), with openpyxl's write-only mode as the
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
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_engine  # noqa: E402  (benchmarks/scratch.py)


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _openpyxl_write_only(df: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("incidents")
    sheet.append(list(df.columns))
    for row in df.itertuples(index=False, name=None):
        sheet.append([None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v for v in row])
    book.save(path)


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
            old = _best(lambda: cells.to_excel(out / "old.xlsx", index=False, engine="openpyxl"), args.repeat)
            wo = _best(lambda: _openpyxl_write_only(cells, out / "wo.xlsx"), args.repeat)
            new = _best(lambda: writers._write_xlsx(frame, out / "new.xlsx", layer="incidents",
                                                    timezone=settings.timezone), args.repeat)
            print(f"{'xlsx writer':34} {'seconds':>8} {'vs pandas':>10}")
            print(f"{'pandas to_excel (openpyxl), before':34} {old:8.2f} {1.0:9.1f}×")
            print(f"{'openpyxl write-only':34} {wo:8.2f} {old / wo:9.1f}×")
            print(f"{'gis.writers (XlsxWriter), after':34} {new:8.2f} {old / new:9.1f}×   (incl. flattening)")
            print()
            print(f"{'export_incidents (SQL read incl.)':34} {'seconds':>8}")
            for suffix in (".xlsx", ".gpkg", ".csv", ".geojson"):
                t = _best(lambda: export_incidents(s, out / f"i{suffix}", timezone=settings.timezone), args.repeat)
                print(f"{suffix:34} {t:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
