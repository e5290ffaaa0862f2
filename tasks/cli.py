"""Operator commands: ``celery -A tasks queues`` (every group and brokerage queue, its depth
and consumers) and ``celery -A tasks sync_groups`` (every worker re-reads the groups)."""

from __future__ import annotations

import json
from collections import defaultdict

import click
from celery.bin.base import CeleryCommand
from kombu.exceptions import ChannelError

from brokers.credentials import AUTORSA_BROKERAGES
from core.groups import GroupRegistry
from tasks import context, names, routing


def queue_report(app, timeout: float = 1.0) -> list[dict]:
    """One row per queue: name, kind, messages waiting, consuming workers."""
    groups = GroupRegistry(context.connection()).names()
    names = (
        [(routing.group_queue(g), "group") for g in groups]
        + [(routing.brokerage_queue(b), "brokerage") for b in AUTORSA_BROKERAGES]
        + [(q, "system") for q in routing.STATIC_QUEUES]
    )
    consumers: dict[str, list[str]] = defaultdict(list)
    for worker, queues in (app.control.inspect(timeout=timeout).active_queues() or {}).items():
        for queue in queues:
            consumers[queue["name"]].append(worker)
    rows = []
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        for name, kind in names:
            try:
                _, depth, _ = channel.queue_declare(queue=name, passive=True)
            except ChannelError:
                depth = 0  # never used, or empty: Redis keeps no empty lists
                channel = connection.channel()  # a failed passive declare closes an AMQP channel
            rows.append(
                {
                    "queue": name,
                    "kind": kind,
                    "messages": depth,
                    "consumers": sorted(consumers[name]),
                }
            )
    return rows


@click.command(cls=CeleryCommand, name="queues")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--timeout", default=1.0, show_default=True, help="Seconds to wait for workers.")
@click.pass_context
def queues(ctx: click.Context, as_json: bool, timeout: float) -> None:
    """List every group and brokerage queue with its depth and consumers."""
    rows = queue_report(ctx.obj.app, timeout=timeout)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max([len(r["queue"]) for r in rows] + [5])
    click.echo(f"{'QUEUE':<{width}}  {'KIND':<9}  {'MESSAGES':>8}  CONSUMERS")
    for row in rows:
        workers = ", ".join(row["consumers"]) or "-- none --"
        click.echo(f"{row['queue']:<{width}}  {row['kind']:<9}  {row['messages']:>8}  {workers}")


@click.command(cls=CeleryCommand, name="sync_groups")
@click.option("--timeout", default=2.0, show_default=True, help="Seconds to wait for workers.")
@click.pass_context
def sync_groups(ctx: click.Context, timeout: float) -> None:
    """Every worker re-reads the groups now and says which queues it added or dropped."""
    replies = ctx.obj.app.control.broadcast(names.SYNC_GROUPS_COMMAND, reply=True, timeout=timeout)
    if not replies:
        raise click.ClickException(f"no worker answered within {timeout:g} s")
    for reply in replies:
        for worker, answer in reply.items():
            result = answer.get("ok", answer)
            click.echo(
                f"{worker}: added {', '.join(result['added']) or '-'}; "
                f"dropped {', '.join(result['removed']) or '-'}; "
                f"cancelled by an operator {', '.join(result.get('cancelled', [])) or '-'}"
            )
