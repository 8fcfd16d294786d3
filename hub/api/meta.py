"""/api/v1/openapi.json and /api/v1/me."""

from flask import Blueprint, jsonify

from .errors import ApiError
from .openapi import openapi_document
from .util import current_user

bp = Blueprint("meta", __name__)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/me")
def me():
    user = current_user()
    if user is None:
        raise ApiError(401, "unauthorized", "this route needs an API token", {"WWW-Authenticate": "Bearer"})
    return jsonify(user)
