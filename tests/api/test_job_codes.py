"""2FA codes on demand, end to end: the API (in-process live server) and a real Celery
worker subprocess, with only Redis between them, and the stand-in AutoRSA prompting.

The stand-in's scenario comes from the password (``otp-...`` asks for a code, see
tests/fakes/auto_rsa_bot). The tests' settings: AUTORSA_CODE_TIMEOUT=12, and 2 s for
fidelity and robinhood, where the deadline is meant to pass.
"""

from __future__ import annotations

import json
import logging
import secrets

import pytest

from tests.conftest import wait_for
from tests.reliability.test_secrets_everywhere import _redis_dump

pytestmark = pytest.mark.integration


def _code() -> str:
    return "Q7" + secrets.token_hex(3)  # 8 characters, findable anywhere


def _activate(api, group, name, brokerage, credentials) -> str:
    response = api.post(
        f"/api/v1/groups/{group}/accounts",
        json={"name": name, "brokerage": brokerage, "credentials": credentials},
    )
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def _waiting(api, job_id, account, kind="code", prompt=None, timeout=20) -> dict:
    """The job's waiting entry for ``account`` once it shows (with ``prompt``, if given)."""

    def shown():
        job = api.get(f"/api/v1/jobs/{job_id}").json()
        for entry in job.get("waiting", []):
            mine = entry["account"] == account and entry["kind"] == kind
            if mine and (prompt is None or entry["prompt"] == prompt):
                return entry
        return None

    return wait_for(shown, timeout, message=f"{account} of job {job_id} never waited for {kind}")


def _post_code(api, job_id, account, code):
    return api.post(f"/api/v1/jobs/{job_id}/codes", json={"account": account, "code": code})


def _nowhere(code, *texts):
    leaks = [t for t in texts if code in t]
    assert not leaks, [t[max(0, t.index(code) - 200) : t.index(code) + 100] for t in leaks]


