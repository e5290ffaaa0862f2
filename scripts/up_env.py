"""The environment ``make up`` gives its processes, and what it keeps for it under ``var/``.

``./.env`` fills in what the environment leaves unset; then, kept across runs in files only
this user can read (0600): the Fernet key (``secret.key``), Flower's basic-auth password
(``flower.auth``) and the dev API key (``dev-api.key``). While it runs, ``up.env`` holds
what an operator's shell needs to reach the same system (``celery -A tasks queues``,
``flask keys``); :mod:`core.settings` reads it from there.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from core.settings import UP_ENV_PATH

ROOT = Path(__file__).resolve().parents[1]  # the checkout: the Procfile and flask run here

# The settings written to up.env for operator shells.
OPERATOR_SETTINGS = (
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "TRADEFLEET_SECRET_KEY",
    "TRADEFLEET_DATA_DIR",
    "FLOWER_BASIC_AUTH",
    "INFLUX_URL",
    "INFLUX_VERSION",
)


def load_dotenv(path: Path, env: dict[str, str]) -> None:
    """Add ``KEY=VALUE`` lines of ``path`` to ``env``; variables already set win."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env.setdefault(key, value)


def write_private_file(path: Path, content: str) -> None:
    """Replace ``path`` with ``content`` and a newline, created readable by this user only.

    The file is removed and created anew (``O_EXCL``, mode 0600) rather than rewritten, so
    a file left with wider permissions never keeps them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(content + "\n")


def read_or_create_private_file(path: Path, new_content: str) -> str:
    """The stripped content of ``path``; a missing file is first written (mode 0600)."""
    if not path.exists():
        write_private_file(path, new_content)
    return path.read_text().strip()


def ensure_secret_key(env: dict[str, str], var: Path) -> None:
    if not env.get("TRADEFLEET_SECRET_KEY"):
        from cryptography.fernet import Fernet

        new_key = Fernet.generate_key().decode()
        env["TRADEFLEET_SECRET_KEY"] = read_or_create_private_file(var / "secret.key", new_key)


def ensure_flower_auth(env: dict[str, str], var: Path) -> None:
    if not env.get("FLOWER_BASIC_AUTH"):
        new_auth = f"admin:{secrets.token_urlsafe(12)}"
        env["FLOWER_BASIC_AUTH"] = read_or_create_private_file(var / "flower.auth", new_auth)


def run_flask_keys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "flask", "--app", "api", "keys", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)


def create_dev_api_key(env: dict[str, str]) -> str:
    """A fresh API key named ``dev`` (an existing ``dev`` key is revoked first)."""
    result = run_flask_keys(env, "create", "--replace", "dev")
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise SystemExit(
            "up: could not create the dev API key with `flask --app api keys create dev`:\n"
            + result.stdout
            + result.stderr
        )
    return lines[-1].strip()


def dev_api_key(env: dict[str, str], var: Path, *, new: bool) -> str:
    """The dev API key kept in ``var``/dev-api.key (0600), made anew only when it is missing,
    no longer known to Redis (another Redis, or revoked), or ``new`` asks for it."""
    from core.apikeys import ApiKeyStore
    from core.connection import redis_client

    path = var / "dev-api.key"
    if not new and path.is_file():
        kept = path.read_text().strip()
        if ApiKeyStore(redis_client(env["REDIS_URL"])).verify(kept) == "dev":
            return kept
    key = create_dev_api_key(env)
    write_private_file(path, key)
    return key


def operator_env_path(var: Path) -> Path:
    return var / UP_ENV_PATH.name


def write_operator_env(env: dict[str, str], var: Path) -> None:
    """Write the settings this run filled in to ``var``/up.env (0600), for operator shells."""
    lines = [f"{name}={env[name]}" for name in OPERATOR_SETTINGS if env.get(name)]
    write_private_file(operator_env_path(var), "\n".join(lines))
