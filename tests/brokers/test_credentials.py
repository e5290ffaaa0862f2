"""Credential schemas: what each brokerage accepts, and what AutoRSA gets from it."""

from __future__ import annotations

import pytest

from brokers.credentials import (
    AUTORSA_BROKERAGES,
    BROKERAGES,
    MAX_VALUE_LENGTH,
    autorsa_entry,
    brokerage_names,
    get_brokerage,
    validate_credentials,
)
from core.errors import InvalidRequest

# Marks every submitted secret so a test can prove no error message repeats it.
SECRET = "Zq7SECRETvalue"

# brokerage -> (one valid credential set, the AutoRSA entry it must produce)
VALID = {
    "bbae": ({"username": "me@example.com", "password": SECRET}, f"me@example.com:{SECRET}"),
    "chase": (
        {"username": "me", "password": SECRET, "phone_last4": "1234"},
        f"me:{SECRET}:1234",
    ),
    "dspac": ({"username": "+15551234567", "password": SECRET}, f"+15551234567:{SECRET}"),
    "fennel": ({"pat_token": SECRET}, SECRET),
    "fidelity": ({"username": "me", "password": SECRET}, f"me:{SECRET}"),
    "firstrade": (
        {"username": "me", "password": SECRET, "second_factor": "4321"},
        f"me:{SECRET}:4321",
    ),
    "public": ({"api_secret_key": SECRET}, SECRET),
    "robinhood": ({"username": "me@example.com", "password": SECRET}, f"me@example.com:{SECRET}"),
    "schwab": (
        {"username": "me", "password": SECRET, "totp_secret": "NA"},
        f"me:{SECRET}:NA",
    ),
    "sofi": (
        {"username": "me", "password": SECRET, "totp_secret": "JBSWY3DPEHPK3PXP"},
        f"me:{SECRET}:JBSWY3DPEHPK3PXP",
    ),
    "tastytrade": (
        {"provider_secret": "provider-abc", "refresh_token": SECRET},
        f"provider-abc:{SECRET}",
    ),
    "tornado": ({"email": "me@example.com", "password": SECRET}, f"me@example.com:{SECRET}"),
    "tradier": ({"access_token": SECRET}, SECRET),
    "vanguard": (
        {"username": "me", "password": SECRET, "phone_last4": "0042", "debug": "true"},
        f"me:{SECRET}:0042:true",
    ),
    "webull": (
        {"username": "me", "password": SECRET, "did": "abc123def", "trading_pin": "123456"},
        f"me:{SECRET}:abc123def:123456",
    ),
    "wellsfargo": (
        {"username": "me", "password": SECRET, "phone_hint": "5678"},
        f"me:{SECRET}:5678",
    ),
}

# brokerage -> every field in AutoRSA order, and the optional ones.
FIELDS = {
    "bbae": (("username", "password"), ()),
    "chase": (("username", "password", "phone_last4", "debug"), ("debug",)),
    "dspac": (("username", "password"), ()),
    "fennel": (("pat_token",), ()),
    "fidelity": (("username", "password", "totp_secret"), ("totp_secret",)),
    "firstrade": (("username", "password", "second_factor"), ()),
    "public": (("api_secret_key",), ()),
    "robinhood": (("username", "password", "totp_secret"), ("totp_secret",)),
    "schwab": (("username", "password", "totp_secret"), ()),
    "sofi": (("username", "password", "totp_secret"), ("totp_secret",)),
    "tastytrade": (("provider_secret", "refresh_token"), ()),
    "tornado": (("email", "password"), ()),
    "tradier": (("access_token",), ()),
    "vanguard": (("username", "password", "phone_last4", "debug"), ("debug",)),
    "webull": (("username", "password", "did", "trading_pin"), ()),
    "wellsfargo": (("username", "password", "phone_hint"), ()),
}

REQUIRED = [
    (name, field)
    for name, (fields, optional) in FIELDS.items()
    for field in fields
    if field not in optional
]

OPTIONAL = [(name, field) for name, (_, optional) in FIELDS.items() for field in optional]

ALL_FIELDS = [(name, field) for name, (fields, _) in FIELDS.items() for field in fields]

