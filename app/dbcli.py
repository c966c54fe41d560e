"""``gridwatch db``: the embedded PostgreSQL+PostGIS cluster (start, stop, status), migrations, and the
read-only accounts analysts connect with."""
from __future__ import annotations

import sys

import click

from app.cli import Context, pass_ctx, report_errors
from app.config import Settings


# -- database ---------------------------------------------------------------------------
@click.group()
def db() -> None:
    """The database: embedded cluster under var/ (when DATABASE_URL is unset) and migrations."""


def _cluster(settings: Settings):
    from app.pgcluster import Cluster

    return Cluster(settings.var_path / "pg")


@db.command("start")
@pass_ctx
@report_errors
def db_start(c: Context) -> None:
    """Create (first time) and start the embedded PostgreSQL+PostGIS cluster."""
    from app.pgcluster import ClusterError

    if c.settings.database_url:
        click.echo("DATABASE_URL is set: using that server; the embedded cluster is not started.")
        return
    cluster = _cluster(c.settings)
    try:
        started = cluster.start()
        created = cluster.ensure_database("gridwatch")
    except ClusterError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    click.echo(("started" if started else "already running") + (", database created" if created else "")
               + f": {cluster.url()}")


@db.command("stop")
@pass_ctx
def db_stop(c: Context) -> None:
    """Stop the embedded cluster."""
    if c.settings.database_url:
        click.echo("DATABASE_URL is set: there is no embedded cluster to stop.")
        return
    click.echo("stopped" if _cluster(c.settings).stop() else "not running")


@db.command("status")
@pass_ctx
def db_status(c: Context) -> None:
    """Say whether the database runs, and print its URL (for psql and QGIS)."""
    from app.db import database_url

    if c.settings.database_url:
        click.echo(f"external server (DATABASE_URL): {database_url(c.settings)}")
        return
    cluster = _cluster(c.settings)
    state = "running" if cluster.running() else ("stopped" if cluster.initialised else "not created")
    click.echo(f"embedded cluster {state} in {cluster.root}")
    click.echo(f"url: {cluster.url()}")
    click.echo(f"psql: psql '{cluster.psql_url()}'")
    if state != "running":
        sys.exit(1)


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@pass_ctx
def db_upgrade(c: Context, revision: str) -> None:
    """Apply the Alembic migrations."""
    from app import migrate

    migrate.upgrade(c.db.engine, revision)
    click.echo(f"database at revision {migrate.current_heads(c.db.engine)}")
