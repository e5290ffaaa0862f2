"""Different groups run in parallel; one group's jobs never overlap."""

import pytest

pytestmark = pytest.mark.integration


def _interval(job):
    return job["started_at"], job["finished_at"]


def test_two_groups_run_in_parallel_while_each_stays_serial(api, slow_worker):
    api.set_quote("PAR", "10")
    first, second = api.create_group("slow"), api.create_group("slow")
    for group in (first, second):
        api.add_paper_account(group, "p1")
    submitted = {}
    for group in (first, second):
        submitted[group] = [
            api.post(
                f"/api/v1/groups/{group}/transactions",
                json={"action": "buy", "symbols": ["PAR"], "quantity": 1, "dry_run": False},
            ).json()["job_id"]
            for _ in range(2)
        ]
    jobs = {g: [api.wait_job(j, timeout=30) for j in ids] for g, ids in submitted.items()}
    for group_jobs in jobs.values():
        assert [j["state"] for j in group_jobs] == ["succeeded", "succeeded"]
        (_s1, f1), (s2, _f2) = map(_interval, group_jobs)
        assert f1 <= s2  # serial inside a group
    (a_start, a_end), (b_start, b_end) = _interval(jobs[first][0]), _interval(jobs[second][0])
    assert a_start < b_end and b_start < a_end  # the two groups' first jobs overlapped