# Values AutoRSA cannot express, each with a word its message must contain.
UNEXPRESSIBLE = [
    pytest.param(f"{SECRET}:x", "':'", id="colon"),
    pytest.param(f"{SECRET},x", "','", id="comma"),
    pytest.param(f"{SECRET}\nx", "line breaks", id="newline"),
    pytest.param(f"{SECRET}\r", "line breaks", id="trailing-cr"),
    pytest.param(f"{SECRET}\tx", "control characters", id="tab"),
    pytest.param(f"{SECRET}\x00", "control characters", id="nul"),
    pytest.param(f"{SECRET}\u2028x", "line breaks", id="line-separator"),
    pytest.param(SECRET * 40, f"at most {MAX_VALUE_LENGTH}", id="too-long"),
]


def rejected(brokerage: str, data: object) -> InvalidRequest:
    """Validate ``data``, expect a rejection, and check no secret leaks from it."""
    with pytest.raises(InvalidRequest) as caught:
        validate_credentials(brokerage, data)
    error = caught.value
    shown = f"{error} {error.message} {error.errors!r} {error.args!r}"
    assert SECRET not in shown
    assert error.__cause__ is None and error.__context__ is None
    return error


def field_errors(brokerage: str, data: object) -> dict[str, list[str]]:
    error = rejected(brokerage, data)
    assert error.message == f"invalid credentials for {brokerage}"
    return error.errors["credentials"]


def test_registry_covers_all_autorsa_brokerages_and_paper() -> None:
    assert tuple(sorted(FIELDS)) == AUTORSA_BROKERAGES
    assert len(AUTORSA_BROKERAGES) == 16
    assert brokerage_names() == sorted([*FIELDS, "paper"])
    assert set(BROKERAGES) == {*FIELDS, "paper"}


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_brokerage_fields_are_in_autorsa_order(name: str) -> None:
    fields, optional = FIELDS[name]
    info = get_brokerage(name)
    assert info.name == name
    assert info.fields == fields
    schema = info.schema()
    assert tuple(schema.fields) == fields
    assert {f for f in fields if not schema.fields[f].required} == set(optional)


@pytest.mark.parametrize("name", sorted(BROKERAGES))
def test_optional_fields_only_come_last(name: str) -> None:
    # autorsa_entry leaves absent optional fields out; that is only positionally
    # safe while at most one optional field exists and it is the last one.
    schema = get_brokerage(name).schema()
    required = [schema.fields[f].required for f in get_brokerage(name).fields]
    assert required.count(False) <= 1
    assert required == sorted(required, reverse=True)


def test_brokerage_metadata() -> None:
    assert get_brokerage("public").env_var == "PUBLIC_BROKER"
    assert get_brokerage("wellsfargo").label == "WELLSFARGO"
    assert get_brokerage("robinhood").display_name == "Robinhood"
    assert {n for n, i in BROKERAGES.items() if i.browser} == {
        "chase",
        "fidelity",
        "schwab",
        "sofi",
        "tornado",
        "vanguard",
        "wellsfargo",
    }
    paper = get_brokerage("paper")
    assert (paper.env_var, paper.label, paper.fields) == (None, None, ("starting_cash",))
    for name in AUTORSA_BROKERAGES:
        info = get_brokerage(name)
        assert info.env_var and info.label and info.display_name


