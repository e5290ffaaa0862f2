"""The web dashboard at ``/``: one server-rendered page and its script, served by the app.

The page holds the forms and tables; ``static/dashboard.js`` signs in with an API key
(kept in ``sessionStorage`` only), calls the REST API with it and follows ``/ws``;
``static/common.js`` holds what the page scripts share, ``holdings.js`` the Fleet page's
holdings, ``jobs.js``, ``trade.js``, ``accounts.js`` and ``market.js`` one page each,
``strategies.js`` and ``backtests.js`` the Strategies page. Nothing is loaded from another site.

The Strategies page's forms are rendered here from the strategy registry: one field per
declared parameter, with its range and default (the built-ins and the user strategies
loaded at start).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template

from api.schemas.backtests import MAX_INLINE_BYTES
from ingest.providers.base import INTERVALS
from strategies import Param, registry
from strategies.backtest_runs import RANK_METRICS

STATIC_URL = "/dashboard/static"

blp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path=STATIC_URL,
)


@blp.get("/")
def index():
    """The dashboard (public: the data behind it needs the API key)."""
    response = render_template(
        "dashboard.html",
        strategies=strategy_catalogue(),
        intervals=list(INTERVALS),
        rank_metrics=RANK_METRICS,
        max_inline_bytes=MAX_INLINE_BYTES,
    )
    return response, 200, {"Content-Security-Policy": _CSP, "Cache-Control": "no-store"}


# Only this app's own files: no inline script, no other origin.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def strategy_catalogue() -> list[dict[str, Any]]:
    """Every registered strategy, its summary and its parameters, for the page's forms."""
    catalogue = []
    for name in registry.names():
        cls = registry.get(name)
        params = [_param(key, spec) for key, spec in cls.params.items()]
        catalogue.append({"name": name, "summary": cls.summary(), "params": params})
    return catalogue


def _param(name: str, spec: Param) -> dict[str, Any]:
    kind = spec.kind.__name__  # int, float or bool
    if kind == "bool":
        default = "true" if spec.default else "false"
        rule = f"true or false; default {default}"
    else:
        default = f"{spec.default:g}" if kind == "float" else str(spec.default)
        what = "a whole number" if kind == "int" else "a number"
        if spec.low is not None and spec.high is not None:
            what += f" from {spec.low:g} to {spec.high:g}"
        elif spec.low is not None:
            what += f" of at least {spec.low:g}"
        elif spec.high is not None:
            what += f" of at most {spec.high:g}"
        rule = f"{what}; default {default}"
    if spec.help:
        rule = f"{spec.help} ({rule})"
    return {"name": name, "kind": kind, "default": default, "rule": rule}


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
