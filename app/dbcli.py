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
@click.option("--listen", metavar="ADDR[:PORT]",
              help="also listen on TCP (0.0.0.0, 192.168.1.5:5433, [::]:5432; port 5432 by default) for readers; "
                   "kept for later starts")
@click.option("--allow", "allow", multiple=True, metavar="CIDR",
              help="with --listen: networks readers may connect from (repeatable; a CIDR, or samenet, samehost, "
                   "all); default samenet: the server's own subnets")
@click.option("--no-listen", is_flag=True, help="turn TCP off again (socket only)")
@pass_ctx
@report_errors
def db_start(c: Context, listen: str | None, allow: tuple[str, ...], no_listen: bool) -> None:
    """Create (first time) and start the embedded PostgreSQL+PostGIS cluster."""
    from app.pgcluster import ClusterError, parse_allow, parse_listen

    if listen and no_listen:
        raise click.UsageError("give --listen or --no-listen, not both")
    if allow and not listen:
        raise click.UsageError("--allow goes with --listen")
    if c.settings.database_url:
        if listen or no_listen:
            raise click.UsageError("DATABASE_URL is set: that server's listen_addresses and pg_hba.conf are its "
                                   "administrator's (docs/database.md)")
        click.echo("DATABASE_URL is set: using that server; the embedded cluster is not started.")
        return
    cluster = _cluster(c.settings)
    changed = False
    try:
        if listen:
            try:
                address, port = parse_listen(listen)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--listen") from None
            try:
                nets = [parse_allow(a) for a in allow] or ["samenet"]
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--allow") from None
            changed = cluster.configure_tcp(address, port, nets)
        elif no_listen:
            changed = cluster.configure_tcp(None)
        started = cluster.start()
        if changed and not started:
            cluster.restart()
        created = cluster.ensure_database("gridwatch")
    except ClusterError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    state = "started" if started else ("restarted" if changed else "already running")
    click.echo(state + (", database created" if created else "") + f": {cluster.url()}")
    tcp = cluster.tcp
    click.echo(f"TCP: {tcp['address']}:{tcp['port']} for readers from {', '.join(tcp['allow'])} (scram-sha-256)"
               if tcp else "TCP: off (Unix socket only)")


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
    """Say whether the database runs, and print its URL (for psql), and how readers connect (QGIS)."""
    from app.db import database_url

    if c.settings.database_url:
        click.echo(f"external server (DATABASE_URL): {database_url(c.settings)}")
        click.echo("readers: `gridwatch db reader add NAME`; their pg_hba.conf lines are the server administrator's "
                   "(docs/database.md)")
        return
    cluster = _cluster(c.settings)
    state = "running" if cluster.running() else ("stopped" if cluster.initialised else "not created")
    click.echo(f"embedded cluster {state} in {cluster.root}")
    click.echo(f"url: {cluster.url()}")
    click.echo(f"psql: psql '{cluster.psql_url()}'")
    for line in reader_connection_lines(cluster.tcp):
        click.echo(line)
    if state != "running":
        sys.exit(1)


def reader_connection_lines(tcp: dict | None, user: str = "<reader>") -> list[str]:
    """How a reader connects: a libpq connection string and the fields of QGIS's "New PostGIS Connection"."""
    from app.pgcluster import READER_DATABASE

    if not tcp:
        return ["TCP: off (readers cannot connect; `gridwatch db start --listen 0.0.0.0` turns it on)"]
    host = tcp["address"]
    if host in ("0.0.0.0", "::", "*"):
        import socket

        host = socket.gethostname()
    return [f"TCP: {tcp['address']}:{tcp['port']}, readers from {', '.join(tcp['allow'])} (scram-sha-256); "
            "no TLS: keep it on a trusted network or tunnel it",
            f"reader: psql 'host={host} port={tcp['port']} dbname={READER_DATABASE} user={user} sslmode=prefer'",
            "QGIS > Layer > Add Layer > Add PostGIS Layers > New:",
            "  Name: gridwatch", f"  Host: {host}", f"  Port: {tcp['port']}", f"  Database: {READER_DATABASE}",
            "  SSL mode: prefer", f"  Authentication > Basic: User name {user}, Password (from `db reader add`)",
            "  then Connect: the layers are the views of schema gis"]


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@pass_ctx
def db_upgrade(c: Context, revision: str) -> None:
    """Apply the Alembic migrations."""
    from app import migrate

    migrate.upgrade(c.db.engine, revision, district_code=c.settings.district_code)
    click.echo(f"database at revision {migrate.current_heads(c.db.engine)}")


# -- readers ----------------------------------------------------------------------------
@db.group("reader")
def reader() -> None:
    """Read-only database accounts for analysts (QGIS, GDAL, psql): SELECT on the gis views only."""


@reader.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
@pass_ctx
@report_errors
def reader_add(c: Context, name: str, password_stdin: bool) -> None:
    """Create reader NAME (or give an existing reader a new password); the password comes from a prompt
    (or stdin with --password-stdin)."""
    from app.readers import add_reader

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with c.db.session() as s:
        created = add_reader(s, name, password)
    click.echo(f"reader {name} " + ("created" if created else "password changed")
               + ": SELECT on schema gis only; `gridwatch db status` shows how to connect")


@reader.command("list")
@pass_ctx
@report_errors
def reader_list(c: Context) -> None:
    """List the readers: name, open connections / limit (tab-separated)."""
    from app.readers import list_readers

    with c.db.session() as s:
        readers = list_readers(s)
    if not readers:
        click.echo("no reader")
    for r in readers:
        click.echo(f"{r.name}\tconnections={r.connections}/{r.connection_limit}")


@reader.command("remove")
@click.argument("name")
@pass_ctx
@report_errors
def reader_remove(c: Context, name: str) -> None:
    """Remove reader NAME and end its open connections (refused for any role that is not a reader)."""
    from app.readers import remove_reader

    with c.db.session() as s:
        ended = remove_reader(s, name)
    click.echo(f"reader {name} removed" + (f"; {ended} connection(s) ended" if ended else ""))
