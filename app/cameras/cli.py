"""``gridwatch cameras``: import, export, status, list, near, history (thin layer over camera_registry)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli import Context, echo_import_report, import_options, pass_ctx, report_errors

LIST_COLUMNS = ["device_id", "name", "programme", "point_class", "status", "grid_code", "community_code"]


@click.group("cameras")
def cameras_group() -> None:
    """The Skynet camera registry (天网点位): GB/T 28181 IDs, import/export, status, queries."""


@cameras_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@import_options
@click.option("--platform", default=None, metavar="SIP_ID",
              help="catalogs: the video platform's SIP ID (needed for a wvp export, which names none; checked "
                   "against the catalog's own)")
@pass_ctx
@report_errors
def import_cmd(c: Context, file: Path, crs: str | None, dry_run: bool, on_error: str, platform: str | None) -> None:
    """Import cameras from FILE (.csv, .xlsx, .geojson, .gpkg, .shp); upsert by device ID.

    A GB/T 28181 catalog or Notify body (.xml), a wvp-GB28181-pro channel export (.json) or a folder of them
    is synced instead (docs/catalog.md): cameras added, changed and (by a complete catalog) retired, status
    events, the catalog tree; --crs defaults to the platform's setting (video_platforms)."""
    from camera_registry.catalog import is_catalog

    if is_catalog(file):
        _sync(c, file, crs=crs, dry_run=dry_run, on_error=on_error, platform=platform)
        return
    if platform is not None:
        raise click.UsageError("--platform is for catalogs (.xml bodies, wvp .json exports); a table says a "
                               "camera's platform in its platform (视频平台) column")
    if file.is_dir():
        raise click.UsageError(f"{file} is a folder without GB/T 28181 catalog files: a table is imported "
                               "one file at a time")
    from tqdm import tqdm

    from app.loaders import registry_options
    from camera_registry.importer import import_cameras

    with c.db.session() as s, tqdm(desc="cameras", unit="row", file=sys.stderr) as bar:
        report = import_cameras(s, file, crs=crs, on_error=on_error, dry_run=dry_run, actor="cli",
                                progress=bar.update, **registry_options(s, c.settings))
    if report.ignored_columns:
        click.echo(f"  ignored columns: {', '.join(report.ignored_columns)}", err=True)
    echo_import_report(report)


def _sync(c: Context, path: Path, *, crs, dry_run, on_error, platform) -> None:
    """``cameras import`` of a catalog: ``camera_registry.sync.sync_catalog``, then its report."""
    from tqdm import tqdm

    from app.cli import echo_row_errors
    from app.loaders import sync_options
    from camera_registry.catalog import read_catalog
    from camera_registry.sync import sync_catalog

    catalog = read_catalog(path)
    with c.db.session() as s, tqdm(desc="catalog", unit="item", file=sys.stderr) as bar:
        report = sync_catalog(s, catalog, platform=platform, crs=crs, on_error=on_error, dry_run=dry_run,
                              actor="catalog", progress=bar.update, **sync_options(s, c.settings))
    echo_row_errors(report.errors, "refused: ")
    for line in report.lines():
        click.echo(line)


@cameras_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--chinese-headers", is_flag=True, help="设备编码, 设备名称, 经度, 纬度, … instead of English names")
@pass_ctx
@report_errors
def export_cmd(c: Context, file: Path, chinese_headers: bool) -> None:
    """Write the registry to FILE (.csv, .xlsx, .geojson, .gpkg, .shp); the importer reads it back unchanged."""
    from camera_registry.exporter import export_cameras

    from app.layers_db import layer_style  # a GeoPackage opens in QGIS coloured like the dashboards

    style = layer_style("cameras") if file.suffix.lower() == ".gpkg" else None
    with c.db.session() as s:
        n = export_cameras(s, file, chinese_headers=chinese_headers, style=style)
    click.echo(f"{n} cameras → {file}")


@cameras_group.command("status")
@click.argument("device_id")
@click.argument("status")
@click.option("--note", default=None, help="why (recorded with the event)")
@click.option("--actor", default="cli", show_default=True)
@pass_ctx
@report_errors
def status_cmd(c: Context, device_id: str, status: str, note: str | None, actor: str) -> None:
    """Record STATUS (ON, OFF, VLOST, DEFECT; 在线/离线) for DEVICE_ID."""
    from camera_registry.history import set_status

    with c.db.session() as s:
        cam = set_status(s, device_id, status, actor, note=note)
        click.echo(f"{cam.device_id} {cam.name}: {cam.status} (version {cam.version})")


def _print(frame, columns) -> None:
    if frame.empty:
        click.echo("no cameras")
        return
    text = frame[columns].fillna("").astype(str).to_string(index=False)
    click.echo(text)
    click.echo(f"{len(frame)} camera(s)")


def _print_rows(rows: list[dict], columns: list[str]) -> None:
    """A listing as ``_print`` writes a frame (right-aligned columns under their names), without pandas."""
    if not rows:
        click.echo("no cameras")
        return
    cells = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    click.echo(" ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for row in cells:
        click.echo(" ".join(v.rjust(w) for v, w in zip(row, widths)))
    click.echo(f"{len(rows)} camera(s)")


@cameras_group.command("list")
@click.option("--grid", default=None, help="grid code (15 digits)")
@click.option("--community", default=None, help="community code (12 digits)")
@click.option("--street", default=None, help="street code (9 digits)")
@click.option("--programme", default=None, help="skynet, xueliang, huiyan, compound, other (or 天网, 雪亮工程, …)")
@click.option("--status", default=None, help="ON, OFF, VLOST, DEFECT")
@click.option("--class", "point_class", default=None, help="point class 1, 2, 3 or 9")
@pass_ctx
@report_errors
def list_cmd(c: Context, grid, community, street, programme, status, point_class) -> None:
    """List cameras matching every filter given."""
    from camera_registry.queries import camera_rows

    with c.db.session() as s:
        rows = camera_rows(s, LIST_COLUMNS, grid=grid, community=community, street=street, programme=programme,
                           status=status, point_class=point_class)
    _print_rows(rows, LIST_COLUMNS)


@cameras_group.command("near")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--within", "within_m", type=float, default=200.0, show_default=True, help="metres")
@pass_ctx
@report_errors
def near_cmd(c: Context, lon: float, lat: float, within_m: float) -> None:
    """Cameras within --within metres of WGS-84 LON LAT, nearest first."""
    from camera_registry.queries import cameras_within

    with c.db.session() as s:
        frame = cameras_within(s, lon, lat, within_m)
    frame["distance_m"] = frame["distance_m"].round(1)
    _print(frame, ["device_id", "name", "status", "distance_m"])


@cameras_group.command("history")
@click.argument("device_id")
@pass_ctx
@report_errors
def history_cmd(c: Context, device_id: str) -> None:
    """The events of DEVICE_ID (ADD, UPDATE, ON, OFF, VLOST, DEFECT, DEL), oldest first."""
    from camera_registry.history import events

    with c.db.session() as s:
        rows = events(s, device_id)
        if not rows:
            click.echo(f"no events for {device_id}")
            return
        for e in rows:
            click.echo(f"{e.at.isoformat(timespec='seconds')}  {e.event:<6} {e.actor:<12} {e.note or ''}")


COMMANDS = [cameras_group]
