"""Read AutoRSA's holdings block (reference 4.2) into :class:`AccountHoldings`.

The block of one brokerage::

    ==============================
    Robinhood Holdings
    ==============================
    Robinhood 1 (xxxx1234)
    AAPL: 1.0 @ $150.00 = $150.00        # or "No holdings in Account"
    Total: $1000.00                      # from the login, not the sum of positions

    ==============================

One entry (our account) may stand for several real accounts, each with its
own ``<key> (<acct>)`` section; their positions and totals are added up and
every masked number is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from brokers.autorsa import diagnosis
from brokers.autorsa.runner import RunOutcome
from brokers.base import AccountHoldings, Position
from core.codes import PromptKind

_RULE = re.compile(r"^=+$")
_HEADER = re.compile(r"^(?P<name>.+) Holdings$")
_ACCOUNT = re.compile(r"^(?P<key>.+?) \((?P<acct>[^()]*)\)$")
_POSITION = re.compile(
    r"^(?P<sym>[^:\s][^:]*): (?P<qty>[-+0-9.eE,]+) @ (?P<price>-?\$?-?[0-9.,]+|\S+) = "
    r"(?P<value>-?\$?-?[0-9.,]+|\S+)$"
)
_TOTAL = re.compile(r"^Total: (?P<total>-?\$?-?[0-9.,]+)$")
_NO_HOLDINGS = "No holdings in Account"


@dataclass(frozen=True)
class HoldingsReading:
    """What a holdings run showed for one account.

    Attributes:
        holdings: positions, total and masked numbers; ``None`` if no account
            section was printed (the login failed, even if AutoRSA said
            "Logged in").
        error: why there are no holdings (scrubbed), empty when there are.
    """

    holdings: AccountHoldings | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.holdings is not None


def parse_holdings(
    outcome: RunOutcome,
    *,
    brokerage: str,
    label: str,
    account: str,
    scrub: Callable[[str], str],
) -> HoldingsReading:
    """Extract ``account``'s holdings from one ``holdings <brokerage>`` run.

    Args:
        outcome: the run.
        brokerage: the AutoRSA name.
        label: AutoRSA's account label prefix (``Robinhood``); only sections of
            that label count.
        account: our account name.
        scrub: the account's scrubber; applied to numbers and errors.
    """
    if not outcome.started:
        return HoldingsReading(None, outcome.problem)
    if outcome.timed_out:
        return HoldingsReading(
            None, f"timed out after {outcome.timeout:g}s while reading holdings at {brokerage}"
        )
    if outcome.waited_out and outcome.prompts:
        prompt = outcome.prompts[-1]
        approval = prompt.kind is PromptKind.APPROVAL
        return HoldingsReading(
            None, diagnosis.unanswered(prompt.text, approval, outcome.code_timeout, scrub)
        )
    startup = diagnosis.startup_failure(outcome.output, outcome.returncode)
    if startup:
        return HoldingsReading(None, startup.replace("; nothing was placed", ""))
    lines = [line.strip() for line in outcome.output.splitlines()]
    holdings = _read_block(lines, brokerage, label, account, scrub)
    if holdings is not None:
        return HoldingsReading(holdings)
    reason = diagnosis.failure_reason(
        outcome.output,
        scrub,
        fallback=f"AutoRSA printed no account for {brokerage} "
        "(the login most likely failed without saying so)",
    )
    if not diagnosis.run_completed(diagnosis.output_lines(outcome.output)):
        reason += f"; AutoRSA ended abnormally (exit code {outcome.returncode})"
    return HoldingsReading(None, reason)


def _read_block(
    lines: list[str], brokerage: str, label: str, account: str, scrub: Callable[[str], str]
) -> AccountHoldings | None:
    key_prefix = label.lower() + " "
    found = False
    in_block = False
    ours = False
    quantities: dict[str, Decimal] = {}
    values: dict[str, Decimal | None] = {}
    prices: dict[str, str | None] = {}
    masked: list[str] = []
    total: Decimal | None = None
    for index, line in enumerate(lines):
        if _HEADER.match(line) and index > 0 and _RULE.match(lines[index - 1]):
            in_block = True
            continue
        if not in_block:
            continue
        if _RULE.match(line):
            # The rule after the header opens the block; a later one closes it.
            if index > 0 and _HEADER.match(lines[index - 1]):
                continue
            in_block = False
            continue
        section = _ACCOUNT.match(line)
        if section and section.group("key").lower().startswith(key_prefix):
            found = ours = True
            number = scrub(section.group("acct").strip())
            if number and number not in masked:
                masked.append(number)
            continue
        if not ours:
            continue
        if position := _POSITION.match(line):
            symbol = position.group("sym").strip().upper()
            quantity = _decimal(position.group("qty"))
            if quantity is None:
                continue
            quantities[symbol] = quantities.get(symbol, Decimal(0)) + quantity
            value = _decimal(position.group("value"))
            previous = values.get(symbol, Decimal(0))
            values[symbol] = None if value is None or previous is None else previous + value
            prices[symbol] = _money_text(position.group("price"))
        elif amount := _TOTAL.match(line):
            value = _decimal(amount.group("total"))
            if value is not None:
                total = value if total is None else total + value
    if not found:
        return None
    positions = [
        Position(
            symbol=symbol,
            quantity=format(quantities[symbol], "f"),
            price=prices.get(symbol),
            value=None if values.get(symbol) is None else format(values[symbol], "f"),
        )
        for symbol in sorted(quantities)
    ]
    return AccountHoldings(
        account=account,
        brokerage=brokerage,
        positions=positions,
        total=None if total is None else format(total, "f"),
        masked_numbers=masked,
    )


def _decimal(text: str) -> Decimal | None:
    cleaned = text.replace("$", "").replace(",", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _money_text(text: str) -> str | None:
    value = _decimal(text)
    return None if value is None else format(value, "f")
