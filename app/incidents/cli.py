"""``gridwatch incidents …``: a thin layer over ``app.incidents.importer``."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli import Context, echo_import_report, import_options, pass_ctx, report_errors


@click.group("incidents")
def incidents() -> None:
    """Grid incidents (网格事件): bulk import of historical records."""


@incidents.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@import_options
@pass_ctx
@report_errors
def import_cmd(c: Context, file: Path, crs: str | None, dry_run: bool, on_error: str) -> None:
    """Import incidents from FILE (.csv, .xlsx, .geojson); idempotent by external_id."""
    from tqdm import tqdm

    from app.incidents.importer import import_incidents

    with c.db.session() as s, tqdm(desc="incidents", unit="row", file=sys.stderr) as bar:
        report = import_incidents(s, file, crs=crs, dry_run=dry_run, on_error=on_error, settings=c.settings,
                                  progress=bar.update)
    echo_import_report(report)


COMMANDS = [incidents]