@pytest.mark.parametrize("name", ["Robinhood", "rh", "wf", "all", "", "nope", None, 3])
def test_get_brokerage_rejects_unknown_names_listing_valid_ones(name: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        get_brokerage(name)  # type: ignore[arg-type]
    (message,) = caught.value.errors["brokerage"]
    assert "robinhood" in message and "paper" in message and "wellsfargo" in message


def test_validate_credentials_unknown_brokerage() -> None:
    error = rejected("rh", {"username": "me", "password": SECRET})
    assert "brokerage" in error.errors


@pytest.mark.parametrize("data", [None, "user:pass", ["me", SECRET], 42])
def test_validate_credentials_rejects_non_objects(data: object) -> None:
    error = rejected("robinhood", data)
    assert error.errors == {"credentials": ["must be an object"]}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_credentials_accepted_and_joined(name: str) -> None:
    data, entry = VALID[name]
    cleaned = validate_credentials(name, data)
    assert cleaned == data
    assert list(cleaned) == [f for f in FIELDS[name][0] if f in data]
    assert autorsa_entry(name, cleaned) == entry


@pytest.mark.parametrize(
    ("name", "data", "entry"),
    [
        ("chase", {"username": "me", "password": "pw", "phone_last4": "1234", "debug": "true"},
         "me:pw:1234:true"),
        ("vanguard", {"username": "me", "password": "pw", "phone_last4": "9876"},
         "me:pw:9876"),
        ("fidelity", {"username": "me", "password": "pw", "totp_secret": "NA"}, "me:pw:NA"),
        ("fidelity", {"username": "me", "password": "pw", "totp_secret": None}, "me:pw"),
        ("robinhood", {"username": "me", "password": "pw", "totp_secret": "NA"}, "me:pw:NA"),
        ("sofi", {"username": "me", "password": "pw"}, "me:pw"),
        ("sofi", {"username": "me", "password": "pw", "totp_secret": "none"}, "me:pw:none"),
        ("schwab", {"username": "me", "password": "pw", "totp_secret": "JBSWY3DPEHPK3PXP"},
         "me:pw:JBSWY3DPEHPK3PXP"),
        ("bbae", {"username": "5551234567", "password": "pw"}, "5551234567:pw"),
        ("dspac", {"username": "me@example.com", "password": "pw"}, "me@example.com:pw"),
        ("firstrade", {"username": "me", "password": "pw", "second_factor": "5551234567"},
         "me:pw:5551234567"),
        ("firstrade", {"username": "me", "password": "pw", "second_factor": "me@example.com"},
         "me:pw:me@example.com"),
        ("firstrade", {"username": "me", "password": "pw", "second_factor": "JBSWY3DPEHPK3PXP"},
         "me:pw:JBSWY3DPEHPK3PXP"),
        ("tradier", {"access_token": "  tok en  "}, "tok en"),
        ("wellsfargo", {"username": " me ", "password": "p w", "phone_hint": "(555) 1234"},
         "me:p w:(555) 1234"),
    ],
)  # fmt: skip
def test_more_valid_credentials(name: str, data: dict, entry: str) -> None:
    assert autorsa_entry(name, validate_credentials(name, data)) == entry


@pytest.mark.parametrize(("name", "field"), REQUIRED)
def test_missing_required_field_rejected(name: str, field: str) -> None:
    data = {k: v for k, v in VALID[name][0].items() if k != field}
    errors = field_errors(name, data)
    assert list(errors) == [field]
    assert errors[field] == ["Missing data for required field."]


@pytest.mark.parametrize("value", [None, "", "   "])
@pytest.mark.parametrize(("name", "field"), REQUIRED)
def test_null_or_blank_required_field_rejected(name: str, field: str, value: object) -> None:
    data = {**VALID[name][0], field: value}
    errors = field_errors(name, data)
    assert list(errors) == [field]
    if value is not None:
        assert errors[field] == ["must not be empty"]


@pytest.mark.parametrize("value", [None, "", "  "])
@pytest.mark.parametrize(("name", "field"), OPTIONAL)
def test_null_or_blank_optional_field_is_absent(name: str, field: str, value: object) -> None:
    data = {**VALID[name][0], field: value}
    cleaned = validate_credentials(name, data)
    assert field not in cleaned
    assert autorsa_entry(name, cleaned).count(":") == len(FIELDS[name][0]) - 2


@pytest.mark.parametrize("name", sorted(BROKERAGES))
def test_unknown_field_rejected_naming_it(name: str) -> None:
    valid = VALID[name][0] if name in VALID else {}
    errors = field_errors(name, {**valid, "otp": SECRET})
    assert list(errors) == ["otp"]
    (message,) = errors["otp"]
    assert message.startswith(f"unknown field; {name} takes: ")


@pytest.mark.parametrize(("value", "problem"), UNEXPRESSIBLE)
@pytest.mark.parametrize(("name", "field"), ALL_FIELDS)
def test_value_autorsa_cannot_express_rejected(
    name: str, field: str, value: str, problem: str
) -> None:
    data = {**VALID[name][0], field: value}
    errors = field_errors(name, data)
    assert list(errors) == [field]
    assert any(problem in message for message in errors[field])


def test_value_length_limit_is_inclusive() -> None:
    at_limit = "a" * MAX_VALUE_LENGTH
    assert validate_credentials("tradier", {"access_token": at_limit}) == {"access_token": at_limit}
    errors = field_errors("tradier", {"access_token": at_limit + "a"})
    assert errors == {"access_token": [f"must be at most {MAX_VALUE_LENGTH} characters"]}


def test_colon_message_says_why() -> None:
    errors = field_errors("robinhood", {"username": "me", "password": f"a:{SECRET}"})
    assert errors["password"] == ["must not contain ':' (AutoRSA separates fields with ':')"]


def test_several_problems_reported_together() -> None:
    errors = field_errors("robinhood", {"username": "me", "password": f"a:{SECRET},\n"})
    assert len(errors["password"]) == 3


@pytest.mark.parametrize("value", [1234, 12.5, True, ["x"], {"a": "b"}])
def test_non_string_value_rejected(value: object) -> None:
    errors = field_errors("chase", {"username": "me", "password": SECRET, "phone_last4": value})
    assert errors == {"phone_last4": ["Not a valid string."]}


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("chase", "phone_last4", "NA"),
        ("chase", "phone_last4", "12345"),
        ("chase", "phone_last4", "123"),
        ("chase", "phone_last4", "12a4"),
        ("chase", "phone_last4", "\u0661\u0662\u0663\u0664"),  # Arabic-Indic digits
        ("chase", "debug", "false"),
        ("vanguard", "phone_last4", "NA"),
        ("vanguard", "debug", "1"),
        ("firstrade", "second_factor", "NA"),
        ("firstrade", "second_factor", "12345"),
        ("firstrade", "second_factor", "shortsecret"),
        ("firstrade", "second_factor", "not-an-email@"),
        ("fennel", "pat_token", "me@example.com"),
        ("fennel", "pat_token", f"{SECRET}@example.com"),
        ("public", "api_secret_key", f"{SECRET}@example.com"),
        ("tornado", "email", "not-an-email"),
        ("bbae", "username", "myname"),
        ("bbae", "username", "12345"),
        ("dspac", "username", "me@nowhere"),
        ("webull", "trading_pin", "12ab56"),
    ],
)
def test_bad_format_rejected(name: str, field: str, value: str) -> None:
    data = {**VALID[name][0], field: value}
    errors = field_errors(name, data)
    assert list(errors) == [field]
    assert value not in repr(errors)


