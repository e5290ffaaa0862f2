"""The core bench's HTTP load generator: keep-alive ``http.client`` connections, closed loop.

:func:`blast` runs many connections at once (rows 1 and 2); :class:`Poster` is one
connection posting one order at a time (rows 3 and 4). Both post :data:`ORDER` and take a
202 only when a job in it was handed to the workers (``dispatch: sent``); an answer without
a job id (``/bare/ping``) is taken as it is. The API and its baselines are driven by the
same code, so their ratio is fair.
"""

from __future__ import annotations

import collections
import http.client
import json
import threading
import time
from dataclasses import dataclass, field

from bench.errors import BenchError
from bench.workload import ORDER

BODY = json.dumps(ORDER).encode()


def dispatched_job(data: bytes) -> str | None:
    """The job id of a 202 answer; ``""`` when it names no job, None when not dispatched."""
    answer = json.loads(data) if data else None
    if not isinstance(answer, dict) or "job_id" not in answer:
        return ""  # /bare/ping answers null
    return answer["job_id"] if answer.get("dispatch") == "sent" else None


@dataclass
class Blast:
    """What one :func:`blast` saw; ``statuses`` counts 0 for a request without an answer."""

    label: str
    statuses: collections.Counter = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    not_dispatched: int = 0
    elapsed: float = 0.0
    stuck_threads: int = 0
    failed_threads: int = 0  # a client that stopped on an error of its own (see errors)

    @property
    def accepted(self) -> int:
        return self.statuses.get(202, 0)

    @property
    def rate(self) -> float:
        return self.accepted / self.elapsed if self.elapsed else 0.0

    def add(self, other: Blast) -> None:
        """Count ``other`` in (the totals over rounds)."""
        self.statuses.update(other.statuses)
        self.latencies.extend(other.latencies)
        self.not_dispatched += other.not_dispatched
        self.failed_threads += other.failed_threads
        self.elapsed += other.elapsed

    def check(self) -> None:
        """Raises: BenchError: a status other than 202, a job not dispatched, a client stuck."""
        bad = {s: n for s, n in self.statuses.items() if s != 202}
        if bad or self.not_dispatched or self.stuck_threads or self.failed_threads:
            raise BenchError(
                f"{self.label}: statuses other than 202 {bad}, {self.not_dispatched} jobs not "
                f"dispatched, {self.stuck_threads} clients did not finish, "
                f"{self.failed_threads} failed, e.g. {self.errors[:3]}"
            )


def blast(
    port: int,
    label: str,
    paths: list[str],
    headers: dict[str, str],
    *,
    connections: int,
    duration: float,
    max_requests: int,
    keep_ids: bool = False,
) -> Blast:
    """``connections`` threads POST :data:`ORDER` round-robin over ``paths``, closed loop.

    Stops after ``duration`` s or ``max_requests`` requests, whichever comes first.
    """
    headers = {"Content-Type": "application/json", **headers}
    result = Blast(label)
    lock = threading.Lock()
    issued = iter(range(max_requests))
    start_line = threading.Barrier(connections + 1)
    deadline = [0.0]

    def client() -> None:
        statuses: collections.Counter = collections.Counter()
        latencies: list[float] = []
        ids: list[str] = []
        errors: list[str] = []
        not_dispatched = failed = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            start_line.wait(30)
            while time.monotonic() < deadline[0]:
                with lock:
                    i = next(issued, None)
                if i is None:
                    break
                started = time.perf_counter()
                try:
                    conn.request("POST", paths[i % len(paths)], body=BODY, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    statuses[0] += 1
                    errors.append(repr(exc))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[response.status] += 1
                if response.status != 202:
                    errors.append(f"{response.status} {data[:200]!r}")
                    continue
                job_id = dispatched_job(data)
                if job_id is None:
                    not_dispatched += 1
                    errors.append(f"not dispatched: {data[:200]!r}")
                elif keep_ids:
                    ids.append(job_id)
        except threading.BrokenBarrierError:
            errors.append("start barrier broken")
            failed = 1
        except Exception as exc:  # any error of a client thread fails the row (check)
            errors.append(f"client stopped: {exc!r}")
            failed = 1
        finally:
            conn.close()
            with lock:
                result.statuses.update(statuses)
                result.latencies.extend(latencies)
                result.job_ids.extend(ids)
                result.errors.extend(errors[:5])
                result.not_dispatched += not_dispatched
                result.failed_threads += failed

    threads = [threading.Thread(target=client, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + duration
    start_line.wait(30)
    began = time.perf_counter()
    for thread in threads:
        thread.join(max(1.0, deadline[0] - time.monotonic()) + 60)
    result.elapsed = time.perf_counter() - began
    result.stuck_threads = sum(t.is_alive() for t in threads)
    return result


class Poster:
    """One keep-alive ``http.client`` connection posting orders one at a time."""

    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, group: str) -> tuple[str, float]:
        """Returns the job id and the wall-clock time just before the request was sent.

        Raises:
            BenchError: not 202, or the job was not dispatched.
        """
        sent = time.time()
        path = f"/api/v1/groups/{group}/transactions"
        self.conn.request("POST", path, body=BODY, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        job_id = dispatched_job(data) if response.status == 202 else None
        if not job_id:
            raise BenchError(f"POST {path}: {response.status} {data[:300]!r}")
        return job_id, sent

    def close(self) -> None:
        self.conn.close()