def test_chase_activation_and_order_complete_with_codes_posted_in_time(
    api, worker, redis_client, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    group = api.create_group()
    api.set_quote("AAPL", "100")
    credentials = {"username": "me@x.io", "password": "otp-pw7711", "phone_last4": "1234"}
    job_id = _activate(api, group, "chase1", "chase", credentials)

    entry = _waiting(api, job_id, "chase1")
    assert entry["brokerage"] == "chase" and entry["prompt"] == "Enter code:"
    assert entry["captcha"] is False and entry["deadline"]
    code = _code()
    response = _post_code(api, job_id, "chase1", code)
    assert response.status_code == 202, response.text
    assert response.json() == {"account": "chase1", "delivered": True}
    # Delivered once: the same prompt takes no second code.
    assert _post_code(api, job_id, "chase1", _code()).status_code == 409

    job = api.wait_job(job_id, timeout=40)
    assert job["state"] == "succeeded", job
    assert job["waiting"] == []
    account = api.get(f"/api/v1/groups/{group}/accounts/chase1").json()
    assert account["state"] == "active"

    # Every run of this account asks again: the order too.
    response = api.post(
        f"/api/v1/groups/{group}/transactions",
        json={"action": "buy", "symbols": ["AAPL"], "quantity": 1, "dry_run": False},
    )
    order_id = response.json()["job_id"]
    _waiting(api, order_id, "chase1")
    second = _code()
    assert _post_code(api, order_id, "chase1", second).status_code == 202
    order = api.wait_job(order_id, timeout=40)
    assert order["state"] == "succeeded", order
    assert [r["status"] for r in order["results"]] == ["filled"]

    texts = [
        json.dumps(job),
        json.dumps(order),
        _redis_dump(redis_client),
        worker.log_text(),
        api.get(f"/api/v1/groups/{group}/jobs").text,
        "\n".join(record.getMessage() for record in caplog.records),
    ]
    _nowhere(code, *texts)
    _nowhere(second, *texts)


def test_bbae_captcha_then_security_code(api, anonymous) -> None:
    group = api.create_group()
    job_id = _activate(
        api, group, "bb1", "bbae", {"username": "me@x.io", "password": "captcha-pw7712"}
    )
    entry = _waiting(api, job_id, "bb1")
    assert entry["captcha"] is True
    assert entry["prompt"].startswith("CAPTCHA image saved to ./captcha.png")

    path = f"/api/v1/jobs/{job_id}/captcha?account=bb1"
    assert anonymous.get(path).status_code == 401
    image = api.get(path)
    assert image.status_code == 200, image.text
    assert image.headers["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")

    assert _post_code(api, job_id, "bb1", "W7KQ").status_code == 202
    code_entry = _waiting(api, job_id, "bb1", prompt="Enter security code:")
    assert code_entry["captcha"] is False
    assert api.get(path).status_code == 404  # removed after the answer
    assert _post_code(api, job_id, "bb1", _code()).status_code == 202
    job = api.wait_job(job_id, timeout=40)
    assert job["state"] == "succeeded", job


def test_robinhood_approval_shows_and_takes_no_code(api) -> None:
    group = api.create_group()
    job_id = _activate(
        api, group, "rh1", "robinhood", {"username": "me@x.io", "password": "approve-1"}
    )
    entry = _waiting(api, job_id, "rh1", kind="approval")
    assert "approve" in entry["prompt"]
    assert _post_code(api, job_id, "rh1", "123456").status_code == 409
    job = api.wait_job(job_id, timeout=40)
    assert job["state"] == "succeeded", job


def test_approval_never_given_fails_the_activation(api) -> None:
    group = api.create_group()
    job_id = _activate(
        api, group, "rh2", "robinhood", {"username": "me@x.io", "password": "approve-60"}
    )
    job = api.wait_job(job_id, timeout=40)
    assert job["state"] == "failed", job
    assert "not approved in the brokerage's app within 2s" in job["results"][0]["detail"]


def test_no_code_in_time_fails_activation_and_marks_a_begun_order_unknown(api) -> None:
    group = api.create_group()
    job_id = _activate(api, group, "fid1", "fidelity", {"username": "me", "password": "otp-pw1"})
    job = api.wait_job(job_id, timeout=40)
    assert job["state"] == "failed", job
    assert "no code came within 2s" in job["results"][0]["detail"]
    assert job["waiting"] == []

    # This account logs in without a code but asks for one once its order step began.
    late = _activate(api, group, "fid2", "fidelity", {"username": "me2", "password": "otplate-1"})
    assert api.wait_job(late, timeout=40)["state"] == "succeeded"
    api.set_quote("AAPL", "100")
    order = api.order(group, action="buy", symbols=["AAPL"], quantity=1, dry_run=False)
    (result,) = [r for r in order["results"] if r["account"] == "fid2"]
    assert result["status"] == "unknown", result
    assert "check the brokerage" in result["detail"]


def test_wrong_code_gets_the_brokerages_refusal(api) -> None:
    group = api.create_group()
    credentials = {"username": "me@x.io", "password": "badcode-pw7713", "phone_last4": "1234"}
    job_id = _activate(api, group, "chase2", "chase", credentials)
    _waiting(api, job_id, "chase2")
    assert _post_code(api, job_id, "chase2", "000000").status_code == 202
    job = api.wait_job(job_id, timeout=40)
    assert job["state"] == "failed", job
    assert "Incorrect OTP code" in job["results"][0]["detail"]


def test_codes_for_accounts_not_waiting_and_bad_codes_are_refused(api, redis_client) -> None:
    group = api.create_group()
    api.add_paper_account(group, "p1")
    jobs = api.get(f"/api/v1/groups/{group}/jobs").json()
    job_id = jobs[0]["id"]
    assert _post_code(api, job_id, "p1", "123456").status_code == 409
    assert _post_code(api, job_id, "nobody", "123456").status_code == 409
    assert _post_code(api, "nosuchjob", "p1", "123456").status_code == 404
    for bad in ("12\n34", "123456\n", "x" * 17, "", "\x1b[2J", 123456):
        response = _post_code(api, job_id, "p1", bad)
        assert response.status_code == 422, (bad, response.text)
        if isinstance(bad, str) and len(bad) > 3:
            assert bad not in response.text
    extra = api.post(
        f"/api/v1/jobs/{job_id}/codes", json={"account": "p1", "code": "1", "stdin": "rm"}
    )
    assert extra.status_code == 422
    assert api.get(f"/api/v1/jobs/{job_id}/captcha?account=p1").status_code == 404
    assert not list(redis_client.scan_iter(f"tf:job:{job_id}:code:*"))


def test_live_stream_shows_the_wait_and_its_end(api, live_server, api_key) -> None:
    from tests.api.test_ws import connect, receive_until, subscribe

    group = api.create_group()
    ws = connect(live_server.url, api_key)
    subscribe(ws, groups=[group])
    credentials = {"username": "me@x.io", "password": "otp-pw7714", "phone_last4": "1234"}
    job_id = _activate(api, group, "chase3", "chase", credentials)

    def waits(message):
        job = message.get("job") or {}
        return message["type"] == "job" and job.get("id") == job_id and job.get("waiting")

    message, _ = receive_until(ws, waits, timeout=30)
    (entry,) = message["job"]["waiting"]
    assert entry["account"] == "chase3" and entry["kind"] == "code"
    assert _post_code(api, job_id, "chase3", _code()).status_code == 202

    def over(message):
        job = message.get("job") or {}
        return message["type"] == "job" and job.get("id") == job_id and not job.get("waiting")

    receive_until(ws, over, timeout=30)
    assert api.wait_job(job_id, timeout=40)["state"] == "succeeded"
    ws.close()
