"""The web dashboard at ``/``: one server-rendered page and its script, served by the app.

The page holds the forms and tables; ``static/dashboard.js`` signs in with an API key
(kept in ``sessionStorage`` only), calls the REST API with it and follows ``/ws``.
Nothing is loaded from another site.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

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
    response = render_template("dashboard.html")
    return response, 200, {"Content-Security-Policy": _CSP, "Cache-Control": "no-store"}


# Only this app's own files: no inline script, no other origin.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
