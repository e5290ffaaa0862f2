"""Swagger UI's files for ``/docs``, served by the app itself so the page works offline.

The files come from the ``swagger-ui-bundle`` package (Swagger UI, Apache-2.0; its
licence ships with the package), pinned in setup.cfg. flask-smorest's ``/docs`` page
loads ``swagger-ui-bundle.js``, ``swagger-ui-standalone-preset.js`` and
``swagger-ui.css`` from ``OPENAPI_SWAGGER_UI_URL``, which points here.
"""

from __future__ import annotations

from flask import Blueprint, Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/docs/assets/"

blp = Blueprint("swagger_ui_assets", __name__)


@blp.route(ASSETS_URL + "<path:filename>")
def asset(filename: str):
    """One file of Swagger UI (404 for anything the package does not ship)."""
    return send_from_directory(swagger_ui_path, filename, max_age=3600)


def init_app(app: Flask) -> None:
    """Serve the files; ``create_app`` sets ``OPENAPI_SWAGGER_UI_URL`` to ``ASSETS_URL``."""
    app.register_blueprint(blp)
