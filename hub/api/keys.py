"""The public keyring gates use to verify tickets (a signed document; no secrets)."""

from flask import Blueprint, current_app, jsonify

bp = Blueprint("keys", __name__)


@bp.get("/keyring")
def keyring():
    return jsonify(current_app.extensions["tickethub.keys"].keyring_document())
