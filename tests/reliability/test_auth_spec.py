"""Every protected operation refuses every bad key, read off the app itself.

The operations come from ``/openapi.json`` (and every route from the Flask URL
map), so a new route is covered the day it is added: it must either need the
bearer key (and say so in the spec, with a documented 401) or be one of the few
public routes.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from core.apikeys import VERIFIED_KEY_SECONDS
from tests.services import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

# Schwab's OAuth redirect cannot carry a key: its one-use state is checked instead.
PUBLIC_PATHS = {"/health", "/openapi.json", "/docs", "/api/v1/brokers/schwab/callback"}
# Served without a key but not API operations: static files, the dashboard's page (its data
# needs the key) and the WebSocket (the key is its first message).
PUBLIC_PATHS |= {"/docs/assets/<path:filename>", "/", "/dashboard/static/<path:filename>", "/ws"}
METHODS = {"get", "put", "post", "delete", "patch"}
PLAUSIBLE = {"group": "family", "name": "alice", "job_id": uuid.uuid4().hex, "symbol": "AAPL"}


def _app():
    from api import create_app

    return create_app()


def _spec() -> dict:
    return _app().test_client().get("/openapi.json").get_json()


SPEC = _spec()
PROTECTED_OPERATIONS = [
    (method.upper(), path)
    for path, item in SPEC["paths"].items()
    for method in item
    if method in METHODS and path not in PUBLIC_PATHS
]

MALFORMED = {
    "empty": "",
    "scheme only": "Bearer",
    "scheme and space": "Bearer ",
    "basic": "Basic x",
    "basic with credentials": "Basic dXNlcjpwYXNz",
    "garbage key": "Bearer not-a-key",
    "prefixed garbage": "Bearer tf_" + "A" * 43,
    "very long key": "Bearer tf_" + "x" * 5000,
    "two keys": "Bearer tf_a tf_b",
    "latin-1 key": "Bearer tf_\xe9\xe8",
}


def _url(base: str, path: str) -> str:
    return base + re.sub(r"\{(\w+)\}", lambda m: PLAUSIBLE.get(m.group(1), "x"), path)


def _has_body(method: str, path: str) -> bool:
    return "requestBody" in SPEC["paths"][path][method.lower()]


def _assert_refused(response: requests.Response, why: str) -> None:
    assert response.status_code == 401, f"{why}: {response.status_code} {response.text[:300]}"
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), why
    assert response.headers["Content-Type"].startswith("application/json"), why
    body = response.json()
    assert body["code"] == 401, why
    assert isinstance(body.get("message"), str) and body["message"], why


def _send(live_server, method: str, path: str, headers: dict) -> requests.Response:
    # A body that would pass validation's first step: the key is checked before the body.
    body = {"json": {}} if _has_body(method, path) else {}
    return requests.request(
        method, _url(live_server.url, path), headers=headers, timeout=10, **body
    )


@pytest.fixture(scope="module")
def revoked_key(redis_client, live_server) -> str:
    from core.apikeys import ApiKeyStore

    store = ApiKeyStore(redis_client)
    name = f"t-revoked-{uuid.uuid4().hex[:8]}"
    key = store.create(name)
    works = requests.get(
        f"{live_server.url}/api/v1/groups", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert works.status_code == 200, works.text
    store.revoke(name)

    def refused() -> bool:
        response = requests.get(
            f"{live_server.url}/api/v1/groups",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        return response.status_code == 401

    # An API process trusts a key it verified for VERIFIED_KEY_SECONDS (README).
    wait_until(refused, VERIFIED_KEY_SECONDS + 1, interval=0.1, message="revocation ignored")
    return key


@pytest.mark.parametrize(("method", "path"), PROTECTED_OPERATIONS)
def test_no_authorization_header(live_server, method, path):
    _assert_refused(_send(live_server, method, path, {}), "no header")


@pytest.mark.parametrize(("method", "path"), PROTECTED_OPERATIONS)
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_authorization_header(live_server, method, path, kind):
    response = _send(live_server, method, path, {"Authorization": MALFORMED[kind]})
    _assert_refused(response, kind)


@pytest.mark.parametrize(("method", "path"), PROTECTED_OPERATIONS)
@pytest.mark.parametrize("scheme", ["Token", "Basic", "Bearer:", "Bearerx"])
def test_valid_key_under_another_scheme(live_server, api_key, method, path, scheme):
    response = _send(live_server, method, path, {"Authorization": f"{scheme} {api_key}"})
    _assert_refused(response, f"{scheme} <valid key>")


@pytest.mark.parametrize(("method", "path"), PROTECTED_OPERATIONS)
def test_revoked_key(live_server, revoked_key, method, path):
    response = _send(live_server, method, path, {"Authorization": f"Bearer {revoked_key}"})
    _assert_refused(response, "revoked key")


def test_refused_request_changes_nothing(live_server, api, revoked_key):
    name = f"t-{uuid.uuid4().hex[:10]}"
    for headers in ({}, {"Authorization": f"Bearer {revoked_key}"}):
        response = requests.post(
            f"{live_server.url}/api/v1/groups", json={"name": name}, headers=headers, timeout=10
        )
        _assert_refused(response, "create group")
        compat = requests.post(
            f"{live_server.url}/createGroup",
            params={"group_name": name},
            headers=headers,
            timeout=10,
        )
        _assert_refused(compat, "compat createGroup")
    assert api.get(f"/api/v1/groups/{name}").status_code == 404


@pytest.mark.parametrize(("method", "path"), PROTECTED_OPERATIONS)
def test_spec_declares_bearer_and_401(method, path):
    operation = SPEC["paths"][path][method.lower()]
    security = operation.get("security", SPEC.get("security"))
    assert security and any("bearerAuth" in requirement for requirement in security), (
        f"{method} {path} does not declare the bearer key"
    )
    assert SPEC["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert "401" in operation["responses"], f"{method} {path} does not document 401"


def test_only_health_and_docs_are_public(live_server):
    """Every route of the app is either public by name or refuses a request without a key."""
    from api.auth import is_protected

    app = _app()
    public = set()
    documented = {re.sub(r"\{(\w+)\}", r"<\1>", path) for path in SPEC["paths"]}
    for rule in app.url_map.iter_rules():
        plain = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
        if not is_protected(rule.rule):
            public.add(rule.rule)
            continue
        assert plain in documented, f"{rule.rule} is served but missing from /openapi.json"
        for method in sorted(rule.methods):
            response = requests.request(
                method, _url(live_server.url, re.sub(r"<(\w+)>", r"{\1}", plain)), timeout=10
            )
            assert response.status_code == 401, f"{method} {rule.rule}: {response.status_code}"
            assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert public == PUBLIC_PATHS
    for path, item in SPEC["paths"].items():
        if path in PUBLIC_PATHS:
            assert all(item[m].get("security") == [] for m in item if m in METHODS), path


def test_public_routes_answer_without_a_key(live_server):
    assert requests.get(f"{live_server.url}/health", timeout=10).status_code in (200, 503)
    assert requests.get(f"{live_server.url}/openapi.json", timeout=10).status_code == 200
    assert requests.get(f"{live_server.url}/docs", timeout=10).status_code == 200
