"""``gridwatch api-keys …``: Open311 API keys (only their SHA-256 is stored); each belongs to an account."""
from __future__ import annotations

import click

from app.cli import Context, pass_ctx, report_errors


@click.group("api-keys")
def api_keys() -> None:
    """Open311 API keys for reporting apps and readers."""


@api_keys.command("add")
@click.argument("name")
@click.option("--user", "username", required=True,
              help="the account the key acts for: it reads what that account sees (a grid lead: their grids)")
@pass_ctx
@report_errors
def add_cmd(c: Context, name: str, username: str) -> None:
    """Issue a key called NAME for the account USER and print it once (only its SHA-256 is kept)."""
    from app.accounts.keys import add_api_key

    with c.db.session() as s:
        key = add_api_key(s, name, username)
    click.echo(key)
    click.echo(f"API key {name!r} for account {username!r}: store it now, it cannot be shown again.", err=True)


@api_keys.command("list")
@pass_ctx
def list_cmd(c: Context) -> None:
    """List keys: name, account, state, created (never the keys)."""
    from app.accounts.keys import list_api_keys

    with c.db.session() as s:
        for key, username in list_api_keys(s):
            state = "active" if key.active else "revoked"
            click.echo(f"{key.name}\t{username or '(no account: reissue)'}\t{state}\t{key.created_at:%Y-%m-%d}")


@api_keys.command("revoke")
@click.argument("name")
@pass_ctx
@report_errors
def revoke_cmd(c: Context, name: str) -> None:
    """Revoke the key called NAME."""
    from app.accounts.keys import revoke_api_key

    with c.db.session() as s:
        revoke_api_key(s, name)
    click.echo(f"revoked {name}")


COMMANDS = [api_keys]
