"""``gridwatch webhooks …``: run the webhook worker, read the delivery log, send a failed delivery again."""
from __future__ import annotations

import signal

import click

from app.cli import Context, pass_ctx, report_errors
from app.webhooks.models import DELIVERY_STATES, WEBHOOK_EVENTS


@click.group("webhooks")
def webhooks() -> None:
    """The outgoing webhook: signed incident events to an SMS gateway or a WeChat Work bot (docs/webhooks.md)."""


def _checked(c: Context) -> None:
    from app.webhooks.worker import check_settings

    try:
        check_settings(c.settings)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _pass_line(result) -> str | None:
    scan, sent = result.scan, result.sent
    if not scan.total and not sent and not scan.started:
        return None
    parts = []
    if scan.started:
        parts.append(f"webhook set up: events after #{scan.cursor} will be sent (none of the history)")
    if scan.total:
        parts.append("queued " + ", ".join(f"{n} {e}" for e, n in sorted(scan.queued.items())))
    if sent:
        by = {}
        for o in sent:
            by[o.status] = by.get(o.status, 0) + 1
        parts.append("sent: " + ", ".join(f"{n} {'to retry' if s == 'pending' else s}" for s, n in sorted(by.items())))
        for o in sent:
            if o.status != "delivered":
                parts.append(f"  #{o.delivery_id} {o.event} attempt {o.attempts}: {o.error}")
    return "\n".join(parts)


@webhooks.command("run")
@click.option("--once", is_flag=True, help="one pass (queue what happened, send what is due), then stop")
@click.option("--interval", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True,
              help="seconds between passes")
@click.option("--quiet", "-q", is_flag=True, help="print nothing but errors")
@pass_ctx
@report_errors
def run_cmd(c: Context, once: bool, interval: float, quiet: bool) -> None:
    """Queue incident events and send them to webhook_url, pass after pass until SIGTERM or Ctrl+C.

    Any number of workers may run (each event is queued and sent once). The first pass ever starts at the
    newest event: the history is not sent."""
    from app.webhooks.worker import run, run_once

    _checked(c)
    if not c.settings.webhook_url:
        click.echo("webhook_url is empty: no webhook is configured, nothing to send (docs/webhooks.md)")
        return

    def report(result) -> None:
        line = _pass_line(result)
        if line and not quiet:
            click.echo(line)

    if once:
        report(run_once(c.db, c.settings))
        return
    stopping = []

    def _stop(signum, _frame):
        stopping.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    if not quiet:
        click.echo(f"webhook worker: POST to {c.settings.webhook_url} every {interval:g} s (Ctrl+C to stop)")
    run(c.db, c.settings, interval=interval, stop=lambda: bool(stopping), report=report)
    if not quiet:
        click.echo("stopped")


@webhooks.command("list")
@click.option("--status", type=click.Choice(DELIVERY_STATES), help="only deliveries in this status")
@click.option("--event", type=click.Choice(WEBHOOK_EVENTS), help="only this event")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@pass_ctx
@report_errors
def list_cmd(c: Context, status: str | None, event: str | None, limit: int) -> None:
    """The delivery log, newest first: id, status, event, incident, attempts, last HTTP status, last error."""
    from app.webhooks.worker import list_deliveries

    tz = c.district.tz
    with c.db.session() as s:
        rows, total = list_deliveries(s, status=status, event=event, limit=limit)
    click.echo("id\tstatus\tevent\tincident\tattempts\tlast_status\tlast_attempt\tlast_error")
    for d in rows:
        last = d.last_attempt_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if d.last_attempt_at else "-"
        click.echo(f"{d.id}\t{d.status}\t{d.event}\t{d.incident_id or '-'}\t{d.attempts}\t{d.last_status or '-'}\t"
                   f"{last}\t{d.last_error or ''}")
    if total > len(rows):
        click.echo(f"({len(rows)} of {total}; --limit shows more)", err=True)


@webhooks.command("retry")
@click.argument("delivery_id", type=click.IntRange(1, 2**63 - 1))
@pass_ctx
@report_errors
def retry_cmd(c: Context, delivery_id: int) -> None:
    """Send the failed delivery DELIVERY_ID again at the worker's next pass (one more attempt)."""
    import getpass

    from app.webhooks.worker import retry

    with c.db.session() as s:
        retry(s, delivery_id, f"cli:{getpass.getuser()}")
    click.echo(f"delivery {delivery_id} queued again: the worker sends it at its next pass")


COMMANDS = [webhooks]
