"""The ``gridwatch`` command: a thin layer over library functions (each also callable in-process)."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from app.accounts.roles import ACCOUNT_ROLES, FIELD_ROLES
from app.config import Settings
from app.features import CLI_COMMANDS, help_texts, load_command, unlisted_cli_modules
from gis.errors import ON_ERROR, GridwatchError, InvalidData


class Context:
    """What every command needs: the settings, and a database opened on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._db = None

    @property
    def district(self):
        """The district context, built once from the settings (``app.config.district_of``)."""
        try:
            return self.settings.district
        except ValueError as exc:
            raise click.UsageError(f"bad district settings: {exc}") from None

    @property
    def db(self):
        if self._db is None:
            from app.db import Database

            self._db = Database.from_settings(self.settings)
        return self._db


pass_ctx = click.make_pass_decorator(Context)


ROW_ERROR_LIMIT = 200


def echo_row_errors(errors, prefix: str = "") -> None:
    """List row errors on stderr (at most ``ROW_ERROR_LIMIT``, then how many more)."""
    for e in errors[:ROW_ERROR_LIMIT]:
        click.echo(f"  {prefix}{e}", err=True)
    if len(errors) > ROW_ERROR_LIMIT:
        click.echo(f"  … and {len(errors) - ROW_ERROR_LIMIT} more", err=True)


def echo_import_report(report) -> None:
    """An importer's report: the rows it skipped (stderr), then its one-line summary."""
    echo_row_errors(report.errors, "skipped: ")
    click.echo(("dry run: " if report.dry_run else "") + report.summary())


def crs_option(fn):
    """``--crs``: the coordinate system input positions arrive in (parsed by ``gis.crs.parse_crs``)."""
    return click.option("--crs", default=None, metavar="CRS",
                        help="coordinate system of the input: wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn "
                             "(default: the file's own, else wgs84)")(fn)


def import_options(fn):
    """``--crs``, ``--dry-run`` and ``--on-error``: what every row importer takes."""
    fn = click.option("--on-error", type=click.Choice(ON_ERROR), default="reject", show_default=True,
                      help="reject: one bad row writes nothing; skip: write the good rows")(fn)
    fn = click.option("--dry-run", is_flag=True, help="check every row and report; write nothing")(fn)
    return crs_option(fn)


#: exit code of a command whose database went away (sysexits' EX_TEMPFAIL: try again once it is back)
DB_UNAVAILABLE_EXIT = 75


def _lost_database(exc: BaseException) -> str | None:
    """The server's one-line reason when ``exc`` says the database cannot be reached (or went away), else None."""
    from app.errors import database_unavailable

    if not database_unavailable(exc):
        return None
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return reason[0] if reason else type(exc).__name__


def report_errors(fn):
    """Turn domain errors into a clear message and the error kind's exit code (no traceback).

    A database that is down or lost mid-command is one line and :data:`DB_UNAVAILABLE_EXIT`: every command
    writes in one transaction (``Database.session``), which the server rolls back when the connection dies.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InvalidData as exc:
            click.secho(f"error: {exc.source + ': ' if exc.source else ''}{len(exc.errors)} problem(s)", fg="red",
                        err=True)
            echo_row_errors(exc.errors)
            sys.exit(exc.exit_code)
        except GridwatchError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except Exception as exc:
            reason = _lost_database(exc)
            if reason is None:
                raise
            click.secho(f"error: database unavailable: {reason}; nothing was written; start it with "
                        "`gridwatch db start` or check DATABASE_URL", fg="red", err=True)
            sys.exit(DB_UNAVAILABLE_EXIT)
    return wrapper


class FeatureGroup(click.Group):
    """The ``gridwatch`` group: the commands defined here, and each feature's (``app.features.CLI_COMMANDS``),
    whose module is imported only when that command runs, so a listing does not pay for GeoPandas or PuLP.

    A feature ``cli`` module missing from the table is imported eagerly (its commands work; a test says
    to add its line)."""

    _unlisted_loaded = False

    def _load_unlisted(self) -> None:
        if not self._unlisted_loaded:
            self._unlisted_loaded = True
            import importlib

            for module in unlisted_cli_modules():
                for cmd in getattr(importlib.import_module(module), "COMMANDS", []):
                    self.add_command(cmd)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_unlisted()
        return sorted(set(self.commands) | set(CLI_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            if name in CLI_COMMANDS:
                self.add_command(load_command(name), name)
            else:
                self._load_unlisted()
        return self.commands.get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``: a feature's short help comes from its source, nothing imported."""
        rows = []
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        for name in names:
            cmd = self.commands.get(name)
            if cmd is None:
                help_text, short_help = help_texts(name)
                cmd = click.Command(name, help=help_text, short_help=short_help)
            if not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=FeatureGroup)
