"""What a load run records (samples, the report) and the audit that checks it afterwards.

The audit proves correctness under load: no 5xx, no lost job, no doubled job, and paper
ledgers with exactly one fill per filled result.
"""

from __future__ import annotations

import collections
import contextlib
import json
import time
from dataclasses import dataclass, field

from bench.workload import SYMBOL, TERMINAL
from tests.services import wait_until


@dataclass
class Sample:
    status: int  # HTTP status; 0 = the request itself failed (connection, timeout)
    latency: float  # seconds, HTTP round trip of the POST
    group: str
    job_id: str = ""
    error: str = ""


@dataclass
class Report:
    config: dict
    started_at: str
    figures: dict = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def wait_drained(redis, groups: list[str], timeout: float) -> float:
    """Wait until no group has a pending job; return the seconds waited."""
    from core import keys

    started = time.monotonic()

    def drained():
        with redis.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.llen(keys.group_pending(group))
            return not any(pipe.execute())

    with contextlib.suppress(TimeoutError):
        wait_until(drained, timeout, interval=0.25)
    return time.monotonic() - started


def audit(redis, samples: list[Sample], groups: list[str], accounts: int, report: Report) -> None:
    from core import keys
    from core.errors import NotFound
    from core.jobs import JobRegistry

    problems = report.problems
    statuses = collections.Counter(s.status for s in samples)
    five_xx = sum(n for status, n in statuses.items() if status >= 500)
    failed_requests = statuses.get(0, 0)
    other = {s: n for s, n in statuses.items() if s not in (202, 0) and s < 500}
    report.checks["http_statuses"] = {str(s): n for s, n in sorted(statuses.items())}
    if five_xx:
        examples = [s.error for s in samples if s.status >= 500][:3]
        problems.append(f"{five_xx} responses were 5xx, e.g. {examples}")
    if failed_requests:
        examples = [s.error for s in samples if s.status == 0][:3]
        problems.append(f"{failed_requests} requests got no answer, e.g. {examples}")
    if other:
        problems.append(f"unexpected statuses {other}")

    accepted = [s for s in samples if s.status == 202]
    ids = [s.job_id for s in accepted]
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} job ids were handed out twice")
    jobs_registry = JobRegistry(redis)
    expected_keys = {(f"a{a}", SYMBOL) for a in range(accounts)}
    states: collections.Counter = collections.Counter()
    lost, doubled, wrong = [], [], []
    filled: set[tuple[str, str, str]] = set()  # (group, account, job)
    created, finished = [], []
    for sample in accepted:
        try:
            job = jobs_registry.fetch(sample.job_id)
        except NotFound:
            lost.append(sample.job_id)
            continue
        states[job.state.value] += 1
        if job.state.value not in TERMINAL:
            lost.append(sample.job_id)
            continue
        seen = collections.Counter((r.account, r.symbol) for r in job.results)
        if any(n > 1 for n in seen.values()):
            doubled.append(sample.job_id)
        elif set(seen) != expected_keys:
            wrong.append(sample.job_id)
        for result in job.results:
            if result.status.value == "filled":
                filled.add((job.group, result.account, job.id))
        created.append(job.created_at)
        if job.finished_at:
            finished.append(job.finished_at)
    report.checks["job_states"] = dict(states)
    report.checks["jobs_accepted"] = len(accepted)
    report.checks["jobs_lost"] = len(lost)
    report.checks["jobs_with_doubled_results"] = len(doubled)
    report.checks["jobs_with_missing_results"] = len(wrong)
    if lost:
        problems.append(f"{len(lost)} accepted jobs never reached a terminal state: {lost[:5]}")
    if doubled:
        problems.append(f"{len(doubled)} jobs have two results for one account/symbol")
    if wrong:
        problems.append(f"{len(wrong)} jobs lack a result for some account/symbol: {wrong[:5]}")
    not_succeeded = sum(n for state, n in states.items() if state != "succeeded")
    if not_succeeded:
        problems.append(f"{not_succeeded} jobs did not succeed: {dict(states)}")

    # Ledgers: exactly one fill per filled (job, account, symbol), none for anything else.
    ledger: collections.Counter = collections.Counter()
    for group in groups:
        for a in range(accounts):
            for raw in redis.lrange(keys.paper_fills(group, f"a{a}"), 0, -1):
                fill = json.loads(raw)
                ledger[(group, f"a{a}", fill["job_id"])] += 1
    twice = [k for k, n in ledger.items() if n > 1]
    unreported = [k for k in ledger if k not in filled]
    missing = [k for k in filled if ledger[k] != 1]
    report.checks["ledger_fills"] = sum(ledger.values())
    report.checks["ledger_fills_doubled"] = len(twice)
    report.checks["ledger_fills_without_filled_result"] = len(unreported)
    report.checks["filled_results_without_fill"] = len(missing)
    if twice:
        problems.append(f"{len(twice)} (job, account) pairs were filled twice: {twice[:3]}")
    if unreported:
        problems.append(f"{len(unreported)} ledger fills have no filled result: {unreported[:3]}")
    if missing:
        problems.append(f"{len(missing)} filled results have no ledger fill: {missing[:3]}")
    if created and finished:
        span = (max(finished) - min(created)).total_seconds()
        report.figures["jobs_completed"] = len(finished)
        report.figures["jobs_completed_per_s"] = len(finished) / span if span > 0 else 0.0
        report.figures["first_created_to_last_finished_s"] = span
