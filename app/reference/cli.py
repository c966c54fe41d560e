"""``gridwatch reference …``: seed the reference tables from data/reference, list what they hold."""
from __future__ import annotations

import click

from app.cli import Context, pass_ctx, report_errors


@click.group("reference")
def reference() -> None:
    """Reference data: incident categories and deadlines, programme, source and member-role names (docs/reference.md)."""


@reference.command("load")
@click.option("--overwrite", is_flag=True,
              help="also put back the files' names, weights, deadlines and flags where they were edited")
@pass_ctx
@report_errors
def load_cmd(c: Context, overwrite: bool) -> None:
    """Insert the codes of data/reference/*.csv the database lacks (edits are kept unless --overwrite)."""
    from app.reference.service import load

    with c.db.session() as s:
        counts = load(s, overwrite=overwrite)
    for table, (inserted, overwritten) in counts.items():
        click.echo(f"{table}: {inserted} added" + (f", {overwritten} put back to the file's values" if overwrite else ""))


@reference.command("list")
@pass_ctx
@report_errors
def list_cmd(c: Context) -> None:
    """Print the categories (with deadlines in hours) and the code lists' names."""
    from app.reference import service

    with c.db.session() as s:
        click.echo("categories: code | 中文 | English | weight | " + " | ".join(service.DEADLINES) + " | sensitive")
        for r in service.categories(s):
            click.echo(" | ".join(str(r[f]) for f in ("code",) + service.CATEGORY_FIELDS))
        for kind in service.CODE_LISTS:
            click.echo(f"{service.table_of(kind)}:")
            for r in service.code_list(s, kind):
                click.echo(f"  {r['code']} | {r['name_zh']} | {r['name_en']}")


COMMANDS = [reference]
