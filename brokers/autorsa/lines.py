"""The vocabulary of AutoRSA 2.2.0 trade output: one line in, one meaning out.

Each pattern reproduces a line of the reference (sections 4.3 and 4.4) for
one brokerage or for all. :func:`classify` says what a line means for the
order; the parser (:mod:`brokers.autorsa.parser`) decides what that means for
the account. ``{L}`` in a pattern stands for the account label, e.g.
``Robinhood 1`` (every run holds one account, so the number is always 1, but
any number is accepted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from core.codes import PromptKind


class Kind(StrEnum):
    """What a line says about the order of one symbol (or nothing)."""

    PRE_ORDER = "pre_order"  # "<key>: buying 1.0 of AAPL": the order step of a symbol began
    DRY_OK = "dry_ok"  # a dry run passed its checks
    FILLED = "filled"  # a live order was accepted
    VERIFIED = "verified"  # "order verification was successful": dry or live, per the run
    REJECTED = "rejected"  # the brokerage refused; nothing was placed
    FAILED = "failed"  # a check before placing failed; nothing was placed
    ERROR = "error"  # an exception while submitting: live → unknown, dry → failed
    JUDGE = "judge"  # "<...>: <msg>" whose meaning depends on msg (see judge_message)
    DETAIL = "detail"  # more text for the previous result of the same account
    SKIPPED = "skipped"  # a sub-account was skipped by AutoRSA
    REQUEST_ERROR = "request_error"  # Tradier's request error, explains the next line
    INFO = "info"  # known, says nothing about the outcome


@dataclass(frozen=True)
class LineMatch:
    kind: Kind
    symbol: str | None = None
    account: str | None = None
    message: str = ""


# (brokerages or None for all, kind, pattern). Order matters: first match wins.
_ACTION = r"(?:[Bb]uy|[Ss]ell)"
_SYM = r"(?P<sym>[A-Za-z0-9.\-/^]+)"
_RULES: tuple[tuple[frozenset[str] | None, Kind, str], ...] = (
    # --- every brokerage -------------------------------------------------------
    (None, Kind.INFO, r"All \w+ transactions complete"),
    (None, Kind.INFO, r"Running in DRY mode\. No transactions will be made\."),
    (None, Kind.PRE_ORDER, rf"{{L}}:? {_ACTION}ing \S+ (?:of )?{_SYM}(?: @ .*)?"),
    # --- Tradier ---------------------------------------------------------------
    (
        {"tradier"},
        Kind.DRY_OK,
        rf"Tradier account (?P<acct>\S+): Running in DRY mode\. Tra\w*action would've been: "
        rf"{_ACTION} \S+ of {_SYM}",
    ),
    ({"tradier"}, Kind.REJECTED, r"Tradier account (?P<acct>\S+) Error: (?P<msg>Fractional .*)"),
    (
        {"tradier"},
        Kind.REJECTED,
        r"Tradier account (?P<acct>\S+) Error: (?P<msg>This order did not route.*)",
    ),
    (
        {"tradier"},
        Kind.JUDGE,
        r"Tradier account (?P<acct>\S+) Error: (?P<msg>JSON response is None)",
    ),
    ({"tradier"}, Kind.ERROR, r"Tradier account (?P<acct>\S+) Error: (?P<msg>.*)"),
    (
        {"tradier"},
        Kind.JUDGE,
        rf"Tradier account (?P<acct>\S+): {_ACTION} \S+ of {_SYM}: (?P<msg>.*)",
    ),
    ({"tradier"}, Kind.REQUEST_ERROR, r"Error making request to Tradier API (?P<msg>/accounts/.*)"),
    # --- Robinhood, Webull (and the shared "<key> <acct> Running in DRY mode") ----
    (
        None,
        Kind.DRY_OK,
        rf"{{L}}(?: (?P<acct>[^\s:]+))?:? Running in DRY mode\. Tra\w*action would've been: "
        rf"{_ACTION} \S+ of {_SYM}",
    ),
    (
        {"robinhood"},
        Kind.INFO,
        rf"{{L}}: Error {_ACTION}ing \S+ of {_SYM} in (?P<acct>\S+), trying Limit Order",
    ),
    ({"robinhood"}, Kind.REJECTED, rf"{{L}}: (?P<msg>Error getting price for {_SYM})"),
    ({"robinhood"}, Kind.ERROR, r"{L} Error submitting order: (?P<msg>.*)"),
    ({"webull"}, Kind.REJECTED, rf"{{L}}: (?P<msg>{_SYM} is not available for trading)"),
    # --- Tastytrade ------------------------------------------------------------
    (
        {"tastytrade"},
        Kind.JUDGE,
        rf"{{L}} (?P<acct>\S+): {_ACTION} \S+ of {_SYM} Order: \S+ Status: (?P<msg>.*)",
    ),
    ({"tastytrade"}, Kind.INFO, r"{L} (?P<acct>\S+) Error: Rejected Trying Limit order.*"),
    (
        {"tastytrade"},
        Kind.JUDGE,
        r"{L} Error placing order: \S+ on account (?P<acct>\S+): (?P<msg>.*)",
    ),
    ({"tastytrade"}, Kind.ERROR, r"{L} (?P<acct>\S+): Error(?: placing order)?: (?P<msg>.*)"),
    # --- BBAE, DSPAC, Fennel, Robinhood, Webull: "<key>: <action> <amt> of <SYM> in <acct>: <msg>"
    (
        None,
        Kind.JUDGE,
        rf"{{L}}: {_ACTION} \S+ of {_SYM} in (?P<acct>.+?)(?: @ \S+)?: (?P<msg>.*)",
    ),
    (None, Kind.REJECTED, r"{L} (?P<acct>.+?): (?P<msg>(?:Validation failed|Not enough shares).*)"),
    (None, Kind.FAILED, r"{L} (?P<acct>.+?): (?P<msg>Error checking holdings.*)"),
    (None, Kind.ERROR, r"{L} (?P<acct>.+?): Error (?:placing|submitting) order: (?P<msg>.*)"),
    # --- Firstrade, Schwab, Chase, Vanguard: verification style ----------------
    (
        None,
        Kind.DETAIL,
        r"{L} account (?P<acct>\S+): .*produced the following messages: (?P<msg>.*)",
    ),
    (
        None,
        Kind.VERIFIED,
        r"{L} account (?P<acct>\S+): The order verification was (?:retry )?successful",
    ),
    (
        None,
        Kind.REJECTED,
        r"{L} account (?P<acct>\S+): (?P<msg>The (?:\w+ )?order verification was (?:retry )?unsuccessful.*)",
    ),
    ({"chase"}, Kind.FILLED, r"{L} account (?P<acct>\S+): The order was successful"),
    ({"chase"}, Kind.REJECTED, r"{L} account (?P<acct>\S+): (?P<msg>The order was unsuccessful.*)"),
    ({"schwab"}, Kind.REJECTED, r"{L} account (?P<acct>\S+): (?P<msg>Order failed: .*)"),
    ({"schwab"}, Kind.INFO, r"unsuccessful, retrying with legacy API\.\.\."),
    ({"chase"}, Kind.INFO, r"Closing Chase browser\.\.\."),
    ({"vanguard"}, Kind.INFO, r"Market order failed placing limit order\."),
    (None, Kind.SKIPPED, r"(?P<msg>Skipping account (?P<acct>\S+), not in \w+_ACCOUNT_NUMBERS)"),
    # --- Public (no account label in its lines) --------------------------------
    (
        {"public"},
        Kind.DRY_OK,
        rf"DRY RUN: {_ACTION} \S+ of {_SYM} in (?P<acct>\S+): Preflight check successful",
    ),
    ({"public"}, Kind.REJECTED, r"DRY RUN: (?P<acct>\S+): (?P<msg>Preflight check failed.*)"),
    ({"public"}, Kind.JUDGE, rf"{_ACTION} \S+ of {_SYM} in (?P<acct>\S+): (?P<msg>.*)"),
    ({"public"}, Kind.ERROR, r"(?P<acct>\S+): Error placing order: (?P<msg>.*)"),
    ({"public"}, Kind.SKIPPED, r"(?P<acct>\S+): (?P<msg>Skipping non-tradable account type.*)"),
    # --- Fidelity, Wells Fargo -------------------------------------------------
    (None, Kind.DRY_OK, rf"DRY: {{L}} account (?P<acct>\S+): {_ACTION} \S+ shares of {_SYM}"),
    (
        {"wellsfargo"},
        Kind.REJECTED,
        rf"{{L}} (?P<acct>\S+): (?P<msg>{_ACTION} \S+ shares of {_SYM}\. FAILED!.*)",
    ),
    (None, Kind.FILLED, rf"{{L}}(?: account)? (?P<acct>\S+): {_ACTION} \S+ shares of {_SYM}"),
    ({"fidelity"}, Kind.REJECTED, r"{L} account (?P<acct>\S+): Error: (?P<msg>.*)"),
    # --- Tornado ---------------------------------------------------------------
    (
        {"tornado"},
        Kind.DRY_OK,
        rf"DRY MODE: Simulated order (?:BUY|SELL) for \S+ shares of {_SYM} at .*",
    ),
    ({"tornado"}, Kind.FILLED, rf"Tornado account: {_ACTION} \S+ shares of {_SYM} at .*"),
    # --- SoFi (unreachable in 2.2.0, kept for later versions) -------------------
    ({"sofi"}, Kind.DRY_OK, rf"\[DRY MODE\] Would place limit order for {_SYM} in account .*"),
    (
        {"sofi"},
        Kind.FILLED,
        rf"Successfully (?:bought|sold) \S+ of {_SYM} in account (?P<acct>\S+)",
    ),
    ({"sofi"}, Kind.ERROR, r"Sofi error: (?P<msg>.*)"),
)

_FILLED_STATUSES = {"ok", "success", "received", "routed", "filled", "live", "queued"}

# --- Prompts: AutoRSA waits on the person (reference section 3) ----------------
# (brokerages, kind, offers ./captcha.png, pattern of the last line of output, matched
# whole once nothing follows it). A code prompt is ``input()`` on stdin with no newline;
# an approval is a printed line after which the brokerage is polled.
_PROMPT_RULES: tuple[tuple[frozenset[str], PromptKind, bool, str], ...] = (
    (
        frozenset({"bbae", "dspac"}),
        PromptKind.CODE,
        True,
        r"CAPTCHA image saved to \./captcha\.png\. Please open it and type in the code: ?",
    ),
    (frozenset({"bbae", "dspac", "wellsfargo"}), PromptKind.CODE, False, r"Enter security code: ?"),
    # SoFi asks the same way, though 2.2.0 never gets that far (reference 5.6).
    (
        frozenset({"chase", "fidelity", "firstrade", "sofi"}),
        PromptKind.CODE,
        False,
        r"Enter code: ?",
    ),
    (
        frozenset({"robinhood"}),
        PromptKind.APPROVAL,
        False,
        r"(?:You have ~?60 seconds\b.*|Check robinhood app for device approvals method\.\.\.)",
    ),
)


@dataclass(frozen=True)
class Prompt:
    """AutoRSA waiting on the person. ``text`` is raw output: scrub it before showing it."""

    kind: PromptKind
    text: str
    captcha: bool = False


class PromptMatcher:
    """Recognises the prompts of one brokerage (:data:`_PROMPT_RULES`)."""

    def __init__(self, brokerage: str) -> None:
        self._rules = [
            (kind, captcha, re.compile(pattern))
            for brokerages, kind, captcha, pattern in _PROMPT_RULES
            if brokerage in brokerages
        ]

    def __bool__(self) -> bool:
        return bool(self._rules)

    def match(self, line: str) -> Prompt | None:
        """The prompt ``line`` (the last of the output so far) is, or ``None``."""
        text = line.strip()
        for kind, captcha, pattern in self._rules:
            if pattern.fullmatch(text):
                return Prompt(kind, text, captcha)
        return None


def can_prompt(brokerage: str) -> bool:
    """Whether AutoRSA may stop a ``brokerage`` run to wait on the person."""
    return any(brokerage in brokerages for brokerages, *_ in _PROMPT_RULES)


class LineClassifier:
    """Classifies the lines of one brokerage's trade run.

    Args:
        brokerage: the AutoRSA name, e.g. ``robinhood``.
        label: AutoRSA's account label prefix, e.g. ``Robinhood`` or ``WELLSFARGO``.
    """

    def __init__(self, brokerage: str, label: str) -> None:
        key = rf"(?i:{re.escape(label)}) \d+"
        self.brokerage = brokerage
        self._rules = [
            (kind, re.compile(pattern.replace("{L}", key)))
            for brokerages, kind, pattern in _RULES
            if brokerages is None or brokerage in brokerages
        ]

    def classify(self, line: str) -> LineMatch | None:
        """The meaning of ``line`` (already stripped), or ``None`` if unknown."""
        for kind, pattern in self._rules:
            match = pattern.fullmatch(line)
            if match is None:
                continue
            groups = match.groupdict()
            symbol = groups.get("sym")
            return LineMatch(
                kind=kind,
                symbol=symbol.upper() if symbol else None,
                account=groups.get("acct"),
                message=groups.get("msg") or "",
            )
        return None


def judge_message(brokerage: str, message: str, *, dry_run: bool) -> Kind:
    """Meaning of the free-text end of a result line (the brokerage's answer).

    Args:
        brokerage: the AutoRSA name.
        message: e.g. ``Success``, ``Dry Run Success``, ``Success: True, Status:
            ...``, Tradier's order status, Tastytrade's order status, or an API
            error text.
        dry_run: whether the run was a dry run.

    Returns:
        ``DRY_OK``, ``FILLED``, ``REJECTED`` or ``ERROR`` (an answer that is
        neither clearly accepted nor clearly refused).
    """
    text = message.strip()
    lowered = text.lower()
    if lowered == "dry run success":
        return Kind.DRY_OK
    if lowered.startswith("success: true"):
        return Kind.FILLED
    if lowered.startswith("success: false") or lowered == "rejected":
        return Kind.REJECTED
    if lowered == "json response is none":
        return Kind.ERROR
    if lowered in _FILLED_STATUSES:
        # Also in a dry run: the parser reports that contradiction as unknown.
        return Kind.FILLED
    if brokerage == "robinhood":
        # Robinhood prints the API's non_field_errors text in place of "Success".
        return Kind.REJECTED
    return Kind.ERROR
