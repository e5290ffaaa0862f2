"""``flask --app api keys create|list|revoke``: manage API keys."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from api import deps
from core.errors import TradefleetError

keys_cli = AppGroup("keys", help="Create, list and revoke API keys.")


@keys_cli.command("create")
@click.argument("name")
@click.option("--replace", is_flag=True, help="Revoke an existing key of that name first.")
def create_key(name: str, replace: bool) -> None:
    """Create a key called NAME and print it (it is shown only once)."""
    try:
        key = deps.api_keys().create(name, replace=replace)
    except TradefleetError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created API key {name!r}; it is shown only this once:", err=True)
    click.echo(key)


@keys_cli.command("list")
def list_keys() -> None:
    """List key names and when they were created."""
    found = deps.api_keys().list()
    if not found:
        click.echo("no API keys (create one with `flask --app api keys create NAME`)")
    for key in found:
        click.echo(f"{key.name}\t{key.created_at.isoformat()}")


@keys_cli.command("revoke")
@click.argument("name")
def revoke_key(name: str) -> None:
    """Revoke the key called NAME; requests using it get 401 at once."""
    try:
        deps.api_keys().revoke(name)
    except TradefleetError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"revoked API key {name!r}")


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_cli)
