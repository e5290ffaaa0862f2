"""GET /api/v1/brokerages: the credential schemas the dashboard builds its forms from."""

from __future__ import annotations

import pytest

from brokers.credentials import BROKERAGES

pytestmark = pytest.mark.integration


def test_brokerages_list_every_brokerage_with_its_fields(api):
    response = api.get("/api/v1/brokerages")
    assert response.status_code == 200, response.text
    listed = {b["name"]: b for b in response.json()}
    assert set(listed) == set(BROKERAGES)
    for name, info in BROKERAGES.items():
        assert [f["name"] for f in listed[name]["fields"]] == list(info.fields)
    chase = {f["name"]: f for f in listed["chase"]["fields"]}
    assert chase["password"]["secret"] is True and chase["username"]["secret"] is False
    assert chase["debug"]["required"] is False
    assert "exactly 4 digits" in chase["phone_last4"]["rule"]
    assert listed["paper"]["fields"] == [
        {
            "name": "starting_cash",
            "required": False,
            "secret": False,
            "rule": "optional; a decimal number above 0 and at most 1000000000",
        }
    ]


def test_brokerages_need_a_key(anonymous):
    assert anonymous.get("/api/v1/brokerages").status_code == 401
