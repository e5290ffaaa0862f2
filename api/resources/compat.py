"""Routes of the older Trading-Automation-Main API, mapped onto the same jobs.

Old clients keep working: ``POST /createGroup?group_name=``, ``POST /activate``
(JSON with ``cred{USERNAME, PASSWORD, TOTP_OR_NA}``), ``POST
/deactivate?group_name=&account_name=``, ``POST /transaction?group_name=``.
They need the same API key as ``/api/v1``. Unlike the old service, activation
and orders are queued (202 with a job) and orders are dry runs unless
``dry_run=false`` is given.
"""

from __future__ import annotations

import marshmallow as ma
from flask import jsonify
from flask.views import MethodView
from flask_smorest import abort

from api import deps
from api.resources import Blueprint, accepted
from api.schemas.common import DecimalNumber, StrictSchema, Symbol
from api.schemas.transactions import IdempotencyHeaderSchema
from brokers.credentials import BROKERAGES, get_brokerage
from core import money
from core.errors import AlreadyExists, InvalidRequest
from core.models import Account, OrderRequest

blp = Blueprint("compat", __name__, description="Compatibility routes of the older API")

COMPAT_PATHS = frozenset({"/createGroup", "/activate", "/deactivate", "/transaction"})


class GroupQuery(ma.Schema):
    group_name = ma.fields.String(required=True)


class DeactivateQuery(ma.Schema):
    group_name = ma.fields.String(required=True)
    account_name = ma.fields.String(required=True)


class TransactionQuery(ma.Schema):
    group_name = ma.fields.String(required=True)
    action = ma.fields.String(load_default="buy", validate=ma.validate.OneOf(["buy", "sell"]))
    amount = DecimalNumber(
        load_default=1,
        places=money.QUANTITY_PLACES,
        validate=ma.validate.Range(min=0, min_inclusive=False, max=1_000_000),
    )
    ticker = Symbol(load_default="AAPL")
    dry_run = ma.fields.Boolean(load_default=True)


class CredSchema(ma.Schema):
    USERNAME = ma.fields.String(required=True)
    PASSWORD = ma.fields.String(required=True)
    TOTP_OR_NA = ma.fields.String(load_default="NA")


class ActivationSchema(StrictSchema):
    group_name = ma.fields.String(required=True)
    account_name = ma.fields.String(required=True)
    brokerage = ma.fields.String(required=True, metadata={"example": "Robinhood"})
    cred = ma.fields.Nested(CredSchema, required=True)


class OldJobSchema(ma.Schema):
    accountId = ma.fields.String()
    status = ma.fields.Boolean()
    message = ma.fields.String(allow_none=True)
    job_id = ma.fields.String(required=True)
    status_url = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    dispatch = ma.fields.String(required=True)


def credentials_from_old(brokerage: str, cred: dict) -> dict[str, str]:
    """Map ``USERNAME/PASSWORD/TOTP_OR_NA`` onto the brokerage's own fields (in AutoRSA order)."""
    info = BROKERAGES[brokerage]
    if info.env_var is None:  # not an AutoRSA brokerage (paper): no old-API credentials
        return {}
    fields = info.fields
    if len(fields) == 1:  # a token-only brokerage: the old API put the token in PASSWORD
        return {fields[0]: cred["PASSWORD"] or cred["USERNAME"]}
    values = [cred["USERNAME"], cred["PASSWORD"], cred.get("TOTP_OR_NA") or "NA"]
    # A fourth field (Webull) cannot be carried by the old API: validation names it.
    mapped = dict(zip(fields, values, strict=False))
    if len(fields) >= 3 and mapped.get(fields[2]) == "NA" and _third_optional(brokerage):
        mapped.pop(fields[2])
    return mapped


def _third_optional(brokerage: str) -> bool:
    schema = BROKERAGES[brokerage].schema()
    third = BROKERAGES[brokerage].fields[2]
    return not schema.fields[third].required


def _canonical_brokerage(name: str) -> str:
    return get_brokerage(name.replace(" ", "").replace("_", "").lower()).name


@blp.route("/createGroup")
class CreateGroup(MethodView):
    @blp.arguments(GroupQuery, location="query")
    @blp.response(200, description='The text "Group created"')
    @blp.alt_response(400, description="The group exists")
    def post(self, query):
        """Create a group (old API: 400 when it exists)."""
        try:
            deps.operations().create_group(query["group_name"])
        except AlreadyExists:
            abort(400, message="Group already exists")
        return "Group created"


@blp.route("/activate")
class Activate(MethodView):
    @blp.arguments(ActivationSchema)
    @blp.response(202, OldJobSchema)
    @blp.alt_response(404, description="No such group")
    @blp.alt_response(409, description="The account is pending or active, or has another brokerage")
    def post(self, data):
        """Add an account and queue its activation."""
        brokerage = _canonical_brokerage(data["brokerage"])
        credentials = credentials_from_old(brokerage, data["cred"])
        try:
            submitted = deps.operations().add_account(
                data["group_name"], data["account_name"], brokerage, credentials
            )
        except InvalidRequest as exc:
            raise InvalidRequest(
                exc.message
                + " (old-API cred fields USERNAME/PASSWORD/TOTP_OR_NA map to: "
                + ", ".join(BROKERAGES[brokerage].fields)
                + ")",
                errors=exc.errors,
            ) from None
        return {"accountId": data["account_name"], **accepted(submitted)}


@blp.route("/deactivate")
class Deactivate(MethodView):
    @blp.arguments(DeactivateQuery, location="query")
    @blp.response(202, OldJobSchema)
    @blp.alt_response(200, description="The account is inactive already: nothing is queued")
    @blp.alt_response(404, description="No such group or account")
    def post(self, query):
        """Queue an account's deactivation."""
        submitted = deps.operations().deactivate_account(query["group_name"], query["account_name"])
        if isinstance(submitted, Account):  # inactive already: nothing queued
            return jsonify({"status": True, "message": "the account is inactive already"})
        return {"status": True, "message": None, **accepted(submitted)}


@blp.route("/transaction")
class Transaction(MethodView):
    @blp.arguments(TransactionQuery, location="query")
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(202, OldJobSchema)
    @blp.alt_response(404, description="No such group")
    def post(self, query, headers):
        """Queue an order (old API default: buy 1 AAPL; here a dry run unless dry_run=false)."""
        order = OrderRequest.from_dict(
            {
                "action": query["action"],
                "symbols": [query["ticker"]],
                "quantity": query["amount"],
                "dry_run": query["dry_run"],
            }
        )
        submitted = deps.operations().submit_order(
            query["group_name"], order, headers.get("idempotency_key")
        )
        return {"status": True, "message": None, **accepted(submitted)}
