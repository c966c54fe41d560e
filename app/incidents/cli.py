"""``gridwatch incidents …``: a thin layer over ``app.incidents.importer``."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli import Context, pass_ctx, report_errors


@click.group("incidents")
def incidents() -> None:
    """Grid incidents (网格事件): bulk import of historical records."""


@incidents.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", default=None, help="CRS of lon/lat: wgs84 (default), cgcs2000, gcj02, bd09 or EPSG:nnnn")
@click.option("--dry-run", is_flag=True, help="check every row and report; write nothing")
@click.option("--on-error", type=click.Choice(["reject", "skip"]), default="reject", show_default=True,
              help="reject: write nothing if any row is bad; skip: write the good rows")
@pass_ctx
@report_errors
def import_cmd(c: Context, file: Path, crs: str | None, dry_run: bool, on_error: str) -> None:
    """Import incidents from FILE (.csv, .xlsx, .geojson); idempotent by external_id."""
    from tqdm import tqdm

    from app.incidents.importer import import_incidents

    with c.db.session() as s, tqdm(desc="incidents", unit="row", file=sys.stderr) as bar:
        report = import_incidents(s, file, crs=crs, dry_run=dry_run, on_error=on_error, settings=c.settings,
                                  progress=bar.update)
    for e in report.errors[:200]:
        click.echo(f"  skipped: {e}", err=True)
    if len(report.errors) > 200:
        click.echo(f"  … and {len(report.errors) - 200} more", err=True)
    click.echo(("dry run: " if dry_run else "") + report.summary())


COMMANDS = [incidents]
