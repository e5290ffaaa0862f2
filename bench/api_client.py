"""Setting a bench up through the HTTP API with ``requests``: never timed.

Quotes, groups, paper accounts activated by real jobs, and waiting for a job by polling
``GET /api/v1/jobs/<id>``. A 202 is only taken when its ``dispatch`` is ``sent``: a delayed
job waits for beat's sweeper, and no bench runs beat.
"""

from __future__ import annotations

import requests

from bench.errors import BenchError
from bench.workload import PRICE, STARTING_CASH, SYMBOL, TERMINAL
from tests.services import wait_until


class Api:
    """One keep-alive ``requests`` session with the bench's API key."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def close(self) -> None:
        self.session.close()

    def call(self, method: str, path: str, expect: int, **kwargs) -> dict:
        """The JSON answer of one call.

        Raises:
            BenchError: the status was not ``expect``.
        """
        response = self.session.request(method, self.url + path, timeout=120, **kwargs)
        if response.status_code != expect:
            raise BenchError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}

    def submit(self, path: str, body: dict) -> str:
        """POST something that answers 202 with a job; returns the job id.

        Raises:
            BenchError: not 202, or the job was not handed to the workers (``dispatch``).
        """
        answer = self.call("POST", path, 202, json=body)
        if answer.get("dispatch") != "sent":
            raise BenchError(f"POST {path}: job {answer.get('job_id')} not dispatched: {answer}")
        return answer["job_id"]

    def set_quote(self, symbol: str = SYMBOL, price: str = PRICE) -> None:
        self.call("PUT", f"/api/v1/market-data/{symbol}", 200, json={"price": price})

    def create_group(self, name: str) -> None:
        self.call("POST", "/api/v1/groups", 201, json={"name": name})

    def add_paper_accounts(self, groups: list[str], names: list[str], timeout: float) -> None:
        """Add paper accounts ``names`` to every group; wait until every activation succeeded.

        Raises:
            BenchError: an activation failed or did not finish within ``timeout`` s.
        """
        credentials = {"starting_cash": STARTING_CASH}
        activations = [
            self.submit(
                f"/api/v1/groups/{group}/accounts",
                {"name": name, "brokerage": "paper", "credentials": credentials},
            )
            for group in groups
            for name in names
        ]
        for job_id in activations:
            job = self.wait_job(job_id, timeout)
            if job["state"] != "succeeded":
                raise BenchError(f"activation {job_id} ended {job['state']}: {job}")

    def job(self, job_id: str) -> dict:
        return self.call("GET", f"/api/v1/jobs/{job_id}", 200)

    def wait_job(self, job_id: str, timeout: float) -> dict:
        """The job once it is in a terminal state.

        Raises:
            BenchError: not finished after ``timeout`` s.
        """

        def done():
            job = self.job(job_id)
            return job if job.get("state") in TERMINAL else None

        try:
            return wait_until(done, timeout, interval=0.05)
        except TimeoutError:
            raise BenchError(f"job {job_id} not finished after {timeout} s") from None
