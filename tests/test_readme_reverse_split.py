"""The README's reverse-split day, run step by step against the live API, a real worker
and a real beat: a scheduled buy on two groups, who holds it, sell all, told of each job.

The README's block runs as written except for what only a test can choose: unique group
names, a local webhook, a time a few seconds ahead and every day a market day (holiday
skipping is tested in tests/tasks/test_schedules.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import unique, wait_for, worker_env
from tests.processes import CeleryBeat
from tests.receiver import Receiver
from tests.services import REPO_ROOT

pytestmark = pytest.mark.integration

TOUR_AUTH = 'auth=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")'


def _steps() -> list[str]:
    """The README block's paragraphs: one command (or loop) each, in order."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## The reverse-split day", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    return [step for step in block.split("\n\n") if step.strip()]


def _run(step: str, env: dict[str, str]) -> list:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f"{TOUR_AUTH}\n{step}"],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    decoder, out, text = json.JSONDecoder(), [], result.stdout.strip()
    while text:  # curl -s prints one JSON document per call, not always a newline apart
        value, end = decoder.raw_decode(text)
        out.append(value)
        text = text[end:].lstrip()
    return out


def test_reverse_split_day_works_as_the_readme_shows(api, live_server, api_key):
    family, club = unique("t"), unique("t")
    symbol = f"X{uuid.uuid4().hex[:4].upper()}"
    api.set_quote(symbol, "4.00")
    for group, accounts in ((family, ("f1", "f2")), (club, ("c1",))):
        assert api.post("/api/v1/groups", json={"name": group}).status_code == 201
        for account in accounts:
            api.add_paper_account(group, account, cash="100")
    receiver = Receiver()
    at = (datetime.now(UTC) + timedelta(seconds=15)).replace(microsecond=0)

    def readme(step: str) -> str:
        step = re.sub(r"\bfamily\b", family, step)
        step = re.sub(r"\bclub\b", club, step).replace("XYZ", symbol)
        step = step.replace("https://hooks.example.com/tf", receiver.url("/tf"))
        step = re.sub(r'"at": "[^"]+"', f'"at": "{at.isoformat()}"', step)
        return step.replace('"market_days_only": true', '"market_days_only": false')

    env = {"TF": live_server.url, "KEY": api_key}
    notify, schedule, holdings, sell_all, unknown = _steps()
    [target] = _run(readme(notify), env)
    try:
        schedules = _run(readme(schedule), env)
        assert [s["group"] for s in schedules] == [family, club], schedules
        with CeleryBeat(worker_env(WATCHLIST_SYMBOLS="")):

            def bought(group: str):
                [saved] = api.get(f"/api/v1/groups/{group}/schedules").json()
                return saved["runs"] and saved["runs"][0]

            runs = [wait_for(lambda g=g: bought(g), 60, f"{g}'s buy never ran") for g in (family, club)]  # fmt: skip
        assert [r["outcome"] for r in runs] == ["submitted", "submitted"], runs
        buys = [api.wait_job(r["job"]) for r in runs]
        assert [b["state"] for b in buys] == ["succeeded", "succeeded"], buys

        # An account opened after the buy holds none: sell-all skips it.
        api.add_paper_account(family, "late", cash="100")
        [fleet] = _run(readme(holdings), env)
        [held] = [h for h in fleet if h["symbol"] == symbol]
        assert held["quantity"] == "3"
        assert {(h["group"], h["account"]) for h in held["holders"]} == {
            (family, "f1"), (family, "f2"), (club, "c1")
        }  # fmt: skip
        assert (family, "late") in {(a["group"], a["account"]) for a in held["not_holding"]}

        accepted = _run(readme(sell_all), env)
        sells = [api.wait_job(a["job_id"]) for a in accepted]
        assert [s["state"] for s in sells] == ["succeeded", "succeeded"], sells
        statuses = {r["account"]: (r["status"], r["quantity"]) for r in sells[0]["results"]}
        assert statuses == {
            "f1": ("filled", "1"), "f2": ("filled", "1"), "late": ("skipped", "0")
        }  # fmt: skip
        fleet_after = api.get("/api/v1/holdings", params={"symbol": symbol}).json()
        assert [h["holders"] for h in fleet_after if h["symbol"] == symbol] in ([], [[]])

        [page] = _run(readme(unknown), env)
        assert not [j for j in page if j["group"] in (family, club)]

        # Told when each job ended: the two buys and the two sells.
        ours = {b["id"] for b in buys + sells}

        def told():
            bodies = [json.loads(r["body"]) for r in receiver.at("/tf")]
            ended = {b["job"]["id"] for b in bodies if b["event"] == "job_finished"}
            return ours <= ended

        wait_for(told, 30, "not every job's end was announced")
    finally:
        api.delete(f"/api/v1/notifications/{target['id']}")
        receiver.stop()