@click.option("--config", type=click.Path(dir_okay=False), help="gridwatch.toml to read (default ./gridwatch.toml)")
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """gridwatch: grid management and Skynet camera registry (大安区 510304)."""
    if ctx.obj is None:
        ctx.obj = Context(Settings(config_file=config))
    from app.db import audit_actor, reset_actor, use_actor

    if audit_actor() is None:  # the audit log names who ran the command (app.audit.models), for this command only
        import getpass

        token = use_actor(f"cli:{getpass.getuser()}")
        ctx.call_on_close(lambda: reset_actor(token))


# -- demo and export --------------------------------------------------------------------
@main.command("load-demo")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--keep-dates", is_flag=True, help="keep the files' own dates (2025) instead of moving the demo "
                                                 "to today in whole days")
@pass_ctx
@report_errors
def load_demo_cmd(c: Context, data_dir: Path | None, keep_dates: bool) -> None:
    """Load the generated demo district (idempotent; its times move to today, see app.demo_dates)."""
    from tqdm import tqdm

    from app.demo import load_demo

    data_dir = data_dir or Path(c.settings.data_dir)
    bar = tqdm(total=9, desc="load-demo", unit="step", file=sys.stderr)

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    with c.db.session() as s:
        counts = load_demo(s, data_dir, settings=c.settings, keep_dates=keep_dates, progress=step)
    bar.close()
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


