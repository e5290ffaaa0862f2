from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from api import deps, operations
from api.resources import Blueprint
from api.schemas.accounts import AccountCreateSchema, AccountSchema
from api.schemas.common import JobAcceptedSchema
from core.models import Job

blp = Blueprint(
    "accounts",
    __name__,
    url_prefix="/api/v1/groups/<string:group>/accounts",
    description="Brokerage accounts of a group",
)


def accepted(job: Job) -> dict:
    """The 202 body of an enqueued job."""
    return {
        "job_id": job.id,
        "status_url": url_for("jobs.JobItem", job_id=job.id, _external=False),
        "state": job.state.value,
    }


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
        job = operations.add_account(group, data["name"], data["brokerage"], data["credentials"])
        return accepted(job)


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
        operations.delete_account(group, name)


@blp.route("/<string:name>/deactivate")
class AccountDeactivation(MethodView):
    @blp.response(202, JobAcceptedSchema)
    @blp.alt_response(404, description="No such group or account")
    def post(self, group, name):
        """Queue the account's deactivation: it leaves the group's orders."""
        return accepted(operations.deactivate_account(group, name))
