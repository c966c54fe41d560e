"""``gridwatch patrols …``: import tracks and report patrol figures."""
from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from app.cli import Context, echo_import_report, import_options, pass_ctx, report_errors


@click.group("patrols")
def patrols() -> None:
    """Patrol tracks (巡查) of grid members."""


@patrols.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--member", default=None, help="whose track: member external id (M00001) or numeric id; "
                                            "needed for GPX and for CSV without a member_id column")
@import_options
@pass_ctx
@report_errors
def import_cmd(c: Context, file: Path, member: str | None, crs: str | None, dry_run: bool, on_error: str) -> None:
    """Import GPS points from FILE (.csv with member_id,time,lon,lat, or .gpx tracks); idempotent."""
    from tqdm import tqdm

    from app.patrols.importer import import_patrols

    with c.db.session() as s, tqdm(desc="patrols", unit="point", file=sys.stderr) as bar:
        rep = import_patrols(s, file, member=member, crs=crs, dry_run=dry_run, on_error=on_error,
                             settings=c.settings, progress=bar.update)
    echo_import_report(rep)


def _day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2025-03-01") from None


@patrols.command("report")
@click.option("--from", "day_from", default=None, help="first day (YYYY-MM-DD; default 7 days ago)")
@click.option("--to", "day_to", default=None, help="last day (default today)")
@click.option("--grid", "grids", multiple=True, help="only these grid codes (repeatable)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write .csv or .xlsx instead of printing")
@pass_ctx
@report_errors
def report_cmd(c: Context, day_from: str | None, day_to: str | None, grids: tuple[str, ...], out: Path | None) -> None:
    """Minutes in the assigned grid and share of its roads passed within 30 m, per member, grid and day."""
    from app.patrols.service import patrol_report

    today = datetime.now().date()
    d1 = _day(day_to, today)
    d0 = _day(day_from, d1 - timedelta(days=6))
    with c.db.session() as s:
        frame = patrol_report(s, d0, d1, list(grids) or None, settings=c.settings)
    if out is None:
        click.echo(frame.to_string(index=False) if len(frame) else "no patrol points in that period")
        return
    from gis.io import write_frame

    # the shared writer: member names escaped against formulas, a .csvt beside a CSV, a sheet named "patrols"
    write_frame(frame, out, layer="patrols", timezone=c.settings.timezone)
    click.echo(f"{len(frame)} rows → {out}")


@patrols.command("unpatrolled")
@click.option("--days", default=7, show_default=True, type=int)
@click.option("--grid", "grids", multiple=True, help="only these grid codes (repeatable)")
@pass_ctx
def unpatrolled_cmd(c: Context, days: int, grids: tuple[str, ...]) -> None:
    """Grids nobody patrolled in the last DAYS days."""
    from app.patrols.service import unpatrolled_grids

    with c.db.session() as s:
        frame = unpatrolled_grids(s, days, list(grids) or None)
    click.echo(frame.to_string(index=False) if len(frame) else f"every grid was patrolled in the last {days} days")


@patrols.command("prune")
@click.option("--dry-run", is_flag=True, help="count what would go, remove nothing")
@click.option("--days", type=int, default=None, help="keep this many days instead of the setting patrol_retention_days")
@pass_ctx
@report_errors
def prune_cmd(c: Context, dry_run: bool, days: int | None) -> None:
    """Remove the patrol points older than the retention (setting patrol_retention_days), in batches.

    Run it daily from cron or a systemd timer (docs/patrols.md). With retention 0 (keep for ever) it refuses."""
    from tqdm import tqdm

    from app.patrols.retention import cutoff_of, prune_patrols

    keep = c.settings.patrol_retention_days if days is None else days
    cutoff_of(keep)  # a retention of 0 (or less) is refused here, naming the setting, before anything is read
    with tqdm(desc="patrol points removed", unit="point", file=sys.stderr, disable=dry_run) as bar:
        rep = prune_patrols(c.db, keep, dry_run=dry_run, progress=bar.update)
    when = rep.cutoff.astimezone(c.settings.district.tz).strftime("%Y-%m-%d %H:%M")
    if dry_run:
        click.echo(f"{rep.matched} patrol points are older than {keep} days (before {when}); nothing removed (dry run)")
    else:
        click.echo(f"{rep.removed} patrol points older than {keep} days (before {when}) removed")


COMMANDS = [patrols]