@main.command("export")
@click.argument("layer")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
@report_errors
def export_cmd(c: Context, layer: str, file: Path) -> None:
    """Write a stored LAYER to FILE (.geojson, .gpkg, .csv, .xlsx by suffix).

    A layer with an importer (cameras, incidents, grids) is written with that importer's columns, so
    the file reads back through it unchanged. A CSV gets GDAL's column types beside it (FILE.csvt, and
    FILE.prj); a GeoPackage carries the dashboards' QGIS style (layer_styles). Incidents are written in
    batches with a progress bar (memory stays flat at any size); more of them than an Excel sheet holds
    are refused before any work: export those to .gpkg or .csv."""
    from app.layers_db import layer_style, read_layer
    from gis.io import write_frame

    style = layer_style(layer) if file.suffix.lower() == ".gpkg" else None
    with c.db.session() as s:
        if layer == "cameras":
            from camera_registry.exporter import export_cameras

            n = export_cameras(s, file, style=style)
        elif layer == "incidents":
            from tqdm import tqdm

            from app.incidents.exporter import export_incidents

            with tqdm(desc="incidents", unit="row", file=sys.stderr) as bar:
                def step(total: int, done: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                n = export_incidents(s, file, timezone=c.settings.timezone, progress=step)
        else:
            frame = read_layer(s, layer, typed=True)
            write_frame(frame, file, layer=layer.replace("-", "_"), timezone=c.settings.timezone, style=style)
            n = len(frame)
    click.echo(f"{n} {layer} → {file}")


# -- users ------------------------------------------------------------------------------
@main.group()
def users() -> None:
    """User accounts (admin, operator, planner, grid_lead, member)."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ACCOUNT_ROLES))
@click.option("--grid", "grid_code", help="for grid_lead: the grid whose lead this account is")
@click.option("--member", "member_ref", help="for member (or grid_lead): the member record, by its external id "
              "or number")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
@pass_ctx
@report_errors
def users_add(c: Context, username: str, role: str, grid_code: str | None, member_ref: str | None,
              password_stdin: bool) -> None:
    """Create or update an account; the password comes from a prompt (or stdin with --password-stdin)."""
    from app.accounts.service import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    with c.db.session() as s:
        user = add_user(s, username, password, role=role, grid_code=grid_code, member_ref=member_ref)
    click.echo(f"user {user.username} ({user.role}) saved (a changed password ends the account's log-ins)")


@users.command("list")
@click.option("--role", type=click.Choice(ACCOUNT_ROLES), help="only accounts of this role")
@click.option("--state", type=click.Choice(("active", "disabled")), help="only active or only disabled accounts")
@click.option("--grid", "grid_code", help="only accounts whose member works in this grid")
@click.option("--search", "q", help="text in the name, the member's name or external id")
@pass_ctx
@report_errors
def users_list(c: Context, role: str | None, state: str | None, grid_code: str | None, q: str | None) -> None:
    """List accounts: name, role, state, member and grids (a field role's scope: * = sees it), last
    log-in, live sessions, active API keys (tab-separated, one account a line)."""
    from app.accounts.service import list_users
    from gis.codes import GRID
    from gis.errors import RowError

    if grid_code is not None:
        try:
            GRID.validate(grid_code)
        except ValueError as exc:
            raise InvalidData(RowError(None, "grid", str(exc))) from None
    st = c.settings
    with c.db.session() as s:
        rows, _total = list_users(s, idle_minutes=st.session_idle_minutes, max_hours=st.session_max_hours, role=role,
                                  active=None if state is None else state == "active", q=q, grid=grid_code,
                                  limit=None)
    for r in rows:
        member = "-" if r.member_id is None else f"{r.member_name} ({r.member_external_id or r.member_id})"
        grids = ",".join(g["code"] + ("*" if g["in_scope"] else "") for g in r.grids) or "-"
        login = f"{r.last_login:%Y-%m-%d %H:%M}" if r.last_login else "never"
        click.echo("\t".join([r.username, r.role, "active" if r.active else "disabled", member, grids, login,
                              f"sessions={r.live_sessions}", f"keys={r.keys}"]))


@users.command("disable")
@click.argument("username")
@pass_ctx
@report_errors
def users_disable(c: Context, username: str) -> None:
    """Disable an account: it can no longer log in and its open sessions end at once (the last active
    administrator cannot be disabled)."""
    from app.accounts.service import set_active

    with c.db.session() as s:
        set_active(s, username, False)
    click.echo(f"user {username} disabled; its sessions have ended")


@users.command("enable")
@click.argument("username")
@pass_ctx
@report_errors
def users_enable(c: Context, username: str) -> None:
    """Enable a disabled account again (it logs in anew: ended sessions stay ended)."""
    from app.accounts.service import set_active

    with c.db.session() as s:
        set_active(s, username, True)
    click.echo(f"user {username} enabled")


@users.command("remove")
@click.argument("username")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@pass_ctx
@report_errors
def users_remove(c: Context, username: str, yes: bool) -> None:
    """Remove an account with its sessions and API keys (history stays: incident events name their actor,
    the audit log keeps the account's last state). The last active administrator cannot be removed."""
    from app.accounts.service import get_user, remove_user

    with c.db.session() as s:
        user = get_user(s, username)
        if not yes:
            click.confirm(f"remove account {user.username} ({user.role})? this cannot be undone", abort=True)
        gone = remove_user(s, username)
    click.echo(f"user {username} removed, with {gone['keys']} API key(s) and {gone['sessions']} session row(s)")


@users.command("remove-demo")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@pass_ctx
@report_errors
def users_remove_demo(c: Context, yes: bool) -> None:
    """Remove the demo accounts (their passwords are published); refused while they hold the only
    active administrator."""
    from app.accounts.service import demo_accounts_present, remove_demo_accounts

    with c.db.session() as s:
        names = demo_accounts_present(s)
        if not names:
            click.echo("no demo account exists")
            return
        if not yes:
            click.confirm(f"remove the demo accounts {', '.join(names)}?", abort=True)
        remove_demo_accounts(s)
    click.echo(f"removed {', '.join(names)}")


@main.command("demo-accounts")
@pass_ctx
@report_errors
def demo_accounts(c: Context) -> None:
    """Create the demo's accounts (admin, operator, planner, lead); for the demo only."""
    from app.demo import DEMO_ACCOUNTS, create_demo_accounts

    with c.db.session() as s:
        lead_grid = create_demo_accounts(s)
    for name, (role, password) in DEMO_ACCOUNTS.items():
        click.echo(f"  {name:<9} {password:<18} {role}" + (f" of grid {lead_grid}" if role in FIELD_ROLES else ""))


# -- server -----------------------------------------------------------------------------
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(1, 64), default=lambda: __import__("app.server").server.DEFAULT_WORKERS,
              show_default="2 per core", help="worker processes")
@click.option("--threads", type=click.IntRange(1, 64), default=lambda: __import__("app.server").server.DEFAULT_THREADS,
              show_default="4", help="threads per worker")
@click.option("--proxy-hops", type=click.IntRange(0, 5), default=0, show_default=True,
              help="reverse proxies in front (nginx: 1) whose X-Forwarded-For/-Proto give the client's address "
                   "and scheme; 0 trusts no such header")
@pass_ctx
def serve(c: Context, host: str, port: int, workers: int, threads: int, proxy_hops: int) -> None:
    """Serve the web application: gunicorn with WORKERS processes of THREADS threads (docs/deployment.md).

    Behind a reverse proxy (nginx) that terminates TLS, keep ``--host 127.0.0.1`` and give
    ``--proxy-hops 1``: the log-in throttle counts per client address, which is otherwise the proxy's.
    SIGTERM or Ctrl+C stops it once the running requests are done.
    """
    from app import create_app
    from app.db import Database, database_url, make_engine
    from app.server import serve as run_server

    # one pooled connection per thread of a worker; a burst may open as many again
    database = Database(make_engine(database_url(c.settings), pool_size=threads, max_overflow=threads))
    application = create_app(c.settings, database=database)
    if proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        application.wsgi_app = ProxyFix(application.wsgi_app, x_for=proxy_hops, x_proto=proxy_hops)
    click.echo(f"gridwatch serving on http://{host}:{port}/  ({workers} workers × {threads} threads; "
               "Ctrl+C to stop)")
    run_server(application, host=host, port=port, workers=workers, threads=threads, database=database)
    click.echo("stopped")
