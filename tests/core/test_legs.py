"""A job's leg records (core.legs) on a real Redis: plan, mark_sent, claim and record.

Jobs are written through ``JobRegistry.create`` into uniquely named ``legs-*``
groups, which no test worker serves, so nothing but these tests moves them.
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

import pytest

from core import keys
from core.groups import GroupRegistry
from core.jobs import Created, JobRegistry, new_job_id
from core.leases import new_token
from core.legs import REFUSED, Claim, LegBook
from core.models import (
    Job,
    JobKind,
    JobState,
    LegResult,
    LegState,
    OrderAction,
    OrderRequest,
    ResultStatus,
    to_iso,
    utcnow,
)
from tests.services import wait_until

pytestmark = pytest.mark.integration

TTL_MS = 10_000
ORDER = OrderRequest(action=OrderAction.BUY, symbols=("AAPL",), quantity=Decimal("1"))
LEGS = {"paper": ["a1", "a2"], "robinhood": ["r1"]}


@pytest.fixture
def made(redis_client):
    """Builds planned jobs in fresh groups; removes every record they left at teardown."""
    groups: list[str] = []
    leg_keys: list[str] = []

    def job(legs: dict[str, list[str]] | None = LEGS) -> Job:
        group = f"legs-{uuid.uuid4().hex[:10]}"
        GroupRegistry(redis_client).create(group)
        groups.append(group)
        new = Job(id=new_job_id(), kind=JobKind.TRANSACTION, group=group, order=ORDER)
        assert JobRegistry(redis_client).create(new) == Created(new.id, created=True)
        if legs is not None:
            assert _plan(redis_client, new.id, legs)
            leg_keys.extend(keys.exec_claim(new.id, b) for b in [*legs, "unknown-brokerage"])
        return new

    yield job
    jobs, registry = JobRegistry(redis_client), GroupRegistry(redis_client)
    for group in groups:
        jobs.retire_group_jobs(group, 1)
        registry.delete(group)
        redis_client.delete(*(keys.account(group, n) for n in ("a1", "a2", "r1", "ghost")))
    if leg_keys:
        redis_client.delete(*leg_keys)


def _plan(redis_client, job_id: str, legs: dict[str, list[str]]) -> bool:
    return LegBook(redis_client).plan(
        job_id, json.dumps(legs, sort_keys=True), legs, to_iso(utcnow())
    )


def _state(redis_client, job_id: str, brokerage: str) -> LegState | None:
    return LegBook(redis_client).states(job_id).get(brokerage, (None, 0))[0]


def _result(account: str, status: ResultStatus, brokerage: str = "paper") -> LegResult:
    return LegResult.for_order(account, brokerage, ORDER, "AAPL", status, status.value)


def _results(redis_client, job_id: str) -> dict[str, ResultStatus]:
    raw = redis_client.hgetall(keys.job_results(job_id))
    return {name: LegResult.from_json(text).status for name, text in raw.items()}


# plan ------------------------------------------------------------------------


def test_plan_only_once_keeps_the_first_legs(redis_client, made):
    job = made(legs=None)
    book = LegBook(redis_client)
    assert _plan(redis_client, job.id, LEGS)
    record = redis_client.hgetall(keys.job(job.id))
    assert record["state"] == JobState.RUNNING
    assert json.loads(record["legs"]) == LEGS
    assert record["started_at"]
    first = book.states(job.id)
    assert {b: s for b, (s, _at) in first.items()} == dict.fromkeys(LEGS, LegState.PENDING)

    assert not _plan(redis_client, job.id, {"schwab": ["s1"]})
    assert redis_client.hgetall(keys.job(job.id)) == record
    assert book.states(job.id) == first


def test_plan_refuses_a_job_that_is_not_queued(redis_client, made):
    job = made(legs=None)
    assert JobRegistry(redis_client).fail(job.id, "no accounts")
    assert not _plan(redis_client, job.id, LEGS)
    assert redis_client.hget(keys.job(job.id), "state") == JobState.FAILED
    assert not redis_client.exists(keys.job_legs(job.id))


# mark_sent -------------------------------------------------------------------


def test_mark_sent_moves_only_pending_legs(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    book.mark_sent(job.id, "paper")
    assert _state(redis_client, job.id, "paper") is LegState.SENT

    # A fast leg already running (or reported) is not moved back to sent.
    assert book.claim(job.id, "robinhood", new_token(), TTL_MS) is Claim.CLAIMED
    book.mark_sent(job.id, "robinhood")
    assert _state(redis_client, job.id, "robinhood") is LegState.RUNNING

    token = new_token()
    assert book.claim(job.id, "paper", token, TTL_MS) is Claim.CLAIMED
    assert book.record(job.id, "paper", token, [], report=True) == 1
    book.mark_sent(job.id, "paper")
    assert _state(redis_client, job.id, "paper") is LegState.REPORTED

    book.mark_sent(job.id, "schwab")  # no such leg: nothing is created
    assert "schwab" not in book.states(job.id)


# claim -----------------------------------------------------------------------


@pytest.mark.parametrize("sent", [False, True], ids=["pending", "sent"])
def test_claim_unstarted_leg_takes_the_lease(redis_client, made, sent):
    job = made()
    book = LegBook(redis_client)
    if sent:
        book.mark_sent(job.id, "paper")
    token = new_token()
    assert book.claim(job.id, "paper", token, TTL_MS) is Claim.CLAIMED
    lease = keys.exec_claim(job.id, "paper")
    assert redis_client.get(lease) == token
    assert 0 < redis_client.pttl(lease) <= TTL_MS
    assert _state(redis_client, job.id, "paper") is LegState.RUNNING
    assert _state(redis_client, job.id, "robinhood") is LegState.PENDING
    assert book.leases_alive(job.id, ["paper", "robinhood"]) == {"paper": True, "robinhood": False}


def test_claim_while_the_lease_lives_is_busy(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    first = new_token()
    assert book.claim(job.id, "paper", first, TTL_MS) is Claim.CLAIMED
    assert book.claim(job.id, "paper", new_token(), TTL_MS) is Claim.BUSY
    assert book.claim(job.id, "paper", first, TTL_MS) is Claim.BUSY  # even its own token
    assert redis_client.get(keys.exec_claim(job.id, "paper")) == first
    assert _state(redis_client, job.id, "paper") is LegState.RUNNING
    assert not Claim.BUSY.runs


@pytest.mark.parametrize("lapse", ["deleted", "expired"])
def test_claim_running_leg_without_lease_is_orphaned(redis_client, made, lapse):
    job = made()
    book = LegBook(redis_client)
    lease = keys.exec_claim(job.id, "paper")
    if lapse == "deleted":
        assert book.claim(job.id, "paper", new_token(), TTL_MS) is Claim.CLAIMED
        redis_client.delete(lease)
    else:
        assert book.claim(job.id, "paper", new_token(), 100) is Claim.CLAIMED
        wait_until(lambda: not redis_client.exists(lease), 5, message="the lease did not expire")
    assert _state(redis_client, job.id, "paper") is LegState.RUNNING

    second = new_token()
    claim = book.claim(job.id, "paper", second, TTL_MS)
    assert claim is Claim.ORPHANED
    assert claim.runs
    assert redis_client.get(lease) == second
    assert 0 < redis_client.pttl(lease) <= TTL_MS
    assert book.claim(job.id, "paper", new_token(), TTL_MS) is Claim.BUSY


def test_claim_after_report_is_reported(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    token = new_token()
    assert book.claim(job.id, "paper", token, TTL_MS) is Claim.CLAIMED
    assert (
        book.record(job.id, "paper", token, [_result("a1", ResultStatus.DRY_RUN)], report=True) == 1
    )
    assert book.claim(job.id, "paper", new_token(), TTL_MS) is Claim.REPORTED
    assert not redis_client.exists(keys.exec_claim(job.id, "paper"))  # no lease was taken
    assert _state(redis_client, job.id, "paper") is LegState.REPORTED


def test_claim_on_a_terminal_job_is_finished(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    assert JobRegistry(redis_client).fail(job.id, "stopped")
    claim = book.claim(job.id, "paper", new_token(), TTL_MS)
    assert claim is Claim.FINISHED
    assert not claim.runs
    assert not redis_client.exists(keys.exec_claim(job.id, "paper"))
    assert _state(redis_client, job.id, "paper") is LegState.PENDING


def test_claim_on_a_vanished_job_is_finished(redis_client, made):
    job = made()
    redis_client.delete(keys.job(job.id))
    assert LegBook(redis_client).claim(job.id, "paper", new_token(), TTL_MS) is Claim.FINISHED
    assert not redis_client.exists(keys.exec_claim(job.id, "paper"))


def test_claim_on_an_unknown_brokerage_is_unplanned(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    assert book.claim(job.id, "unknown-brokerage", new_token(), TTL_MS) is Claim.UNPLANNED
    assert not redis_client.exists(keys.exec_claim(job.id, "unknown-brokerage"))
    assert set(book.states(job.id)) == set(LEGS)


# record ----------------------------------------------------------------------


def test_record_with_a_wrong_token_is_refused_and_writes_nothing(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    account = keys.account(job.group, "a1")
    redis_client.hset(account, mapping={"state": "pending"})
    holder = new_token()
    assert book.claim(job.id, "paper", holder, TTL_MS) is Claim.CLAIMED

    refused = book.record(
        job.id,
        "paper",
        new_token(),
        [_result("a1", ResultStatus.FILLED)],
        report=True,
        account_key=account,
        account_fields={"state": "active"},
    )
    assert refused == REFUSED == -1
    assert not redis_client.exists(keys.job_results(job.id))
    assert redis_client.hgetall(account) == {"state": "pending"}
    assert _state(redis_client, job.id, "paper") is LegState.RUNNING
    assert redis_client.get(keys.exec_claim(job.id, "paper")) == holder


def test_record_without_a_lease_is_refused(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    token = new_token()
    assert book.claim(job.id, "paper", token, TTL_MS) is Claim.CLAIMED
    redis_client.delete(keys.exec_claim(job.id, "paper"))  # the lease lapsed under its holder
    assert book.record(job.id, "paper", token, [_result("a1", ResultStatus.FILLED)]) == REFUSED
    assert not redis_client.exists(keys.job_results(job.id))


def test_record_after_the_job_is_terminal_is_refused(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    token = new_token()
    assert book.claim(job.id, "paper", token, TTL_MS) is Claim.CLAIMED
    assert JobRegistry(redis_client).fail(job.id, "taken for dead")
    assert redis_client.get(keys.exec_claim(job.id, "paper")) == token  # still the holder

    written = book.record(job.id, "paper", token, [_result("a1", ResultStatus.FILLED)], report=True)
    assert written == REFUSED
    assert not redis_client.exists(keys.job_results(job.id))
    assert _state(redis_client, job.id, "paper") is LegState.RUNNING
    assert redis_client.hget(keys.job(job.id), "state") == JobState.FAILED


def test_record_only_missing_keeps_an_existing_result(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    dead = new_token()
    assert book.claim(job.id, "paper", dead, TTL_MS) is Claim.CLAIMED
    assert book.record(job.id, "paper", dead, [_result("a1", ResultStatus.FILLED)]) == 0
    redis_client.delete(keys.exec_claim(job.id, "paper"))  # the first run died

    settler = new_token()
    assert book.claim(job.id, "paper", settler, TTL_MS) is Claim.ORPHANED
    settled = [_result("a1", ResultStatus.UNKNOWN), _result("a2", ResultStatus.UNKNOWN)]
    assert book.record(job.id, "paper", settler, settled, only_missing=True) == 0
    assert _results(redis_client, job.id) == {
        "a1|AAPL": ResultStatus.FILLED,
        "a2|AAPL": ResultStatus.UNKNOWN,
    }

    # Without only_missing the holder overwrites.
    assert book.record(job.id, "paper", settler, [_result("a1", ResultStatus.REJECTED)]) == 0
    assert _results(redis_client, job.id)["a1|AAPL"] is ResultStatus.REJECTED


def test_record_report_counts_unreported_legs_and_frees_the_lease(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    paper, robinhood = new_token(), new_token()
    assert book.claim(job.id, "paper", paper, TTL_MS) is Claim.CLAIMED
    assert book.claim(job.id, "robinhood", robinhood, TTL_MS) is Claim.CLAIMED

    # A write that does not report keeps the lease and the leg running.
    assert book.record(job.id, "paper", paper, [_result("a1", ResultStatus.DRY_RUN)]) == 0
    assert redis_client.get(keys.exec_claim(job.id, "paper")) == paper
    assert _state(redis_client, job.id, "paper") is LegState.RUNNING

    assert (
        book.record(job.id, "paper", paper, [_result("a2", ResultStatus.DRY_RUN)], report=True) == 1
    )
    assert not redis_client.exists(keys.exec_claim(job.id, "paper"))
    assert _state(redis_client, job.id, "paper") is LegState.REPORTED
    # Its lease is gone, so the run that reported can write no more.
    assert book.record(job.id, "paper", paper, [_result("a1", ResultStatus.FAILED)]) == REFUSED

    last = [_result("r1", ResultStatus.DRY_RUN, "robinhood")]
    assert book.record(job.id, "robinhood", robinhood, last, report=True) == 0
    assert not redis_client.exists(keys.exec_claim(job.id, "robinhood"))
    assert {s for s, _at in book.states(job.id).values()} == {LegState.REPORTED}
    assert set(_results(redis_client, job.id)) == {"a1|AAPL", "a2|AAPL", "r1|AAPL"}


def test_record_account_fields_only_when_the_account_exists(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    token = new_token()
    assert book.claim(job.id, "paper", token, TTL_MS) is Claim.CLAIMED
    account = keys.account(job.group, "a1")
    redis_client.hset(account, mapping={"state": "pending", "name": "a1"})

    fields = {"state": "active", "last_error": ""}
    written = book.record(
        job.id,
        "paper",
        token,
        [_result("a1", ResultStatus.OK)],
        account_key=account,
        account_fields=fields,
    )
    assert written == 0
    assert redis_client.hgetall(account) == {"state": "active", "name": "a1", "last_error": ""}

    # A deleted account is not brought back; the results are still written.
    ghost = keys.account(job.group, "ghost")
    reported = book.record(
        job.id,
        "paper",
        token,
        [_result("a2", ResultStatus.OK)],
        report=True,
        account_key=ghost,
        account_fields=fields,
    )
    assert reported == 1
    assert not redis_client.exists(ghost)
    assert set(_results(redis_client, job.id)) == {"a1|AAPL", "a2|AAPL"}


def test_states_since_moves_forward_with_each_step(redis_client, made):
    job = made()
    book = LegBook(redis_client)
    (_, planned_at) = book.states(job.id)["paper"]
    time.sleep(0.01)
    token = new_token()
    assert book.claim(job.id, "paper", token, TTL_MS) is Claim.CLAIMED
    (_, running_at) = book.states(job.id)["paper"]
    assert running_at >= planned_at > 0
    assert book.record(job.id, "paper", token, [], report=True) == 1
    (state, reported_at) = book.states(job.id)["paper"]
    assert state is LegState.REPORTED
    assert reported_at >= running_at
