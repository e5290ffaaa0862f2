"""The one refresher: refresh when due, re-read inside the mutex, two workers racing, refusal."""

from __future__ import annotations

import itertools
import time
import uuid

import pytest

from core import keys
from tests.brokers.schwab.conftest import APP_SECRET, schwab_env
from tests.processes import CeleryWorker, LiveServer
from tests.reliability.test_secrets_everywhere import _redis_dump

pytestmark = pytest.mark.integration

DAY = 86400


def _parts(redis_client, settings):
    import brokers.schwab

    return brokers.schwab.token_store(redis_client, settings), brokers.schwab.oauth_client(settings)


def test_refresh_only_when_due_and_the_login_time_stays(logged_in, schwab_settings, redis_client):
    from brokers.schwab import RefreshOutcome, refresh_if_due

    store, oauth = _parts(redis_client, schwab_settings)
    first_access = store.access_token()
    logged_in_at = store.status().logged_in_at
    assert refresh_if_due(store, oauth) is RefreshOutcome.FRESH  # 30 min left > 10 min margin
    assert logged_in.token_calls("refresh_token") == []

    assert refresh_if_due(store, oauth, margin=1900) is RefreshOutcome.REFRESHED
    (call,) = logged_in.token_calls("refresh_token")
    assert call.form["refresh_token"] in logged_in.refresh_tokens
    assert store.access_token() != first_access
    status = store.status()
    assert status.logged_in_at == logged_in_at  # a refresh does not extend the 7 days
    assert status.last_refresh_at > logged_in_at
    assert status.state.value == "ok"


def test_expired_access_token_is_gone_and_workers_do_not_refresh(
    fake_schwab, schwab_settings, redis_client, clean_schwab
):
    import requests

    import brokers.schwab
    from brokers.schwab import RefreshOutcome, SchwabNotAuthorized

    fake_schwab.fake.access_life = 0.5
    login = brokers.schwab.login(redis_client, schwab_settings)
    login.finish_url(
        requests.get(login.start(), allow_redirects=False, timeout=5).headers["Location"]
    )
    client = brokers.schwab.market_client(redis_client, schwab_settings)
    time.sleep(0.7)
    with pytest.raises(SchwabNotAuthorized, match="refresher"):
        client.quotes(["AAPL"])
    assert fake_schwab.fake.calls("/marketdata/v1/quotes") == []  # nothing sent without a token
    assert fake_schwab.fake.token_calls("refresh_token") == []  # the client never refreshes

    fake_schwab.fake.access_life = 1800
    assert brokers.schwab.refresh(redis_client, schwab_settings) is RefreshOutcome.REFRESHED
    assert "AAPL" in client.quotes(["AAPL"])


_RACER = """
import sys, time
from core.connection import redis_client
from core.settings import get_settings
import brokers.schwab
from brokers.schwab.refresher import refresh_if_due

settings = get_settings()
connection = redis_client(settings.redis_url)
store = brokers.schwab.token_store(connection, settings)
oauth = brokers.schwab.oauth_client(settings)
store.status()  # connect before the start line
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
print(refresh_if_due(store, oauth, margin=1900).value)
"""


def test_two_processes_racing_to_refresh_send_one_refresh(logged_in, fake_schwab, redis_client):
    """Two processes, each its own connection, start refreshing at the same instant."""
    import os
    import subprocess
    import sys

    from tests.services import REPO_ROOT

    logged_in.token_delay = 0.5  # the first refresh is still in flight when the second looks
    env = {**os.environ, **schwab_env(fake_schwab)}
    outcomes = []
    for _round in range(3):
        start = str(time.time() + 1.5)
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", _RACER, start],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outcomes.append(sorted(p.communicate(timeout=30)[0].strip() for p in racers))
        # Due again for the next round.
        redis_client.pexpire(keys.schwab_access(), 60_000)
    assert len(logged_in.token_calls("refresh_token")) == 3, outcomes
    for pair in outcomes:
        assert pair[1] == "refreshed" and pair[0] in ("busy", "fresh"), outcomes


def test_two_celery_workers_racing_send_one_refresh(logged_in, fake_schwab, redis_client):
    """Real workers, two processes each, all handed the refresh task at once."""
    from tasks import names
    from tasks.celery import app

    logged_in.token_delay = 0.5
    queue = f"schwab-race-{uuid.uuid4().hex[:6]}"
    env = schwab_env(fake_schwab, TRADEFLEET_WORKER_GROUPS="-", TRADEFLEET_WORKER_BROKERAGES="-")
    redis_client.pexpire(keys.schwab_access(), 60_000)  # due
    with CeleryWorker(env, queues=queue) as one, CeleryWorker(env, queues=queue) as two:
        results = [app.send_task(names.REFRESH_SCHWAB_TOKEN, queue=queue) for _ in range(6)]
        outcomes = sorted(r.get(timeout=30) for r in results)
    # Nothing in clear anywhere: every Redis key and value (queues, results), both logs.
    texts = [_redis_dump(redis_client), one.log_text(), two.log_text()]
    secrets = [APP_SECRET, *logged_in.access_tokens, *logged_in.refresh_tokens]
    assert not [s for s in secrets for t in texts if s in t]
    assert len(logged_in.token_calls("refresh_token")) == 1, outcomes
    assert outcomes.count("refreshed") == 1
    assert set(outcomes) <= {"refreshed", "busy", "fresh"}
    for result in results:  # task results (in the result backend) hold no token
        for token in (*logged_in.access_tokens, *logged_in.refresh_tokens):
            assert token not in str(result.result)


