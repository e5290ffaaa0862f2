"""One marshmallow schema per brokerage, shaped by what AutoRSA 2.2.0 can read.

AutoRSA takes every account of a brokerage from one environment variable:
accounts separated by ``,``, the fields of one account by ``:``, with no
escaping (AutoRSA behaviour contract, section 3). So a value holding ``:``,
``,`` or a control character cannot be expressed and is rejected here, when the
user submits it, rather than corrupting another field at run time.

Every schema loads a mapping of strings, strips surrounding spaces, rejects
unknown fields and returns a plain ``dict[str, str]`` whose keys are in
AutoRSA's field order. Error messages are fixed texts: they never repeat a
submitted value, which may be a password.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, post_load

MAX_VALUE_LENGTH = 512
MAX_STARTING_CASH = Decimal("1000000000")

# Unicode categories AutoRSA cannot carry: controls (\n, \r, \t, NUL...), lone
# surrogates (not encodable into an environment variable) and the line and
# paragraph separators, which some tools treat as line breaks.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_DIGITS4 = re.compile(r"[0-9]{4}")
_DIGITS10 = re.compile(r"[0-9]{10}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9]{7,15}")
_DIGITS = re.compile(r"[0-9]+")


class _EntryValue(fields.String):
    """One field of an AutoRSA entry: a string AutoRSA can carry, stripped."""

    default_error_messages = {
        "empty": "must not be empty",
        "too_long": f"must be at most {MAX_VALUE_LENGTH} characters",
        "colon": "must not contain ':' (AutoRSA separates fields with ':')",
        "comma": "must not contain ',' (AutoRSA separates accounts with ',')",
        "control": "must not contain line breaks or other control characters "
        "(AutoRSA cannot pass them)",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        # Control characters are checked before stripping: a trailing newline is
        # a pasting mistake worth reporting, not whitespace to drop silently.
        problems = []
        if ":" in text:
            problems.append(self.error_messages["colon"])
        if "," in text:
            problems.append(self.error_messages["comma"])
        if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in text):
            problems.append(self.error_messages["control"])
        text = text.strip()
        if not text and not problems and not self.required:
            # A blank optional field (an empty form input) means "not given".
            return None
        if not text:
            problems.append(self.error_messages["empty"])
        elif len(text) > MAX_VALUE_LENGTH:
            problems.append(self.error_messages["too_long"])
        if problems:
            raise ValidationError(problems)
        return text


def _rule(test: Callable[[str], Any], message: str) -> Callable[[str | None], None]:
    """A validator that raises ``message`` (a fixed text) when ``test`` fails."""

    def check(value: str | None) -> None:
        # None is a blank optional field, already turned into "absent".
        if value is not None and not test(value):
            raise ValidationError(message)

    return check


def _value(*validators: Callable[[str | None], None], required: bool = True) -> _EntryValue:
    # Optional fields take null (as API clients send it) to mean absent.
    return _EntryValue(required=required, allow_none=not required, validate=list(validators))


_four_digits = _rule(
    _DIGITS4.fullmatch, "must be exactly 4 digits (the last 4 of the phone number)"
)
_email = _rule(_EMAIL.fullmatch, "must be an email address")
_email_or_phone = _rule(
    lambda v: bool(_EMAIL.fullmatch(v) if "@" in v else _PHONE.fullmatch(v)),
    "must be an email address or a phone number (7-15 digits, optionally starting with '+')",
)
# AutoRSA turns debug on for any non-empty 4th field, so "false" would mean on:
# only the one unambiguous spelling is accepted.
_debug_flag = _rule(
    lambda v: v == "true",
    "must be 'true' or left out (AutoRSA turns debug on for any non-empty value)",
)


def _not_email(brokerage: str, what: str) -> Callable[[str | None], None]:
    return _rule(
        lambda v: "@" not in v,
        f"must be {what}, not an email address (AutoRSA skips email logins for {brokerage})",
    )


def _firstrade_factor(value: str) -> bool:
    # AutoRSA's own classification (firstrade_init), in its order; anything it
    # would not recognise makes the login fail, so it is rejected up front.
    if _DIGITS4.fullmatch(value) or _DIGITS10.fullmatch(value):
        return True
    if "@" in value:
        return bool(_EMAIL.fullmatch(value))
    return len(value) > 14


class CredentialsSchema(Schema):
    """Base of every brokerage schema: strings only, unknown fields rejected."""

    brokerage: ClassVar[str] = ""

    class Meta:
        unknown = RAISE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # marshmallow's "Unknown field." does not say what is expected instead.
        self.error_messages = {
            **self.error_messages,
            "unknown": f"unknown field; {self.brokerage} takes: {', '.join(self.fields)}",
        }

    @post_load
    def _drop_absent(self, data: dict[str, Any], **kwargs: Any) -> dict[str, str]:
        return {name: value for name, value in data.items() if value is not None}


class BBAECredentialsSchema(CredentialsSchema):
    brokerage = "bbae"
    username = _value(_email_or_phone)
    password = _value()


class ChaseCredentialsSchema(CredentialsSchema):
    brokerage = "chase"
    username = _value()
    password = _value()
    phone_last4 = _value(_four_digits)
    debug = _value(_debug_flag, required=False)


class DSPACCredentialsSchema(BBAECredentialsSchema):
    brokerage = "dspac"


class FennelCredentialsSchema(CredentialsSchema):
    brokerage = "fennel"
    pat_token = _value(_not_email("Fennel", "a Personal Access Token"))


class FidelityCredentialsSchema(CredentialsSchema):
    """``totp_secret`` absent or ``NA``: Fidelity asks for an SMS code instead."""

    brokerage = "fidelity"
    username = _value()
    password = _value()
    totp_secret = _value(required=False)


class FirstradeCredentialsSchema(CredentialsSchema):
    """``second_factor``: 4-digit PIN, 10-digit phone, email or TOTP secret."""

    brokerage = "firstrade"
    username = _value()
    password = _value()
    second_factor = _value(
        _rule(
            _firstrade_factor,
            "must be a 4-digit trading PIN, a 10-digit phone number, an email address "
            "or a TOTP secret longer than 14 characters",
        )
    )


class PublicCredentialsSchema(CredentialsSchema):
    brokerage = "public"
    api_secret_key = _value(_not_email("Public", "an API secret key"))


class RobinhoodCredentialsSchema(CredentialsSchema):
    """``totp_secret`` is accepted and passed on, but AutoRSA 2.2.0 ignores it:
    the login is approved in the Robinhood app."""

    brokerage = "robinhood"
    username = _value()
    password = _value()
    totp_secret = _value(required=False)


class SchwabCredentialsSchema(CredentialsSchema):
    """``totp_secret`` is required by AutoRSA; ``NA`` means none."""

    brokerage = "schwab"
    username = _value()
    password = _value()
    totp_secret = _value()


class SoFiCredentialsSchema(CredentialsSchema):
    """``totp_secret`` absent, ``none`` or ``false``: SoFi asks for an SMS code."""

    brokerage = "sofi"
    username = _value()
    password = _value()
    totp_secret = _value(required=False)


class TastytradeCredentialsSchema(CredentialsSchema):
    """OAuth credentials of the tastytrade SDK, not a username and password."""

    brokerage = "tastytrade"
    provider_secret = _value()
    refresh_token = _value()


class TornadoCredentialsSchema(CredentialsSchema):
    brokerage = "tornado"
    email = _value(_email)
    password = _value()


class TradierCredentialsSchema(CredentialsSchema):
    brokerage = "tradier"
    access_token = _value()


class VanguardCredentialsSchema(ChaseCredentialsSchema):
    brokerage = "vanguard"


class WebullCredentialsSchema(CredentialsSchema):
    """AutoRSA needs exactly these four fields, all of them."""

    brokerage = "webull"
    username = _value()
    password = _value()
    did = _value()
    trading_pin = _value(_rule(_DIGITS.fullmatch, "must be digits only (the Webull trading PIN)"))


class WellsFargoCredentialsSchema(CredentialsSchema):
    """``phone_hint`` picks the phone in the OTP dialog by text (e.g. its last 4 digits)."""

    brokerage = "wellsfargo"
    username = _value()
    password = _value()
    phone_hint = _value()


class _StartingCash(fields.Decimal):
    default_error_messages = {
        "too_long": "must be at most 64 characters",
        "range": f"must be greater than 0 and at most {MAX_STARTING_CASH}",
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> Decimal | None:
        if isinstance(value, str):
            # Blank means "not given", as for the other optional fields; the
            # length cap bounds the work Decimal does on absurd input.
            if not value.strip():
                return None
            if len(value) > 64:
                raise self.make_error("too_long")
        number = super()._deserialize(value, attr, data, **kwargs)
        if not 0 < number <= MAX_STARTING_CASH:
            raise self.make_error("range")
        return number


class PaperCredentialsSchema(CredentialsSchema):
    """The built-in paper brokerage: no secrets, an optional starting balance."""

    brokerage = "paper"
    starting_cash = _StartingCash(required=False, allow_none=True)

    @post_load
    def _as_string(self, data: dict[str, Any], **kwargs: Any) -> dict[str, str]:
        # Credentials are stored as strings; "f" avoids exponents such as "1E+3".
        return {name: format(value, "f") for name, value in data.items() if value is not None}
