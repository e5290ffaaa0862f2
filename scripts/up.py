"""Run all of tradefleet on this machine: ``make up``.

Fills in what the environment (or ``./.env``) leaves unset: a Fernet key kept in
``var/secret.key``, an embedded Redis under ``var/redis/`` (AOF on), Flower's basic-auth
password in ``var/flower.auth`` and the data directory, and, when ``influxd`` is installed
and ``INFLUX_URL`` unset, a private InfluxDB 1.x under ``var/influx/`` for market history. A busy port (``PORT``,
``FLOWER_PORT``) stops it with a line naming the variable to set; everything binds
``HOST`` (default 127.0.0.1). The dev API key is kept in ``var/dev-api.key`` (0600) and
printed at every start; ``--new-key`` replaces it. Then it runs the Procfile (web, worker,
beat, flower) with honcho until Ctrl-C, which is a warm shutdown: the worker finishes the
legs it is running within ``STOP_GRACE_SECONDS``. The embedded Redis is shut down however
this script ends.

This module is the order of things; the environment and what is kept under ``var/`` are
``scripts/up_env.py``'s, the embedded Redis and InfluxDB ``scripts/up_servers.py``'s.

Usage: python scripts/up.py [--exit-after SECONDS] [--check] [--new-key] [--var DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

# Siblings in scripts/ (the script's own directory is first on sys.path).
from up_env import (
    ROOT,
    dev_api_key,
    ensure_flower_auth,
    ensure_secret_key,
    load_dotenv,
    operator_env_path,
    write_operator_env,
)
from up_servers import port_is_free, start_embedded_influx, start_embedded_redis, stop_process

VAR = ROOT / "var"  # --var replaces it (tests run make up beside a real one)
VENV_BIN = Path(sys.executable).parent  # .venv/bin when run by `make up`; not resolved
DEFAULT_HOST = "127.0.0.1"
# Ctrl-C lets running legs finish for this long (scripts/warm_stop.py, honcho's kill wait).
STOP_GRACE_SECONDS = 30


def choose_ports(env: dict[str, str]) -> None:
    """Keep PORT and FLOWER_PORT (default 8000, 5555); stop, naming the variable, if one is busy."""
    env["HOST"] = env.get("HOST") or DEFAULT_HOST
    for name, default in (("PORT", 8000), ("FLOWER_PORT", 5555)):
        port = int(env.get(name) or default)
        if not port_is_free(port, env["HOST"]):
            raise SystemExit(
                f"up: port {port} ({name}) is busy on {env['HOST']}: stop what uses it, "
                f"or choose another port, e.g. `{name}={port + 1} make up`"
            )
        env[name] = str(port)
    if env["PORT"] == env["FLOWER_PORT"]:
        raise SystemExit(f"up: PORT and FLOWER_PORT are both {env['PORT']}: set one to another")


def print_banner(env: dict[str, str], api_key: str) -> None:
    host = "127.0.0.1" if env["HOST"] in ("0.0.0.0", "::") else env["HOST"]
    api = f"http://{host}:{env['PORT']}"
    flower = f"http://{host}:{env['FLOWER_PORT']}"
    user, _, password = env["FLOWER_BASIC_AUTH"].split(",")[0].partition(":")
    rows = [
        ("Dashboard", f"{api}/  (sign in with the dev API key below)"),
        ("API", api),
        ("Docs", f"{api}/docs"),
        ("OpenAPI", f"{api}/openapi.json"),
        ("Flower", f"{flower}  (user {user}, password {password})"),
        ("Redis", env["REDIS_URL"]),
        ("InfluxDB", env.get("INFLUX_URL") or "off (market history off; quotes in Redis)"),
        ("Dev API key", f"{api_key}  (kept in var/dev-api.key; `make up NEW_KEY=1` replaces it)"),
        ("Try", f'curl -H "Authorization: Bearer {api_key}" {api}/api/v1/groups'),
        ("Operate", "set -a; . var/up.env; set +a; .venv/bin/celery -A tasks queues"),
    ]
    width = max(len(label) for label, _ in rows)
    rule = "=" * 72
    print(
        f"\n{rule}\n tradefleet is starting (Ctrl-C stops everything; running legs get "
        f"{STOP_GRACE_SECONDS} s to finish)\n{rule}"
    )
    for label, value in rows:
        print(f" {label:<{width}}  {value}")
    print(f"{rule}\n", flush=True)


def run_honcho(env: dict[str, str], exit_after: float | None) -> int:
    """Run the Procfile until it ends, a signal arrives or ``exit_after`` seconds pass.

    Returns honcho's exit code; 0 when we stopped it (a signal, or ``exit_after`` ran out
    with every process alive).
    """
    # -e /dev/null: honcho would otherwise read .env itself and override the real environment.
    # honcho SIGKILLs what is still running 5 s after it asked it to stop (KILL_WAIT): give
    # the worker its grace period first.
    command = [
        sys.executable,
        "-c",
        f"import honcho.manager as m; m.KILL_WAIT = {STOP_GRACE_SECONDS + 5}; "
        "from honcho.command import main; main()",
        "start", "-f", "Procfile", "-e", "/dev/null",
    ]  # fmt: skip
    honcho = subprocess.Popen(command, env=env, cwd=ROOT)
    stopped_by_us = False

    def forward(signum, frame):
        nonlocal stopped_by_us
        stopped_by_us = True
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        returncode = honcho.wait(timeout=exit_after)
        return 0 if stopped_by_us else returncode
    except subprocess.TimeoutExpired:
        print(f"up: --exit-after {exit_after:g} s reached; stopping", flush=True)
        return 0
    finally:
        stop_process(honcho, timeout=STOP_GRACE_SECONDS + 15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--exit-after",
        type=float,
        metavar="SECONDS",
        help="stop everything after this many seconds (smoke tests)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="prepare everything and create the API key, but start no processes",
    )
    parser.add_argument(
        "--new-key",
        action="store_true",
        help="revoke the kept dev API key and make a new one (make up NEW_KEY=1)",
    )
    parser.add_argument("--var", type=Path, help="state directory instead of ./var (tests)")
    args = parser.parse_args(argv)

    var = (args.var or VAR).resolve()
    os.chdir(ROOT)
    env = dict(os.environ)
    load_dotenv(ROOT / ".env", env)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["TRADEFLEET_STOP_GRACE"] = str(STOP_GRACE_SECONDS)
    env["TRADEFLEET_DATA_DIR"] = env.get("TRADEFLEET_DATA_DIR") or str(var / "data")
    Path(env["TRADEFLEET_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    ensure_secret_key(env, var)
    ensure_flower_auth(env, var)
    choose_ports(env)

    ports = {int(env["PORT"]), int(env["FLOWER_PORT"])}
    redis = None if env.get("REDIS_URL") else start_embedded_redis(env, var, taken=ports)
    influx = None
    try:
        if not env.get("INFLUX_URL"):
            influx = start_embedded_influx(env, var, taken=ports)
        api_key = dev_api_key(env, var, new=args.new_key)
        write_operator_env(env, var)
        print_banner(env, api_key)
        if args.check:
            return 0
        return run_honcho(env, args.exit_after)
    finally:
        operator_env_path(var).unlink(missing_ok=True)
        if influx is not None:
            stop_process(influx)
            print("up: embedded influxd stopped", flush=True)
        if redis is not None:
            stop_process(redis)
            print("up: embedded Redis stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
