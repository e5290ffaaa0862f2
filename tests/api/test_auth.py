"""Bearer API keys: every protected route refuses a missing, malformed or revoked key."""

import pytest

pytestmark = pytest.mark.integration

PROTECTED = [
    ("GET", "/api/v1/groups"),
    ("POST", "/api/v1/groups"),
    ("GET", "/api/v1/jobs/abc"),
    ("PUT", "/api/v1/market-data/AAPL"),
    ("POST", "/createGroup?group_name=t-x"),
    ("POST", "/transaction?group_name=t-x"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer tf_not-a-real-key", "tf_x"],
)
def test_protected_routes_refuse_bad_keys_with_401(anonymous, method, path, header):
    headers = {} if header is None else {"Authorization": header}
    response = anonymous.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["message"]


def test_public_routes_need_no_key(anonymous, worker):
    assert anonymous.get("/health").status_code in (200, 503)
    assert anonymous.get("/openapi.json").status_code == 200
    assert anonymous.get("/docs").status_code == 200


def test_revoked_key_is_refused_within_the_verified_key_time(live_server, redis_client):
    import time

    from core.apikeys import VERIFIED_KEY_SECONDS, ApiKeyStore
    from tests.conftest import ApiClient

    store = ApiKeyStore(redis_client)
    key = store.create("short-lived", replace=True)
    client = ApiClient(live_server.url, key)
    assert client.get("/api/v1/groups").status_code == 200
    store.revoke("short-lived")
    revoked = time.monotonic()
    while (response := client.get("/api/v1/groups")).status_code == 200:
        assert time.monotonic() - revoked < VERIFIED_KEY_SECONDS + 1, "revocation not effective"
        time.sleep(0.1)
    assert response.status_code == 401
    assert response.json()["message"] == "unknown or revoked API key"


def test_verified_keys_remember_good_keys_for_their_ttl_only(redis_client):
    from core.apikeys import ApiKeyStore, VerifiedKeys

    now = [100.0]
    verified = VerifiedKeys(ttl=5, clock=lambda: now[0])
    store = ApiKeyStore(redis_client)
    key = store.create("cached", replace=True)
    assert verified.verify(key, store) == "cached"
    store.revoke("cached")
    now[0] += 4.9
    assert verified.verify(key, store) == "cached"  # within the ttl: from memory
    now[0] += 0.2
    assert verified.verify(key, store) is None  # past it: asked again, and refused
    assert verified.verify("tf_not-a-key", store) is None


def test_keys_are_stored_only_as_hashes(redis_client):
    from core import keys
    from core.apikeys import ApiKeyStore

    key = ApiKeyStore(redis_client).create("hashed", replace=True)
    dump = str(redis_client.hgetall(keys.api_keys())) + str(
        redis_client.hgetall(keys.api_key_names())
    )
    assert key not in dump


def test_keys_cli_create_list_revoke(app):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["keys", "create", "cli-key", "--replace"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("tf_")
    listed = runner.invoke(args=["keys", "list"])
    assert "cli-key" in listed.output and key not in listed.output
    duplicate = runner.invoke(args=["keys", "create", "cli-key"])
    assert duplicate.exit_code != 0 and "exists" in duplicate.output
    assert runner.invoke(args=["keys", "revoke", "cli-key"]).exit_code == 0
    missing = runner.invoke(args=["keys", "revoke", "cli-key"])
    assert missing.exit_code != 0 and "no API key named 'cli-key'" in missing.output
