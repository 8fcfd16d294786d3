"""/api/v1/openapi.json and /api/v1/me."""
from flask import Blueprint, current_app, jsonify

from .openapi import openapi_document
from .util import current_user
from .errors import ApiError

bp = Blueprint("meta", __name__)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(_area_paths()))


def _area_paths() -> dict:
    """Paths documented by other areas: a module-level OPENAPI_PATHS dict in each blueprint's module."""
    import sys

    extra: dict = {}
    for blueprint in current_app.blueprints.values():
        extra.update(getattr(sys.modules.get(blueprint.import_name), "OPENAPI_PATHS", {}))
    return extra


@bp.get("/me")
def me():
    user = current_user()
    if user is None:
        raise ApiError(401, "unauthorized", "this route needs an API token", {"WWW-Authenticate": "Bearer"})
    return jsonify(user)
