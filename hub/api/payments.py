"""Webhooks of payment providers: `POST /payments/stripe/webhook`, Stripe's events about card payments.

Outside /api/v1 (Stripe is not an API client of the hub) and outside the page blueprints: no CSRF
token (the request comes from Stripe, proven by its `Stripe-Signature`) and no rate limit (Stripe
retries what fails; refusing it would only delay payments). Every failure is JSON
`{"error": {"code", "message"}}`: a signature that does not verify is 400 and changes nothing.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from ..db import get_db
from ..services import orders as order_service
from ..services import seatmap
from ..services.errors import NotFound, ServiceError
from ..services.payments import online
from .errors import error_response
from .util import payment_providers, signer

log = logging.getLogger(__name__)
bp = Blueprint("payments", __name__, url_prefix="/payments")


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    return error_response(exc.status, exc.code, exc.message)


@bp.post("/stripe/webhook")
def stripe_webhook():
    provider = online(payment_providers().get("card"))
    if provider is None:
        raise NotFound("card payments are not configured on this hub", "payments_not_configured")
    event = provider.parse_event(request.get_data(cache=False), request.headers.get("Stripe-Signature"))
    result = order_service.apply_payment_event(get_db(), provider, event, signer())
    if result.event_id is not None and result.outcome in ("paid", "refunded", "refunded_late"):
        # an expired order paid takes its seats back; a whole refund (or a cancelled wrong sum) frees them
        seatmap.changed(result.event_id)
    log.info("Stripe event %s (%s) for order %s: %s", event.id, event.type, result.order_id, result.outcome)
    return jsonify({"received": True, "outcome": result.outcome})
