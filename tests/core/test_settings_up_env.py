"""Operator shells find the running ``make up`` without sourcing var/up.env (issue 14, point 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.services import REPO_ROOT


@pytest.mark.integration
def test_operator_shell_reads_var_up_env_for_what_it_lacks(tmp_path, api_key):
    (tmp_path / "var").mkdir()
    settings = {n: os.environ[n] for n in ("REDIS_URL", "TRADEFLEET_SECRET_KEY")}
    (tmp_path / "var" / "up.env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    bare = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO_ROOT)}

    keys = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "api", "keys", "list"],
        cwd=tmp_path,
        env=bare,
        capture_output=True,
        text=True,
        timeout=60,
    )
    queues = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", "queues", "--json"],
        cwd=tmp_path,
        env=bare,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert keys.returncode == 0, keys.stderr
    assert "tests\t" in keys.stdout  # the session's key, so it reached the running Redis
    assert queues.returncode == 0, queues.stderr
    assert any(row["queue"] == "brokerage.chase" for row in json.loads(queues.stdout))


def test_settings_that_are_set_win_over_var_up_env(tmp_path):
    from core.settings import with_up_env

    path = tmp_path / "up.env"
    path.write_text("REDIS_URL=redis://from-file/0\nTRADEFLEET_DATA_DIR=/from/file\n")
    merged = with_up_env({"REDIS_URL": "redis://set/0"}, path)
    assert merged["REDIS_URL"] == "redis://set/0"
    assert merged["TRADEFLEET_DATA_DIR"] == "/from/file"
    assert with_up_env({"A": "1"}, tmp_path / "missing") == {"A": "1"}
