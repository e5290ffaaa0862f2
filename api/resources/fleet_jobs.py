from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Page

from api import deps
from api.resources import Blueprint
from api.schemas.jobs import JobSchema
from core.models import JobKind, JobState, ResultStatus

blp = Blueprint("fleet_jobs", __name__, url_prefix="/api/v1", description="Jobs across the fleet")


class JobQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    group = ma.fields.String(load_default=None, metadata={"description": "only this group"})
    state = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([s.value for s in JobState])),
        load_default=list,
        metadata={"description": "only jobs in these states"},
    )
    kind = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([k.value for k in JobKind])),
        load_default=list,
        metadata={"description": "only jobs of these kinds"},
    )
    since = ma.fields.AwareDateTime(
        load_default=None, metadata={"description": "only jobs created since (ISO, with zone)"}
    )
    result_status = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf([s.value for s in ResultStatus]),
        metadata={"description": "only jobs with at least one result of this status"},
    )


@blp.route("/jobs")
class FleetJobs(MethodView):
    @blp.arguments(JobQuerySchema, location="query")
    @blp.response(200, JobSchema(many=True))
    @blp.alt_response(404, description="No such group")
    @blp.paginate(Page)
    def get(self, query):
        """Jobs of every group (or one), newest first, filtered: e.g. every job with an
        `unknown` result today is `?result_status=unknown&since=<today>`. Paginated
        (`page`, `page_size`; `X-Pagination`)."""
        if query["group"]:
            deps.groups().get(query["group"])
        groups = [query["group"]] if query["group"] else deps.groups().names()
        return deps.jobs().search(
            groups,
            since=query["since"],
            states=frozenset(query["state"]),
            kinds=frozenset(query["kind"]),
            result_status=query["result_status"],
        )
