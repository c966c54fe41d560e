"""``gridwatch api-keys …``: Open311 API keys (only their SHA-256 is stored)."""
from __future__ import annotations

import click
from sqlalchemy import text

from app.cli import Context, pass_ctx, report_errors
from gis.errors import NotFound


@click.group("api-keys")
def api_keys() -> None:
    """Open311 API keys for reporting apps."""


@api_keys.command("add")
@click.argument("name")
@pass_ctx
@report_errors
def add_cmd(c: Context, name: str) -> None:
    """Issue a key for NAME and print it once (only its SHA-256 is kept)."""
    from app.open311.keys import add_api_key

    with c.db.session() as s:
        key = add_api_key(s, name)
    click.echo(key)
    click.echo(f"API key for {name!r}: store it now, it cannot be shown again.", err=True)


@api_keys.command("list")
@pass_ctx
def list_cmd(c: Context) -> None:
    """List keys (names and state; never the keys)."""
    with c.db.session() as s:
        for name, active, created in s.execute(text("SELECT name, active, created_at FROM api_keys ORDER BY name")):
            click.echo(f"{name}\t{'active' if active else 'revoked'}\t{created:%Y-%m-%d}")


@api_keys.command("revoke")
@click.argument("name")
@pass_ctx
@report_errors
def revoke_cmd(c: Context, name: str) -> None:
    """Revoke the key called NAME."""
    with c.db.session() as s:
        if s.execute(text("UPDATE api_keys SET active = false WHERE name = :n"), {"n": name}).rowcount == 0:
            raise NotFound(f"no API key named {name!r}; `gridwatch api-keys list` shows them")
    click.echo(f"revoked {name}")


COMMANDS = [api_keys]
