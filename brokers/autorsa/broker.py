"""``AutoRSABroker``: the :class:`~brokers.base.Broker` for AutoRSA brokerages.

Every account runs in its own AutoRSA process (see :mod:`brokers.autorsa.runner`),
one after another, so each result belongs to exactly one account of ours.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

import redis

from brokers.autorsa.command import build_holdings_argv, build_trade_argv
from brokers.autorsa.holdings import HoldingsReading, parse_holdings
from brokers.autorsa.lines import PromptMatcher
from brokers.autorsa.parser import parse_trade
from brokers.autorsa.relay import AccountRelay
from brokers.autorsa.runner import TERM_GRACE_SECONDS, RunOutcome, run_autorsa
from brokers.autorsa.scrub import Scrubber
from brokers.base import AccountHoldings, BrokerAccount, BrokerTraits
from brokers.credentials import BROKERAGES, autorsa_entry
from core.codes import CodeRelay
from core.errors import InvalidRequest
from core.models import LegResult, OrderRequest, OrderType, ResultStatus
from core.settings import Settings

log = logging.getLogger(__name__)

LIMIT_UNSUPPORTED = (
    "limit orders are not supported through AutoRSA 2.2.0 (its command line places market "
    "orders only); nothing was placed"
)


@dataclass
class ActivationResult(LegResult):
    """The result of :meth:`AutoRSABroker.activate`: a ``LegResult`` plus details.

    ``account_details`` (only when ``status`` is ``ok``) is what the job runner
    records on ``Account.details``: ``{"masked_numbers": ["xxxx1234", ...],
    "total": "1234.56" or None, "positions": <count>}``. It never holds a
    secret. ``to_json`` drops it, so the job's result hash stores a plain
    ``LegResult``.
    """

    account_details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        base = {f.name: getattr(self, f.name) for f in fields(LegResult)}
        return LegResult(**base).to_json()


class AutoRSABroker:
    """Trades one brokerage's accounts of one group through AutoRSA.

    Args:
        brokerage: an AutoRSA brokerage name (``robinhood``, ``tradier``, ...).
        settings: ``autorsa_bin``, ``autorsa_timeout_for(brokerage)`` and
            ``data_dir`` (account state lives in ``<data_dir>/autorsa/<group>/<account>/``).
        group: the group whose accounts this adapter runs.
        extra_env: variables added to every AutoRSA run's environment (e.g. a
            test stand-in's switches). Never put credentials here.
        connection: Redis, through which a run's 2FA prompts reach the person
            and codes come back (:mod:`core.codes`); without it a prompt fails
            the login at once.

    Raises:
        ValueError: ``brokerage`` is not run through AutoRSA.
    """

    # Calls out to the brokerage (own queue), keeps no ledger of its own (an interrupted
    # leg is ``unknown``), keeps sessions in per-account state dirs on its workers.
    traits = BrokerTraits(
        runs_inline=False,
        keeps_ledger=False,
        keeps_worker_state=True,
        trades_with_credentials=True,
    )

    def __init__(
        self,
        brokerage: str,
        settings: Settings,
        group: str,
        *,
        extra_env: Mapping[str, str] | None = None,
        connection: redis.Redis | None = None,
    ) -> None:
        info = BROKERAGES.get(brokerage)
        if info is None or info.env_var is None or info.label is None:
            raise ValueError(f"{brokerage!r} is not an AutoRSA brokerage")
        self.name = brokerage
        self.settings = settings
        self.group = group
        self._env_var = info.env_var
        self._label = info.label
        self._extra_env = dict(extra_env or {})
        self._connection = connection
        self._prompts = PromptMatcher(brokerage)

    # --- Broker protocol -------------------------------------------------------

    def account_time_bound(self, order: OrderRequest | None = None) -> float:
        """One run at its time limit, then killing what is left of it; a sell of
        everything starts with a holdings read, so it needs room for two (its further
        runs, one per symbol, each check the leg's deadline themselves).

        A run also waits for the account's state lock when another run of the same
        account holds it; within a group's order that only happens to a stale copy of
        a leg, which the leg's lease keeps from running, so the wait is not budgeted.
        """
        runs = 2 if order is not None and order.sell_all else 1
        return runs * self._run_bound()

    def _run_bound(self) -> float:
        # The wait for 2FA codes (AUTORSA_CODE_TIMEOUT, only where AutoRSA can prompt)
        # is not part of the run's own limit.
        limit = self.settings.autorsa_timeout_for(self.name) + self._code_timeout()
        return limit + TERM_GRACE_SECONDS + 5

    def activate(self, account: BrokerAccount, *, job_id: str = "") -> ActivationResult:
        """Log in and read holdings for ``account`` alone.

        Returns:
            ``ok`` with a summary and ``account_details`` (masked numbers,
            total), or ``failed`` with the reason (wrong password, 2FA needed,
            browser missing, network, ...). Never places an order.
        """
        reading = self._read_holdings(account, job_id)
        if reading.holdings is None:
            return ActivationResult(
                account=account.name,
                brokerage=self.name,
                status=ResultStatus.FAILED,
                detail=reading.error,
            )
        holdings = reading.holdings
        return ActivationResult(
            account=account.name,
            brokerage=self.name,
            status=ResultStatus.OK,
            detail=_summary(holdings, prefix="logged in"),
            account_details={
                "masked_numbers": list(holdings.masked_numbers),
                "total": holdings.total,
                "positions": len(holdings.positions),
            },
        )

    def deactivate(self, account: BrokerAccount) -> LegResult:
        """Nothing to release: AutoRSA keeps no connection between runs.

        The account's session files stay until :func:`brokers.autorsa.wipe_state`
        is called when the account is deleted.
        """
        return LegResult(account.name, self.name, ResultStatus.OK, "nothing to release")

    def place_orders(
        self,
        job_id: str,
        order: OrderRequest,
        accounts: list[BrokerAccount],
        *,
        deadline: float | None = None,
    ) -> list[LegResult]:
        """Run ``order`` for each account, one AutoRSA process per account.

        Returns:
            One result per account and symbol. A limit order is ``rejected``
            without running anything (AutoRSA's CLI has market orders only).
        """
        if order.order_type is OrderType.LIMIT:
            return [
                LegResult.for_order(
                    account.name, self.name, order, symbol, ResultStatus.REJECTED, LIMIT_UNSUPPORTED
                )
                for account in accounts
                for symbol in order.symbols
            ]
        results: list[LegResult] = []
        for account in accounts:
            if order.sell_all:
                results.extend(self._sell_all_for(job_id, order, account, deadline))
            else:
                results.extend(self._place_for(job_id, order, account))
        return results

    def _sell_all_for(
        self, job_id: str, order: OrderRequest, account: BrokerAccount, deadline: float | None
    ) -> list[LegResult]:
        """Read the account's holdings, then sell what it holds of each symbol (one run per
        symbol: AutoRSA takes one quantity per run); a symbol held not at all is skipped."""
        reading = self._read_holdings(account, job_id)
        if reading.holdings is None:
            detail = f"holdings could not be read before selling everything: {reading.error}"
            return [
                LegResult.for_order(
                    account.name, self.name, order, symbol, ResultStatus.FAILED, detail
                )
                for symbol in order.symbols
            ]
        held: dict[str, Decimal] = {}
        for position in reading.holdings.positions:
            symbol = position.symbol.upper()
            held[symbol] = held.get(symbol, Decimal(0)) + Decimal(position.quantity or "0")
        results: list[LegResult] = []
        for symbol in order.symbols:
            quantity = held.get(symbol, Decimal(0))
            if quantity <= 0:
                results.append(
                    LegResult.for_order(
                        account.name,
                        self.name,
                        order,
                        symbol,
                        ResultStatus.SKIPPED,
                        f"holds no {symbol}: nothing to sell",
                        quantity=Decimal(0),
                    )
                )
                continue
            if deadline is not None and time.monotonic() + self._run_bound() > deadline:
                results.append(
                    LegResult.for_order(
                        account.name,
                        self.name,
                        order,
                        symbol,
                        ResultStatus.FAILED,
                        "not attempted: the leg's time limit left no room for this run; "
                        "nothing was sent",
                        quantity=quantity,
                    )
                )
                continue
            one = replace(order, symbols=(symbol,), quantity=quantity, sell_all=False)
            results.extend(self._place_for(job_id, one, account))
        return results

    def holdings(
        self, accounts: list[BrokerAccount], *, job_id: str = ""
    ) -> tuple[list[AccountHoldings], list[LegResult]]:
        """Read each account's holdings; one ``ok``/``failed`` result per account."""
        found: list[AccountHoldings] = []
        results: list[LegResult] = []
        for account in accounts:
            reading = self._read_holdings(account, job_id)
            if reading.holdings is None:
                results.append(
                    LegResult(account.name, self.name, ResultStatus.FAILED, reading.error)
                )
                continue
            found.append(reading.holdings)
            results.append(
                LegResult(account.name, self.name, ResultStatus.OK, _summary(reading.holdings))
            )
        return found, results

    # --- internals -------------------------------------------------------------

    def _place_for(
        self, job_id: str, order: OrderRequest, account: BrokerAccount
    ) -> list[LegResult]:
        try:
            argv = build_trade_argv(
                self.settings.autorsa_bin,
                order.action,
                order.quantity,
                order.symbols,
                self.name,
                dry_run=order.dry_run,
            )
        except ValueError as exc:
            return [
                LegResult.for_order(
                    account.name,
                    self.name,
                    order,
                    symbol,
                    ResultStatus.REJECTED,
                    f"{exc}; nothing was placed",
                )
                for symbol in order.symbols
            ]
        prepared = self._prepare(account)
        if isinstance(prepared, str):
            return [
                LegResult.for_order(
                    account.name, self.name, order, symbol, ResultStatus.FAILED, prepared
                )
                for symbol in order.symbols
            ]
        entry, scrubber = prepared
        log.info(
            "job %s: %s %s for %s/%s (%s)",
            job_id,
            "LIVE" if order.dry_run is False else "dry run",
            order.action.value,
            self.group,
            account.name,
            self.name,
        )
        outcome = self._run(argv, account, entry, scrubber, job_id)
        results = parse_trade(
            outcome,
            brokerage=self.name,
            label=self._label,
            account=account.name,
            order=order,
            scrub=scrubber,
        )
        _log_output(outcome, scrubber, f"job {job_id} {self.group}/{account.name}")
        return results

    def _read_holdings(self, account: BrokerAccount, job_id: str) -> HoldingsReading:
        prepared = self._prepare(account)
        if isinstance(prepared, str):
            return HoldingsReading(None, prepared)
        entry, scrubber = prepared
        argv = build_holdings_argv(self.settings.autorsa_bin, self.name)
        outcome = self._run(argv, account, entry, scrubber, job_id)
        _log_output(outcome, scrubber, f"holdings {self.group}/{account.name}")
        return parse_holdings(
            outcome,
            brokerage=self.name,
            label=self._label,
            account=account.name,
            scrub=scrubber,
        )

    def _prepare(self, account: BrokerAccount) -> tuple[str, Scrubber] | str:
        """The account's AutoRSA entry and scrubber, or why there is none."""
        try:
            entry = autorsa_entry(self.name, dict(account.credentials))
        except InvalidRequest as exc:
            # The message is a fixed text: it never repeats a submitted value.
            return f"the stored credentials cannot be used with AutoRSA: {exc.message}"
        secrets = [entry, *account.credentials.values(), *entry.split(":")]
        return entry, Scrubber(secrets)

    def _run(
        self,
        argv: list[str],
        account: BrokerAccount,
        entry: str,
        scrubber: Scrubber,
        job_id: str,
    ) -> RunOutcome:
        relay = None  # without a job to show the wait on, a prompt fails the login at once
        if self._connection is not None and self._prompts and job_id:
            relay = AccountRelay(
                CodeRelay(self._connection),
                job_id,
                group=self.group,
                account=account.name,
                brokerage=self.name,
                scrub=scrubber,
            )
        return run_autorsa(
            argv,
            env_var=self._env_var,
            entry=entry,
            data_dir=self.settings.data_dir,
            group=self.group,
            account=account.name,
            timeout=self.settings.autorsa_timeout_for(self.name),
            extra_env=self._extra_env,
            prompts=self._prompts,
            relay=relay,
            code_timeout=self._code_timeout(),
        )

    def _code_timeout(self) -> float:
        return self.settings.autorsa_code_timeout_for(self.name) if self._prompts else 0.0


def _summary(holdings: AccountHoldings, prefix: str = "") -> str:
    numbers = ", ".join(holdings.masked_numbers) or "no account number shown"
    count = len(holdings.masked_numbers)
    parts = [f"{count} account{'s' if count != 1 else ''} ({numbers})"]
    if holdings.total is not None:
        parts.append(f"total ${holdings.total}")
    parts.append(f"{len(holdings.positions)} positions")
    text = ", ".join(parts)
    return f"{prefix}: {text}" if prefix else text


def _log_output(outcome: RunOutcome, scrub: Scrubber, what: str) -> None:
    if outcome.output and log.isEnabledFor(logging.DEBUG):
        log.debug("autorsa output (%s):\n%s", what, scrub(outcome.output))
