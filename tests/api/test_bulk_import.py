"""Bulk import of accounts: every row checked first, nothing imported when any is wrong."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def test_bulk_import_all_or_nothing_over_http(api):
    group = api.create_group()
    bad = api.post(
        f"/api/v1/groups/{group}/accounts/bulk",
        json={
            "accounts": [
                {"name": "p1", "brokerage": "paper", "credentials": {"starting_cash": "100"}},
                {"name": "p2", "brokerage": "Paper", "credentials": {"starting_cash": "lots"}},
                {"name": "p1", "brokerage": "paper", "credentials": {}},
                {"name": "Bad Name", "brokerage": "paper", "credentials": {}},
            ]
        },
    )
    assert bad.status_code == 422, bad.text
    rows = bad.json()["errors"]["json"]["accounts"]
    assert set(rows) == {"2", "3", "4"}
    assert "starting_cash" in str(rows["2"]) and "earlier row" in str(rows["3"])
    assert "name" in rows["4"]
    assert api.get(f"/api/v1/groups/{group}/accounts").json() == []  # nothing imported

    good = api.post(
        f"/api/v1/groups/{group}/accounts/bulk",
        json={
            "accounts": [
                {"name": f"p{n}", "brokerage": "paper", "credentials": {"starting_cash": "100"}}
                for n in range(1, 4)
            ]
        },
    )
    assert good.status_code == 202, good.text
    jobs = [api.wait_job(j["job_id"]) for j in good.json()["jobs"]]
    assert [j["state"] for j in jobs] == ["succeeded"] * 3
    states = {a["name"]: a["state"] for a in api.get(f"/api/v1/groups/{group}/accounts").json()}
    assert states == {"p1": "active", "p2": "active", "p3": "active"}


def test_accounts_import_cli_refuses_a_readable_file_and_imports_csv(api, app, tmp_path):
    group = api.create_group()
    runner = app.test_cli_runner()
    path = tmp_path / "accounts.csv"
    path.write_text("name,brokerage,starting_cash\nc1,paper,250\nc2,paper,\n")
    path.chmod(0o644)
    refused = runner.invoke(args=["accounts", "import", str(path), "--group", group])
    assert refused.exit_code != 0 and "chmod 600" in refused.output
    path.chmod(0o600)
    done = runner.invoke(args=["accounts", "import", str(path), "--group", group])
    assert done.exit_code == 0, done.output
    assert "2 accounts queued" in done.output
    for line in done.output.splitlines()[:2]:
        api.wait_job(line.rsplit(" ", 1)[1])

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([{"name": "j1", "brokerage": "nowhere", "credentials": {}}]))
    broken.chmod(0o600)
    failed = runner.invoke(args=["accounts", "import", str(broken), "--group", group])
    assert (
        failed.exit_code != 0
        and "row 1" in failed.output
        and "nothing was imported" in (failed.output)
    )
    names = {a["name"] for a in api.get(f"/api/v1/groups/{group}/accounts").json()}
    assert names == {"c1", "c2"}
