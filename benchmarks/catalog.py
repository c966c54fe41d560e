"""Benchmark: syncing the registry from a GB/T 28181 catalog versus importing the same cameras from a CSV file
(what an administrator did before: export the platform's list to a spreadsheet and import it).

The demo's cameras (data/demo/cameras.csv) are written as a platform's catalog: SumNum = every camera, 100 items
per MESSAGE body (one file each, GB18030, as platforms answer a catalog query), plus the district's area node.
Side by side in one run, on one scratch database with the demo boundaries:

- reading: ``read_catalog`` of the folder vs ``gis.io.read_table`` of the CSV (and of a 10× catalog);
- first load: ``sync_catalog`` vs ``import_cameras`` (each on an empty registry);
- an unchanged re-read: the same catalog again vs the same CSV again (both must write nothing).

    .venv/bin/python benchmarks/catalog.py [--repeat 3]

Uses DATABASE_URL when set, else a throw-away private cluster.
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import best_of, scratch_engine  # noqa: E402  (benchmarks/scratch.py)

PLATFORM = "51030400002000000001"
PER_MESSAGE = 100
# the catalog element of each CSV column the catalog carries
ELEMENTS = {"device_id": "DeviceID", "name": "Name", "address": "Address", "ptz_type": "PTZType",
            "lon": "Longitude", "lat": "Latitude", "status": "Status"}


def _items(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        cells = "".join(f"<{el}>{escape(str(r[col]))}</{el}>" for col, el in ELEMENTS.items() if r.get(col))
        out.append(f"<Item>{cells}<Parental>0</Parental><ParentID>510304</ParentID><CivilCode>510304</CivilCode>"
                   "</Item>")
    return out


def write_catalog(rows: list[dict], folder: Path) -> int:
    """The rows as one catalog over ceil(n / 100) message files; returns the number of files."""
    items = ["<Item><DeviceID>510304</DeviceID><Name>大安区</Name></Item>"] + _items(rows)
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for n, start in enumerate(range(0, len(items), PER_MESSAGE), 1):
        part = items[start:start + PER_MESSAGE]
        body = (f'<?xml version="1.0" encoding="GB2312"?>\n<Response><CmdType>Catalog</CmdType><SN>1</SN>'
                f"<DeviceID>{PLATFORM}</DeviceID><SumNum>{len(items)}</SumNum><DeviceList Num=\"{len(part)}\">"
                + "".join(part) + "</DeviceList></Response>\n")
        (folder / f"catalog-{n:04d}.xml").write_bytes(body.encode("gb18030"))
    return n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from app.config import Settings
    from app.db import Database
    from app.demo import load_boundaries
    from app.loaders import sync_options
    from camera_registry.catalog import read_catalog
    from camera_registry.importer import import_cameras
    from camera_registry.sync import sync_catalog
    from gis.io import read_table

    settings = Settings()  # a benchmark is a composition root of its own
    csv_path = ROOT / "data" / "demo" / "cameras.csv"
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    work = Path(tempfile.mkdtemp(prefix="gridwatch-bench-catalog-"))
    files = write_catalog(rows, work / "demo")
    big = [dict(r, device_id=f"{r['device_id'][:14]}{(i * 7919) % 1000000:06d}") for i in range(10)
           for r in rows]  # 10× the items (IDs varied; read only, never synced)
    big_files = write_catalog(big, work / "big")
    t_read_cat = best_of(lambda: read_catalog(work / "demo"), args.repeat)
    t_read_csv = best_of(lambda: read_table(csv_path), args.repeat)
    t_read_big = best_of(lambda: read_catalog(work / "big"), args.repeat)
    print(f"read: catalog of {len(rows)} cameras in {files} messages {t_read_cat * 1000:.1f} ms · the CSV "
          f"{t_read_csv * 1000:.1f} ms ({t_read_cat / t_read_csv:.1f}×) · a 10× catalog ({len(big)} items, "
          f"{big_files} messages) {t_read_big * 1000:.1f} ms")
    with scratch_engine() as engine:
        db = Database(engine)
        with db.session() as s:
            load_boundaries(s, ROOT / "data" / "demo")

        def clear():
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE cameras, camera_events, camera_revisions, catalog_nodes"))

        def first_sync():
            clear()
            with db.session() as s:
                rep = sync_catalog(s, read_catalog(work / "demo"), **sync_options(s, settings))
                s.commit()
            assert rep.added == len(rows), rep.summary()

        def first_csv():
            clear()
            with db.session() as s:
                rep = import_cameras(s, csv_path, **{k: v for k, v in sync_options(s, settings).items()
                                                     if k != "platform_settings"})
                s.commit()
            assert rep.added == len(rows), rep.summary()

        t_first_csv = best_of(first_csv, args.repeat)
        t_again_csv = best_of(lambda: _again_csv(db, csv_path, settings), args.repeat)
        t_first_sync = best_of(first_sync, args.repeat)
        t_again_sync = best_of(lambda: _again_sync(db, work / "demo", settings), args.repeat)
    print(f"first load of {len(rows)} cameras: catalog sync {t_first_sync:.2f} s · CSV import {t_first_csv:.2f} s "
          f"({t_first_sync / t_first_csv:.2f}×)")
    print(f"unchanged re-read: catalog sync {t_again_sync:.2f} s · CSV import {t_again_csv:.2f} s "
          f"({t_again_sync / t_again_csv:.2f}×); both wrote nothing")
    return 0


def _again_csv(db, path, settings):
    from app.loaders import registry_options
    from camera_registry.importer import import_cameras

    with db.session() as s:
        rep = import_cameras(s, path, **registry_options(s, settings))
        s.commit()
    assert rep.added == rep.updated == 0, rep.summary()


def _again_sync(db, folder, settings):
    from app.loaders import sync_options
    from camera_registry.catalog import read_catalog
    from camera_registry.sync import sync_catalog

    with db.session() as s:
        rep = sync_catalog(s, read_catalog(folder), **sync_options(s, settings))
        s.commit()
    assert rep.added == rep.changed == rep.retired == rep.status_events == 0, rep.summary()


if __name__ == "__main__":
    sys.exit(main())
