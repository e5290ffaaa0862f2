from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from api import deps
from api.resources import Blueprint, accepted
from api.schemas.accounts import AccountBulkSchema, AccountCreateSchema, AccountSchema
from api.schemas.common import JobAcceptedSchema
from api.schemas.jobs import RetryAcceptedSchema as JobsAcceptedSchema
from core.models import Account

blp = Blueprint(
    "accounts",
    __name__,
    url_prefix="/api/v1/groups/<string:group>/accounts",
    description="Brokerage accounts of a group",
)


@blp.route("")
class AccountList(MethodView):
    @blp.response(200, AccountSchema(many=True))
    @blp.alt_response(404, description="No such group")
    def get(self, group):
        """The group's accounts (never their credentials)."""
        deps.groups().get(group)
        return deps.accounts().list_group(group)

    @blp.arguments(AccountCreateSchema)
    @blp.response(202, JobAcceptedSchema)
    @blp.alt_response(404, description="No such group")
    @blp.alt_response(409, description="The account is pending or active, or has another brokerage")
    def post(self, data, group):
        """Add an account and queue its activation; it becomes active when the job succeeds."""
        submitted = deps.operations().add_account(
            group, data["name"], data["brokerage"], data["credentials"]
        )
        return accepted(submitted)


# A bulk import may be larger than the app's body limit (MAX_BODY_BYTES): 1,000 rows of
# credentials fit in this much, and its own schema bounds the rows.
BULK_BODY_BYTES = 2 * 1024 * 1024


@blp.before_request
def _bulk_body_limit() -> None:
    if request.endpoint == "accounts.AccountBulk":
        request.max_content_length = BULK_BODY_BYTES


@blp.route("/bulk")
class AccountBulk(MethodView):
    @blp.arguments(AccountBulkSchema)
    @blp.response(202, JobsAcceptedSchema)
    @blp.alt_response(404, description="No such group")
    def post(self, data, group):
        """Add many accounts at once, one activation job each; every row is checked first and
        nothing is imported when any row is wrong (422 naming each row and field)."""
        submitted = deps.operations().add_accounts(group, data["accounts"])
        return {"jobs": [accepted(s) for s in submitted]}


@blp.route("/<string:name>")
class AccountItem(MethodView):
    @blp.response(200, AccountSchema)
    @blp.alt_response(404, description="No such group or account")
    def get(self, group, name):
        """One account."""
        deps.groups().get(group)
        return deps.accounts().get(group, name)

    @blp.response(204)
    @blp.alt_response(404, description="No such group or account")
    def delete(self, group, name):
        """Delete the account and wipe its credentials now."""
        deps.operations().delete_account(group, name)


@blp.route("/<string:name>/deactivate")
class AccountDeactivation(MethodView):
    @blp.response(202, JobAcceptedSchema, description="Deactivation job queued")
    @blp.alt_response(
        200,
        schema=AccountSchema,
        description="The account is inactive already: nothing is queued; the account as it is",
    )
    @blp.alt_response(404, description="No such group or account")
    def post(self, group, name):
        """Queue the account's deactivation: it leaves the group's orders.

        An account that is inactive already answers 200 with the account, and no job.
        """
        result = deps.operations().deactivate_account(group, name)
        if isinstance(result, Account):
            return jsonify(AccountSchema().dump(result))
        return accepted(result)
