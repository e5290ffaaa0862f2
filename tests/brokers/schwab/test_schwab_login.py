"""The authorization-code login: over the CLI, the API callback and the library, against the fake."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.brokers.schwab.conftest import APP_KEY, APP_SECRET, CALLBACK, schwab_env
from tests.processes import LiveServer
from tests.services import REPO_ROOT

pytestmark = pytest.mark.integration


def _schwab_values(redis_client) -> str:
    from core import keys

    chunks = [redis_client.get(keys.schwab_access()) or ""]
    chunks += list(redis_client.hgetall(keys.schwab_refresh()).values())
    return "\n".join(chunks)


def test_login_exchanges_the_code_and_stores_sealed_tokens(
    fake_schwab, schwab_settings, redis_client, clean_schwab
):
    import brokers.schwab

    login = brokers.schwab.login(redis_client, schwab_settings)
    url = login.start()
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{fake_schwab.url}/v1/oauth/authorize"
    assert query["client_id"] == APP_KEY
    assert query["redirect_uri"] == CALLBACK
    assert query["response_type"] == "code"
    assert APP_SECRET not in url

    redirect = requests.get(url, allow_redirects=False, timeout=5)
    status = login.finish_url(redirect.headers["Location"])

    (call,) = fake_schwab.fake.token_calls("authorization_code")
    assert call.status == 200
    assert call.form["redirect_uri"] == CALLBACK
    assert call.form["code"].endswith("@")  # unquoted from %40, as Schwab expects it back
    assert call.headers["authorization"].startswith("Basic ")
    assert status.state.value == "ok"
    assert status.age_seconds < 5
    assert status.refresh_token_expires_at.timestamp() == pytest.approx(
        time.time() + 7 * 86400, abs=5
    )

    store = brokers.schwab.token_store(redis_client, schwab_settings)
    (access,) = fake_schwab.fake.access_tokens
    (refresh,) = fake_schwab.fake.refresh_tokens
    assert store.access_token() == access
    assert 1790 < store.access_remaining() <= 1800
    stored = _schwab_values(redis_client)
    assert access not in stored and refresh not in stored  # sealed with the vault


def test_login_refuses_unknown_reused_and_refused_callbacks(
    fake_schwab, schwab_settings, redis_client, clean_schwab
):
    import brokers.schwab
    from brokers.schwab import SchwabLoginError

    login = brokers.schwab.login(redis_client, schwab_settings)
    with pytest.raises(SchwabLoginError, match="unknown"):
        login.finish(fake_schwab.fake.issue_code(), "not-a-state-we-made")
    with pytest.raises(SchwabLoginError, match="not the address"):
        login.finish_url("hello")
    with pytest.raises(SchwabLoginError, match="access_denied"):
        login.finish_url(f"{CALLBACK}?error=access_denied&state=x")

    location = requests.get(login.start(), allow_redirects=False, timeout=5).headers["Location"]
    login.finish_url(location)
    with pytest.raises(SchwabLoginError, match="already finished"):
        login.finish_url(location)  # one use per state

    # A code Schwab refuses (used, expired): the message names the OAuth error, not the code.
    state = parse_qs(urlsplit(login.start()).query)["state"][0]
    with pytest.raises(SchwabLoginError) as refused:
        login.finish("C0.made-up-code@", state)
    assert "invalid_grant" in refused.value.message
    assert "made-up" not in refused.value.message


def test_cli_login_prints_the_url_and_takes_the_pasted_address(
    fake_schwab, redis_client, clean_schwab
):
    env = {**os.environ, **schwab_env(fake_schwab)}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "api", "schwab", "login"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith(f"{fake_schwab.url}/v1/oauth/authorize?")
        location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
        out, err = process.communicate(location + "\n", timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "logged in to Schwab" in out
    assert len(fake_schwab.fake.token_calls("authorization_code")) == 1
    code = parse_qs(urlsplit(location).query)["code"][0]
    for text in (out, err):
        assert code not in text and APP_SECRET not in text
        for token in (*fake_schwab.fake.access_tokens, *fake_schwab.fake.refresh_tokens):
            assert token not in text


@pytest.fixture
def schwab_api(schwab_settings, api_key):
    """The real app on its own port, configured for the fake Schwab."""
    from api import create_app
    from tests.conftest import ApiClient

    with LiveServer(create_app(schwab_settings)) as server:
        yield ApiClient(server.url, api_key), ApiClient(server.url, None)


def test_browser_login_through_the_api_callback(fake_schwab, schwab_api, clean_schwab):
    client, anonymous = schwab_api
    assert anonymous.post("/api/v1/brokers/schwab/login").status_code == 401
    assert anonymous.get("/api/v1/brokers/schwab/status").status_code == 401

    before = client.get("/api/v1/brokers/schwab/status").json()
    assert before["state"] == "missing" and before["degraded"] is True
    assert before["login_command"] == "flask --app api schwab login"

    started = client.post("/api/v1/brokers/schwab/login")
    assert started.status_code == 200, started.text
    location = requests.get(started.json()["authorize_url"], allow_redirects=False, timeout=5)
    callback = urlsplit(location.headers["Location"])
    assert callback.path == "/api/v1/brokers/schwab/callback"

    # Schwab's redirect carries no API key; the one-use state is what is checked.
    answer = anonymous.get(f"{callback.path}?{callback.query}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "ok"
    again = anonymous.get(f"{callback.path}?{callback.query}")
    assert again.status_code == 422
    forged = anonymous.get(f"{callback.path}?code=C0.x%40&state=forged")
    assert forged.status_code == 422

    status = client.get("/api/v1/brokers/schwab/status").json()
    assert status["state"] == "ok" and status["degraded"] is False
    assert status["access_token_expires_at"] and status["last_refresh_at"]
    code = parse_qs(callback.query)["code"][0]
    for text in (started.text, answer.text, again.text, forged.text, str(status)):
        assert code not in text and APP_SECRET not in text
        for token in (*fake_schwab.fake.access_tokens, *fake_schwab.fake.refresh_tokens):
            assert token not in text


def test_login_without_an_app_is_a_409_that_says_what_to_set(api, clean_schwab):
    """The session's app has no SCHWAB_APP_KEY."""
    started = api.post("/api/v1/brokers/schwab/login")
    assert started.status_code == 409
    assert "SCHWAB_APP_KEY" in started.json()["message"]
    assert api.get("/api/v1/brokers/schwab/status").json()["state"] == "off"
    assert api.get("/health").json()["schwab"] == "off"
