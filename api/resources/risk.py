from __future__ import annotations

from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from api.schemas.risk import RiskEventSchema, RiskRulesSchema
from strategies.risk import RiskBook, RiskRules

blp = Blueprint(
    "risk",
    __name__,
    url_prefix="/api/v1/groups/<string:group>/risk",
    description="Risk rules of a group, checked at submission and again before a leg runs",
)


@blp.route("")
class Risk(MethodView):
    @blp.response(200, RiskRulesSchema)
    @blp.alt_response(404, description="No such group")
    def get(self, group):
        """The group's risk rules (none set: every valid order is accepted)."""
        deps.groups().get(group)
        return RiskBook(deps.connection()).rules(group)

    @blp.arguments(RiskRulesSchema)
    @blp.response(200, RiskRulesSchema)
    @blp.alt_response(404, description="No such group")
    def put(self, data, group):
        """Replace the group's risk rules; they apply to orders submitted from now on and to
        legs that have not started placing yet."""
        deps.groups().get(group)
        return RiskBook(deps.connection()).set_rules(group, RiskRules(**data))


@blp.route("/events")
class RiskEvents(MethodView):
    @blp.response(200, RiskEventSchema(many=True))
    @blp.alt_response(404, description="No such group")
    def get(self, group):
        """The group's last refusals by a risk rule, newest first (at most 100)."""
        deps.groups().get(group)
        return RiskBook(deps.connection()).events(group)