def test_fennel_and_public_messages_explain_email_rejection() -> None:
    errors = field_errors("fennel", {"pat_token": "me@example.com"})
    assert "AutoRSA skips email logins for Fennel" in errors["pat_token"][0]
    errors = field_errors("public", {"api_secret_key": "me@example.com"})
    assert "AutoRSA skips email logins for Public" in errors["api_secret_key"][0]


def test_webull_needs_all_four_fields() -> None:
    errors = field_errors("webull", {"username": "me", "password": SECRET, "did": "abc"})
    assert list(errors) == ["trading_pin"]


def test_errors_never_echo_values() -> None:
    data = {"username": SECRET, "password": f"{SECRET}:", "phone_last4": SECRET, "x": SECRET}
    errors = field_errors("chase", data)  # checks every message and the error's repr
    assert set(errors) == {"password", "phone_last4", "x"}


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("1000", "1000"),
        ("2500.50", "2500.50"),
        (" 10 ", "10"),
        (25000, "25000"),
        (0.5, "0.5"),
        ("1e3", "1000"),
        ("1000000000", "1000000000"),
        (1e9, "1000000000.0"),
    ],
)
def test_paper_starting_cash_accepted(value: object, stored: str) -> None:
    assert validate_credentials("paper", {"starting_cash": value}) == {"starting_cash": stored}


@pytest.mark.parametrize("data", [{}, {"starting_cash": None}, {"starting_cash": " "}])
def test_paper_starting_cash_optional(data: dict) -> None:
    assert validate_credentials("paper", data) == {}


@pytest.mark.parametrize(
    "value",
    ["0", "-5", 0, -1, "1000000000.01", 2e9, "NaN", "inf", "abc", True, "1e10", "1" * 65],
)
def test_paper_starting_cash_rejected(value: object) -> None:
    errors = field_errors("paper", {"starting_cash": value})
    assert list(errors) == ["starting_cash"]


def test_autorsa_entry_refuses_paper() -> None:
    with pytest.raises(ValueError, match="not an AutoRSA brokerage"):
        autorsa_entry("paper", {})


def test_autorsa_entry_revalidates_stored_credentials() -> None:
    with pytest.raises(InvalidRequest) as caught:
        autorsa_entry("tradier", {"access_token": f"{SECRET},{SECRET}"})
    assert SECRET not in repr(caught.value.errors)
    assert caught.value.__context__ is None
