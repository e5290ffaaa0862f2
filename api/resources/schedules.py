from __future__ import annotations

from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from api.schemas.schedules import ScheduleCreateSchema, ScheduleSchema
from core.models import OrderRequest
from tasks.schedules import ScheduleBook

blp = Blueprint(
    "schedules",
    __name__,
    url_prefix="/api/v1/groups/<string:group>/schedules",
    description="Orders placed at a time or on a rule, from the beat schedule",
)

_WHEN = ("at", "cron", "timezone", "market_days_only", "every_session")


def _book() -> ScheduleBook:
    return ScheduleBook(deps.connection(), deps.settings())


@blp.route("")
class Schedules(MethodView):
    @blp.response(200, ScheduleSchema(many=True))
    @blp.alt_response(404, description="No such group")
    def get(self, group):
        """The group's scheduled orders, each with its next occurrence and last runs."""
        deps.groups().get(group)
        return _book().list_group(group)

    @blp.arguments(ScheduleCreateSchema)
    @blp.response(201, ScheduleSchema)
    @blp.alt_response(404, description="No such group")
    def post(self, data, group):
        """Schedule an order: `at` (once, or a session moment such as `close-10m`, with
        `every_session` at each session) or `cron` in `timezone`; each run creates a normal
        job of the group (risk rules apply then); a run later than SCHEDULE_GRACE_SECONDS
        (beat was down) is recorded as missed, never placed late."""
        deps.groups().get(group)
        when = {name: data.pop(name) for name in _WHEN}
        return _book().create(group, OrderRequest.from_dict(data), when)


@blp.route("/<string:schedule_id>")
class ScheduleItem(MethodView):
    @blp.response(204)
    @blp.alt_response(404, description="No such group or schedule")
    def delete(self, group, schedule_id):
        """Remove the schedule from the beat schedule; jobs it created stay."""
        deps.groups().get(group)
        _book().delete(group, schedule_id)
