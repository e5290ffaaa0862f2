"""Group lifecycle over real HTTP."""

import pytest

pytestmark = pytest.mark.integration


def test_group_lifecycle_create_get_list_delete(api):
    name = api.create_group()
    group = api.get(f"/api/v1/groups/{name}").json()
    assert group["name"] == name
    assert group["queue"] == f"group.{name}"
    assert group["accounts"] == []
    assert name in [g["name"] for g in api.get("/api/v1/groups").json()]

    assert api.delete(f"/api/v1/groups/{name}").status_code == 204
    assert api.get(f"/api/v1/groups/{name}").status_code == 404
    assert name not in [g["name"] for g in api.get("/api/v1/groups").json()]


def test_group_create_duplicate_is_409(api):
    name = api.create_group()
    response = api.post("/api/v1/groups", json={"name": name})
    assert response.status_code == 409
    assert "already exists" in response.json()["message"]


@pytest.mark.parametrize(
    "bad_name",
    ["", "UPPER", "-starts-with-dash", "has space", "x" * 65, "semi;colon", "ünïcode", 42, None],
)
def test_group_create_bad_name_is_422_naming_the_field(api, bad_name):
    before = api.get("/api/v1/groups").json()
    response = api.post("/api/v1/groups", json={"name": bad_name})
    assert response.status_code == 422
    assert "name" in response.json()["errors"]["json"]
    assert api.get("/api/v1/groups").json() == before


def test_group_create_unknown_field_is_422(api):
    response = api.post("/api/v1/groups", json={"name": "t-ok", "colour": "red"})
    assert response.status_code == 422
    assert "colour" in response.json()["errors"]["json"]


def test_group_missing_is_404_with_message(api):
    response = api.get("/api/v1/groups/t-does-not-exist")
    assert response.status_code == 404
    assert response.json()["message"] == "group 't-does-not-exist' does not exist"


def test_group_delete_wipes_accounts_and_credentials(api, redis_client):
    from core import keys

    name = api.create_group()
    activation = api.add_paper_account(name, "p1")
    assert redis_client.exists(keys.credentials(name, "p1"))
    assert api.delete(f"/api/v1/groups/{name}").status_code == 204
    assert not redis_client.exists(keys.credentials(name, "p1"))
    assert not redis_client.exists(keys.account(name, "p1"))
    assert not redis_client.exists(keys.paper_account(name, "p1"))
    # Its history outlives it, for JOB_RETENTION_DAYS, marked as of a deleted group.
    kept = api.get(f"/api/v1/jobs/{activation['id']}").json()
    assert kept["state"] == "succeeded" and kept["group_deleted"] is True
    assert 0 < redis_client.ttl(keys.job(activation["id"])) <= 90 * 86400
    # A new group of the same name starts with no history.
    assert api.post("/api/v1/groups", json={"name": name}).status_code == 201
    assert api.get(f"/api/v1/groups/{name}/jobs").json() == []


def test_group_with_unfinished_jobs_cannot_be_deleted(api, redis_client):
    from core import keys

    name = api.create_group()
    redis_client.rpush(keys.group_pending(name), "some-job")  # as if a job were queued
    response = api.delete(f"/api/v1/groups/{name}")
    assert response.status_code == 409
    assert "unfinished jobs" in response.json()["message"]
    redis_client.delete(keys.group_pending(name))


def test_new_group_is_served_by_an_already_running_worker(api, worker):
    """The worker started before this group existed; it must pick up the new queue."""
    name = api.create_group()
    job = api.add_paper_account(name, "p1")
    assert job["results"][0]["status"] == "ok"
    assert f"group.{name}" in worker.log_text()
