from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

import brokers.schwab
from api import deps
from api.resources import Blueprint
from core.connection import REDIS_DOWN_ERRORS
from core.workers import live_workers
from ingest.store import InfluxUnavailable, detect_version

blp = Blueprint("health", __name__, url_prefix="/health", description="Liveness for load balancers")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "ok or degraded"})
    redis = ma.fields.String(required=True, metadata={"description": "ok or down"})
    workers = ma.fields.Integer(
        required=True,
        metadata={"description": "workers that consumed a heartbeat in the last 45 s"},
    )
    schwab = ma.fields.String(
        metadata={
            "description": "Schwab login: off, ok, or missing, expiring, expired, rejected (a "
            "person must log in: see /api/v1/brokers/schwab/status)"
        }
    )
    market_history = ma.fields.String(
        metadata={
            "description": "InfluxDB: ok, off (no INFLUX_URL: quotes live in Redis only) or down"
        }
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
        history = _market_history()
        status = "ok" if workers and history != "down" else "degraded"
        schwab = brokers.schwab.status(connection, deps.settings())
        if schwab.degraded:  # a person must log in (soon)
            status = "degraded"
        return {
            "status": status,
            "redis": "ok",
            "workers": workers,
            "market_history": history,
            "schwab": schwab.state.value,
        }


def _market_history() -> str:
    """``off`` without ``INFLUX_URL``; else whether InfluxDB answers ``/ping``."""
    url = deps.settings().influx_url
    if not url:
        return "off"
    try:
        detect_version(url, timeout=1.0)
    except InfluxUnavailable:
        return "down"
    return "ok"
