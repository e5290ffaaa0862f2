"""Explicit retries: re-run only the orders whose outcome was not a success.

A leg is never re-run automatically (at most once per account). An operator
asks for a retry after looking at the results; ``unknown`` outcomes may already
have been placed, so they are retried only when the caller says the brokerage
was checked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from core.errors import Conflict, InvalidRequest
from core.models import Job, JobKind, OrderRequest, ResultStatus

RETRYABLE = (ResultStatus.FAILED, ResultStatus.UNKNOWN, ResultStatus.REJECTED)


def retry_orders(
    job: Job, statuses: tuple[ResultStatus, ...], *, checked_brokerage: bool
) -> list[OrderRequest]:
    """The orders that re-run the ``statuses`` results of ``job``, and nothing else.

    Accounts needing the same symbols share one order; an account whose other
    symbols succeeded retries only the ones that did not.

    Raises:
        InvalidRequest: ``unknown`` asked for without ``checked_brokerage``, or a
            status that cannot be retried.
        Conflict: the job is not an order, not finished, or has nothing to retry.
    """
    if any(s not in RETRYABLE for s in statuses):
        raise InvalidRequest(
            "invalid retry",
            errors={"statuses": ["only failed, unknown and rejected can be retried"]},
        )
    if ResultStatus.UNKNOWN in statuses and not checked_brokerage:
        raise InvalidRequest(
            "unknown outcomes may already have been placed",
            errors={
                "checked_brokerage": [
                    "check each brokerage first, then send true to retry unknown outcomes"
                ]
            },
        )
    if job.kind is not JobKind.TRANSACTION or job.order is None:
        article = "an" if job.kind.value[0] in "aeiou" else "a"
        raise Conflict(f"job {job.id} is {article} {job.kind.value} job: only orders are retried")
    if not job.state.is_terminal:
        raise Conflict(f"job {job.id} is {job.state.value}: wait until it has finished")
    symbols_of: dict[str, set[str]] = defaultdict(set)
    for result in job.results:
        if result.status in statuses and result.symbol:
            symbols_of[result.account].add(result.symbol)
    if not symbols_of:
        wanted = ", ".join(s.value for s in statuses)
        raise Conflict(f"job {job.id} has no {wanted} results to retry")
    accounts_of: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for account, symbols in symbols_of.items():
        accounts_of[tuple(sorted(symbols))].append(account)
    return [
        replace(job.order, symbols=symbols, accounts=tuple(sorted(accounts)), brokerages=())
        for symbols, accounts in sorted(accounts_of.items())
    ]
