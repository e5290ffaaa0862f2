"""Which brokerages exist, their credential schemas and their AutoRSA entries.

The schemas live in :mod:`brokers.credentials.schemas`; this module names each
brokerage (CLI name, AutoRSA variable and label, field order, whether it needs
a browser), validates submitted credentials into ``InvalidRequest`` errors the
API can show, and joins stored credentials into the ``a:b:c`` entry AutoRSA
reads from its environment variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import marshmallow
from marshmallow import ValidationError

from brokers.credentials.schemas import (
    MAX_VALUE_LENGTH,
    BBAECredentialsSchema,
    ChaseCredentialsSchema,
    CredentialsSchema,
    DSPACCredentialsSchema,
    FennelCredentialsSchema,
    FidelityCredentialsSchema,
    FirstradeCredentialsSchema,
    PaperCredentialsSchema,
    PublicCredentialsSchema,
    RobinhoodCredentialsSchema,
    SchwabCredentialsSchema,
    SoFiCredentialsSchema,
    TastytradeCredentialsSchema,
    TornadoCredentialsSchema,
    TradierCredentialsSchema,
    VanguardCredentialsSchema,
    WebullCredentialsSchema,
    WellsFargoCredentialsSchema,
)
from core.errors import InvalidRequest


@dataclass(frozen=True)
class BrokerageInfo:
    """What tradefleet knows about one brokerage.

    Attributes:
        name: the CLI name, e.g. ``robinhood``; ``paper`` for paper.
        display_name: a human name, e.g. ``Robinhood``.
        env_var: the AutoRSA variable, e.g. ``PUBLIC_BROKER``; ``None`` for paper.
        label: AutoRSA's account label prefix (``<label> <n>`` in its output),
            e.g. ``WELLSFARGO``; ``None`` for paper.
        fields: the field names in AutoRSA's colon order.
        browser: whether the worker needs a browser for this brokerage.
        schema: the marshmallow schema for its credentials.
    """

    name: str
    display_name: str
    env_var: str | None
    label: str | None
    fields: tuple[str, ...]
    browser: bool
    schema: type[marshmallow.Schema]


def _info(
    schema: type[CredentialsSchema],
    display_name: str,
    env_var: str | None,
    label: str | None,
    *,
    browser: bool = False,
) -> BrokerageInfo:
    names = tuple(schema().fields)
    return BrokerageInfo(schema.brokerage, display_name, env_var, label, names, browser, schema)


BROKERAGES: dict[str, BrokerageInfo] = {
    info.name: info
    for info in (
        _info(BBAECredentialsSchema, "BBAE", "BBAE", "BBAE"),
        _info(ChaseCredentialsSchema, "Chase", "CHASE", "Chase", browser=True),
        _info(DSPACCredentialsSchema, "DSPAC", "DSPAC", "DSPAC"),
        _info(FennelCredentialsSchema, "Fennel", "FENNEL", "Fennel"),
        _info(FidelityCredentialsSchema, "Fidelity", "FIDELITY", "Fidelity", browser=True),
        _info(FirstradeCredentialsSchema, "Firstrade", "FIRSTRADE", "Firstrade"),
        _info(PublicCredentialsSchema, "Public", "PUBLIC_BROKER", "Public"),
        _info(RobinhoodCredentialsSchema, "Robinhood", "ROBINHOOD", "Robinhood"),
        _info(SchwabCredentialsSchema, "Schwab", "SCHWAB", "Schwab", browser=True),
        _info(SoFiCredentialsSchema, "SoFi", "SOFI", "SoFi", browser=True),
        _info(TastytradeCredentialsSchema, "Tastytrade", "TASTYTRADE", "Tastytrade"),
        _info(TornadoCredentialsSchema, "Tornado", "TORNADO", "Tornado", browser=True),
        _info(TradierCredentialsSchema, "Tradier", "TRADIER", "Tradier"),
        # AutoRSA's holdings header says "VANGUARD", but its account labels say "Vanguard".
        _info(VanguardCredentialsSchema, "Vanguard", "VANGUARD", "Vanguard", browser=True),
        _info(WebullCredentialsSchema, "Webull", "WEBULL", "Webull"),
        _info(WellsFargoCredentialsSchema, "Wells Fargo", "WELLSFARGO", "WELLSFARGO", browser=True),
        _info(PaperCredentialsSchema, "Paper", None, None),
    )
}

AUTORSA_BROKERAGES: tuple[str, ...] = tuple(
    sorted(name for name, info in BROKERAGES.items() if info.env_var is not None)
)


def brokerage_names() -> list[str]:
    """Every valid brokerage name, sorted, ``paper`` included."""
    return sorted(BROKERAGES)


def get_brokerage(name: str) -> BrokerageInfo:
    """Look up a brokerage by its canonical (lowercase CLI) name.

    Raises:
        InvalidRequest: ``name`` is not a brokerage; the message lists the valid
            names. AutoRSA's nicknames (``rh``, ``wf``...) are not accepted.
    """
    info = BROKERAGES.get(name) if isinstance(name, str) else None
    if info is None:
        message = f"unknown brokerage; valid names: {', '.join(brokerage_names())}"
        raise InvalidRequest(message, errors={"brokerage": [message]})
    return info


def validate_credentials(brokerage: str, data: object) -> dict[str, str]:
    """Load and validate one account's credentials.

    Args:
        brokerage: a canonical brokerage name.
        data: the submitted credentials, normally a JSON object.

    Returns:
        The cleaned credentials: values stripped, absent optional fields left
        out, in AutoRSA's field order.

    Raises:
        InvalidRequest: ``"invalid credentials for <brokerage>"`` with
            ``errors={"credentials": {field: [messages]}}``, or
            ``{"credentials": ["must be an object"]}`` for a non-mapping, or
            ``{"brokerage": [...]}`` for an unknown brokerage.
    """
    info = get_brokerage(brokerage)
    message = f"invalid credentials for {info.name}"
    if not isinstance(data, Mapping):
        raise InvalidRequest(message, errors={"credentials": ["must be an object"]})
    try:
        return info.schema().load(data)
    except ValidationError as error:
        problems = error.messages
    # Raised outside the handler: the ValidationError carries the submitted
    # data, and chaining it would put the secrets in every logged traceback.
    raise InvalidRequest(message, errors={"credentials": problems})


def autorsa_entry(brokerage: str, credentials: dict[str, str]) -> str:
    """Build the colon-joined AutoRSA entry for one account.

    The credentials are validated again first, so a stored value that AutoRSA
    cannot express is never joined into an entry. Absent optional fields are
    left out, which is safe because optional fields only ever come last.

    Args:
        brokerage: an AutoRSA brokerage name (not ``paper``).
        credentials: the account's credentials, as :func:`validate_credentials`
            returns them.

    Returns:
        e.g. ``"user:secret:1234"`` for Chase.

    Raises:
        InvalidRequest: unknown brokerage or invalid credentials.
        ValueError: ``brokerage`` is not run through AutoRSA.
    """
    info = get_brokerage(brokerage)
    if info.env_var is None:
        raise ValueError(f"{info.name} is not an AutoRSA brokerage")
    cleaned = validate_credentials(brokerage, credentials)
    values = [cleaned.get(name) for name in info.fields]
    while values and values[-1] is None:
        values.pop()
    if None in values:
        # Fields are positional: leaving out one that precedes a present one
        # would shift the rest. No 2.2.0 brokerage has such a field (tested).
        raise ValueError(f"{info.name}: an absent field precedes a present one")
    return ":".join(values)


__all__ = [
    "AUTORSA_BROKERAGES",
    "BROKERAGES",
    "MAX_VALUE_LENGTH",
    "BrokerageInfo",
    "CredentialsSchema",
    "autorsa_entry",
    "brokerage_names",
    "get_brokerage",
    "validate_credentials",
]