def test_refused_refresh_token_needs_a_login_and_degrades_health(
    logged_in, schwab_settings, redis_client, api_key, caplog
):
    import requests

    from api import create_app
    from brokers.schwab import RefreshOutcome, refresh_if_due
    from tests.conftest import ApiClient

    store, oauth = _parts(redis_client, schwab_settings)
    refresh_token = store.refresh_token()
    logged_in.revoke_refresh_tokens()
    assert refresh_if_due(store, oauth, margin=1900) is RefreshOutcome.REJECTED
    assert refresh_if_due(store, oauth, margin=1900) is RefreshOutcome.REJECTED
    assert len(logged_in.token_calls("refresh_token")) == 1  # not asked again until a login

    with LiveServer(create_app(schwab_settings)) as server:
        client = ApiClient(server.url, api_key)
        status = client.get("/api/v1/brokers/schwab/status")
        health = requests.get(f"{server.url}/health", timeout=5)
    body = status.json()
    assert body["state"] == "rejected" and body["degraded"] is True
    assert "invalid_client" in body["last_error"]
    assert "flask --app api schwab login" in body["message"]
    assert health.json()["status"] == "degraded" and health.json()["schwab"] == "rejected"
    for text in (status.text, health.text, caplog.text):
        assert refresh_token not in text and APP_SECRET not in text


@pytest.mark.parametrize(
    ("age_days", "state", "degraded"),
    [(1, "ok", False), (6.1, "expiring", True), (7.1, "expired", True)],
)
def test_refresh_token_age_shows_in_status(
    schwab_settings, redis_client, clean_schwab, age_days, state, degraded
):
    import brokers.schwab
    from brokers.schwab.tokens import TokenGrant

    store = brokers.schwab.token_store(redis_client, schwab_settings)
    assert store.status().state.value == "missing" and store.status().degraded
    store.save_login(TokenGrant("a", 1800, "r"), now=time.time() - age_days * DAY)
    status = brokers.schwab.status(redis_client, schwab_settings)
    assert status.state.value == state and status.degraded is degraded
    assert status.age_seconds == pytest.approx(age_days * DAY, abs=5)


def test_status_is_off_without_an_app_and_health_unaffected(redis_client, clean_schwab):
    import brokers.schwab
    from core.settings import get_settings

    assert brokers.schwab.status(redis_client, get_settings()).state.value == "off"
    assert not brokers.schwab.status(redis_client, get_settings()).degraded


def test_beat_schedules_the_refresher_only_with_an_app(schwab_settings):
    from core.settings import get_settings
    from tasks import beat, names

    entry = beat.schedule(schwab_settings)["refresh-schwab-token"]
    assert entry["task"] == names.REFRESH_SCHWAB_TOKEN and entry["schedule"] <= 120
    assert "refresh-schwab-token" not in beat.schedule(get_settings())


def test_beat_refreshes_on_its_own_and_refreshes_never_overlap(fake_schwab):
    """A real beat and two workers on a private Redis: beat fires every second, each refresh
    takes 1.5 s, every token is due at once; refreshes follow one another, never overlap."""
    import requests

    import brokers.schwab
    from core.settings import Settings
    from tests.reliability.faults import Fleet

    fake = fake_schwab.fake
    fleet = Fleet()
    try:
        env = schwab_env(fake_schwab, SCHWAB_REFRESH_SECONDS="1")
        for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            env.pop(name)
        settings = Settings.from_env({k: v for k, v in fleet.env(**env).items() if v is not None})
        login = brokers.schwab.login(fleet.conn, settings)
        login.finish_url(
            requests.get(login.start(), allow_redirects=False, timeout=5).headers["Location"]
        )
        fake.access_life = 300  # under the 10-minute margin: due at every beat tick
        fake.token_delay = 1.5
        fleet.conn.pexpire(keys.schwab_access(), 300_000)

        fleet.worker("schwab-a", **env)
        fleet.worker("schwab-b", **env)
        fleet.beat(**env)
        client = brokers.schwab.market_client(fleet.conn, settings)
        deadline = time.monotonic() + 45
        while len(fake.token_calls("refresh_token")) < 4 and time.monotonic() < deadline:
            assert "AAPL" in client.quotes(["AAPL"])  # readers never lose access meanwhile
            time.sleep(0.2)
        refreshes = fake.token_calls("refresh_token")
        assert len(refreshes) >= 4, "beat did not keep refreshing"
        assert fake.most_in_flight == 1  # never two refreshers at once
        for earlier, later in itertools.pairwise(refreshes):
            assert later.at - earlier.at >= 1.4  # each waited for the one before
        status = brokers.schwab.status(fleet.conn, settings)
        assert status.state.value == "ok" and status.last_error is None
    finally:
        fleet.close()
