"""``make up`` keeps its key, its ports and its word (issue 14): scripts/up.py driven for real.

Each test runs ``scripts/up.py --check`` (everything prepared, the dev key made or kept, no
process started) against the session's Redis, with its own state directory (``--var``) so
a real ``make up`` in this checkout is never touched.
"""

from __future__ import annotations

import re
import socket
import stat
import subprocess
import sys

import pytest

from tests.services import REPO_ROOT, free_port

pytestmark = pytest.mark.integration


def run_up(var, redis_server, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "REDIS_URL": redis_server.url,
        "PORT": str(free_port()),
        "FLOWER_PORT": str(free_port()),
        **env,
    }
    return subprocess.run(
        [sys.executable, "scripts/up.py", "--check", "--var", str(var), *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def printed_key(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "Dev API key" in line]
    # The first line a newcomer needs: where to open the dashboard and sign in.
    assert re.search(r"^ Dashboard\s+http://127\.0\.0\.1:\d+/  \(sign in", result.stdout, re.M)
    return line.split()[3]


def test_up_keeps_the_dev_api_key_across_restarts(tmp_path, redis_server, redis_client):
    from core.apikeys import ApiKeyStore

    first = printed_key(run_up(tmp_path, redis_server))
    second = printed_key(run_up(tmp_path, redis_server))

    assert first == second
    assert ApiKeyStore(redis_client).verify(first) == "dev"
    kept = tmp_path / "dev-api.key"
    assert kept.read_text().strip() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_up_new_key_replaces_and_revokes_the_kept_one(tmp_path, redis_server, redis_client):
    from core.apikeys import ApiKeyStore

    old = printed_key(run_up(tmp_path, redis_server))
    new = printed_key(run_up(tmp_path, redis_server, "--new-key"))

    assert new != old
    assert ApiKeyStore(redis_client).verify(old) is None
    assert ApiKeyStore(redis_client).verify(new) == "dev"
    assert printed_key(run_up(tmp_path, redis_server)) == new


def test_up_makes_a_new_key_when_redis_no_longer_knows_the_kept_one(
    tmp_path, redis_server, redis_client
):
    from core.apikeys import ApiKeyStore

    old = printed_key(run_up(tmp_path, redis_server))
    ApiKeyStore(redis_client).revoke("dev")
    new = printed_key(run_up(tmp_path, redis_server))
    assert new != old and ApiKeyStore(redis_client).verify(new) == "dev"


@pytest.mark.parametrize("variable", ["PORT", "FLOWER_PORT"])
def test_up_stops_on_a_busy_port_naming_the_variable(tmp_path, redis_server, variable):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_up(tmp_path, redis_server, **{variable: str(port)})

    assert result.returncode != 0
    assert f"port {port} ({variable}) is busy" in result.stderr
    assert f"{variable}={port + 1} make up" in result.stderr
    assert "Dev API key" not in result.stdout


def test_readme_names_the_port_variables_next_to_the_tour():
    readme = (REPO_ROOT / "README.md").read_text()
    tour_intro = readme[readme.index("## A tour with curl") : readme.index("auth=(")]
    assert "PORT=" in tour_intro and "FLOWER_PORT=" in tour_intro


def test_up_binds_localhost_unless_host_is_set(tmp_path, redis_server):
    procfile = (REPO_ROOT / "Procfile").read_text()
    assert "--bind ${HOST:-127.0.0.1}:${PORT:-8000}" in procfile
    assert "--address=${HOST:-127.0.0.1}" in procfile
    result = run_up(tmp_path, redis_server)
    assert "http://127.0.0.1:" in result.stdout


def test_make_up_installs_what_runs_and_make_test_the_test_tools():
    def dry_run(target: str) -> str:
        return subprocess.run(
            ["make", "-n", "-B", target], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout

    up = dry_run("up")
    assert "pip install -e '.[local]'" in up
    assert "dev" not in up.replace("/dev/", "")
    assert "pip install -e '.[dev,local]'" in dry_run("test")
