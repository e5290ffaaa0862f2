"""``flask --app api keys create|list|revoke`` (API keys), ``accounts import`` (bulk),
``schwab login|status``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

import brokers.schwab
from api import deps
from api.backtest_cli import backtest_command
from api.ingest_cli import ingest_cli
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


schwab_cli = AppGroup("schwab", help="Log in to Schwab and see the token's state.")


@schwab_cli.command("login")
@click.option("--url", "received_url", help="The address Schwab redirected to (else prompted).")
def schwab_login(received_url: str | None) -> None:
    """Print Schwab's login URL, then take the address it redirects the browser to."""
    login = brokers.schwab.login(deps.connection(), deps.settings())
    try:
        click.echo("1. Open this URL, log in at Schwab and allow the app:", err=True)
        click.echo(login.start())
        click.echo(
            "2. Schwab then sends the browser to SCHWAB_CALLBACK_URL (the page may not load);"
            " copy the whole address from the address bar.",
            err=True,
        )
        if received_url is None:
            received_url = click.prompt("Redirected address", hide_input=True, err=True)
        status = login.finish_url(received_url)
    except TradefleetError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"logged in to Schwab; the refresh token ends {status.refresh_token_expires_at}")


@schwab_cli.command("status")
def schwab_status() -> None:
    """Where the Schwab login stands."""
    status = brokers.schwab.status(deps.connection(), deps.settings())
    click.echo(f"{status.state.value}: {status.message}")
    for label, value in (
        ("logged in", status.logged_in_at),
        ("refresh token ends", status.refresh_token_expires_at),
        ("access token ends", status.access_token_expires_at),
        ("last refresh", status.last_refresh_at),
        ("last error", status.last_error),
    ):
        if value:
            click.echo(f"  {label}: {value}")


accounts_cli = AppGroup("accounts", help="Bulk account operations.")


@accounts_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--group", required=True, help="the group the accounts join")
def import_accounts(path: Path, group: str) -> None:
    """Import accounts from a CSV (columns name, brokerage, then each credential field) or
    JSON (a list of {name, brokerage, credentials}) file; one activation job each.

    The file holds credentials: it must not be readable by others (chmod 600). Nothing is
    imported when any row is wrong.
    """
    if path.stat().st_mode & 0o077:
        raise click.ClickException(
            f"{path} is readable by others (mode {path.stat().st_mode & 0o777:o}): it holds "
            f"credentials; run `chmod 600 {path}` first"
        )
    try:
        rows = account_rows(path)
        submitted = deps.operations().add_accounts(group, rows)
    except TradefleetError as exc:
        for row, problems in sorted(exc.errors.get("accounts", {}).items(), key=_row_number):
            click.echo(f"row {row}: {problems}", err=True)
        raise click.ClickException(exc.message) from None
    for item in submitted:
        click.echo(f"{item.job.account}: activation job {item.job.id}")
    click.echo(f"{len(submitted)} accounts queued for activation in group {group}")


def account_rows(path: Path) -> list[dict]:
    """The rows of an import file (JSON list, or CSV with credential fields as columns)."""
    text = path.read_text()
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise click.ClickException(f"{path}: expected a JSON list of accounts")
        return rows
    reader = csv.DictReader(io.StringIO(text))
    return [
        {
            "name": (row.pop("name", "") or "").strip(),
            "brokerage": (row.pop("brokerage", "") or "").strip(),
            "credentials": {k: v for k, v in row.items() if k and v not in (None, "")},
        }
        for row in reader
    ]


def _row_number(item: tuple[str, object]) -> int:
    return int(item[0]) if item[0].isdigit() else 0


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_cli)
    app.cli.add_command(accounts_cli)
    app.cli.add_command(ingest_cli)
    app.cli.add_command(schwab_cli)
    app.cli.add_command(backtest_command)
