from __future__ import annotations

from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from api.schemas.groups import GroupCreateSchema, GroupSchema
from core.models import Group
from tasks.routing import group_queue

blp = Blueprint("groups", __name__, url_prefix="/api/v1/groups", description="Account groups")


def _view(group: Group) -> dict:
    accounts = [a.name for a in deps.accounts().list_group(group.name)]
    return {
        "name": group.name,
        "queue": group_queue(group.name),
        "accounts": accounts,
        "created_at": group.created_at,
    }


@blp.route("")
class GroupList(MethodView):
    @blp.response(200, GroupSchema(many=True))
    def get(self):
        """Every group."""
        return [_view(g) for g in deps.groups().list_all()]

    @blp.arguments(GroupCreateSchema)
    @blp.response(201, GroupSchema)
    @blp.alt_response(409, description="A group of that name exists")
    def post(self, data):
        """Create a group (and its queue, which running workers start consuming)."""
        return _view(deps.operations().create_group(data["name"]))


@blp.route("/<string:name>")
class GroupItem(MethodView):
    @blp.response(200, GroupSchema)
    @blp.alt_response(404, description="No such group")
    def get(self, name):
        """One group."""
        return _view(deps.groups().get(name))

    @blp.response(204)
    @blp.alt_response(404, description="No such group")
    @blp.alt_response(409, description="The group has unfinished jobs")
    def delete(self, name):
        """Delete a group: its accounts, credentials and paper ledgers at once, and its
        schedules, strategy subscriptions, risk rules and notification targets.

        Its jobs stay readable (marked `group_deleted`) for `JOB_RETENTION_DAYS`.
        """
        deps.operations().delete_group(name)
