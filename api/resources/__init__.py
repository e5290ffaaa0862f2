"""One flask-smorest blueprint per resource."""

from __future__ import annotations

import flask_smorest

from api.errors import JsonParser


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, reading JSON bodies with :class:`api.errors.JsonParser`."""

    ARGUMENTS_PARSER = JsonParser()
