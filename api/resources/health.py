from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from api import deps
from api.resources import Blueprint
from core.connection import REDIS_DOWN_ERRORS
from core.workers import live_workers

blp = Blueprint("health", __name__, url_prefix="/health", description="Liveness for load balancers")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "ok or degraded"})
    redis = ma.fields.String(required=True, metadata={"description": "ok or down"})
    workers = ma.fields.Integer(
        required=True,
        metadata={"description": "workers that consumed a heartbeat in the last 45 s"},
    )


@blp.route("")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="Redis is down")
    def get(self):
        """Is the API up, is Redis reachable, how many workers consume."""
        try:
            connection = deps.connection()
            connection.ping()
            workers = len(live_workers(connection))
        except REDIS_DOWN_ERRORS:
            return {"status": "degraded", "redis": "down", "workers": 0}, 503
        status = "ok" if workers else "degraded"
        return {"status": status, "redis": "ok", "workers": workers}
