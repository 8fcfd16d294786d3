"""The `card` payment method through Stripe (the official `stripe` SDK), an online PaymentProvider.

Each hub app has its own `StripeClient` (its key and, for tests and `make demo`, the `localstripe`
address in STRIPE_API_BASE): nothing is set on the SDK's module-wide globals, so two apps in one
process never share keys.

The flow: the order is placed pending, then `open` creates a PaymentIntent for its total (idempotency
key derived from the order, so a retry never opens a second one). The buyer's browser turns the card
into a token with Stripe.js (`stripe.createToken`: the card number goes from the browser to Stripe,
never to the hub) and the hub confirms the PaymentIntent with it (`pay_with_token`); if the bank asks
for 3-D Secure the browser finishes with `stripe.confirmCardPayment(client_secret)`. Stripe's
webhooks (`parse_event`) are what marks the order paid. This token flow is what both Stripe and
localstripe's fake Stripe.js implement.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import stripe

from .errors import Invalid
from .payments import BadWebhook, Intent, PaymentDeclined, PaymentEvent, PaymentUnavailable, RefundResult

log = logging.getLogger(__name__)

STRIPE_API = "https://api.stripe.com"
STRIPE_JS = "https://js.stripe.com/v3/"
# localstripe serves its fake Stripe.js under this path of its own address
LOCALSTRIPE_JS_PATH = "/js.stripe.com/v3/"


class StripeCard:
    name = "card"

    def __init__(self, secret_key: str, publishable_key: str, webhook_secret: str, api_base: str = ""):
        self.publishable_key = publishable_key
        self._webhook_secret = webhook_secret
        base = api_base.rstrip("/")
        self.api_origin = base or STRIPE_API
        self.script_url = base + LOCALSTRIPE_JS_PATH if base else STRIPE_JS
        addresses = {"api": base} if base else None
        # Retries (with the same idempotency key) ride out a dropped connection; a webhook or a buyer waits.
        self._client = stripe.StripeClient(secret_key, base_addresses=addresses, max_network_retries=2)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StripeCard:
        return cls(
            config["STRIPE_SECRET_KEY"],
            config["STRIPE_PUBLISHABLE_KEY"],
            config.get("STRIPE_WEBHOOK_SECRET", ""),
            config.get("STRIPE_API_BASE", ""),
        )

    @property
    def script_origin(self) -> str:
        parts = urlsplit(self.script_url)
        return f"{parts.scheme}://{parts.netloc}"

    def start(self, total: int, currency: str) -> str:
        if total <= 0:
            raise Invalid("a card payment needs a total above zero: choose free", "payment_not_needed")
        return "pending"

    def open(self, order_id: int, total: int, currency: str, idempotency_key: str) -> Intent:
        with _provider_errors("open the card payment"):
            intent = self._client.v1.payment_intents.create(
                {
                    "amount": total,
                    "currency": currency.lower(),
                    "payment_method_types": ["card"],
                    "metadata": {"order_id": str(order_id)},
                },
                {"idempotency_key": idempotency_key},
            )
        return _intent(intent)

    def intent(self, ref: str) -> Intent:
        with _provider_errors("read the card payment"):
            return _intent(self._client.v1.payment_intents.retrieve(ref))

    def pay_with_token(self, ref: str, token: str) -> Intent:
        with _provider_errors("take the card payment"):
            card = self._client.v1.tokens.retrieve(token).card
            if card is None:
                raise Invalid("that token holds no card", "bad_card_token")
            # The card goes on the PaymentIntent first, then it is confirmed: the two-step way that Stripe
            # and localstripe both accept for a token's card.
            self._client.v1.payment_intents.update(ref, {"payment_method": card.id})
            return _intent(self._client.v1.payment_intents.confirm(ref))

    def cancel(self, ref: str) -> None:
        with _provider_errors("cancel the card payment"):
            try:
                self._client.v1.payment_intents.cancel(ref)
            except stripe.InvalidRequestError:
                # already cancelled, or it succeeded meanwhile (its webhook refunds it): nothing left to cancel
                if self._client.v1.payment_intents.retrieve(ref).status not in ("canceled", "succeeded"):
                    raise

    def refund(self, ref: str, amount: int | None, idempotency_key: str) -> RefundResult:
        params: dict[str, Any] = {"payment_intent": ref}
        if amount is not None:
            params["amount"] = amount
        with _provider_errors("refund the card payment"):
            refund = self._client.v1.refunds.create(params, {"idempotency_key": idempotency_key})
            if refund.status != "succeeded":  # pending at the bank: charge.refunded will say when it is done
                return RefundResult(False, 0)
            intent = self._client.v1.payment_intents.retrieve(ref, {"expand": ["latest_charge"]})
        return RefundResult(True, int(intent.latest_charge.amount_refunded))

    def parse_event(self, payload: bytes, signature: str | None) -> PaymentEvent:
        if not self._webhook_secret:
            raise BadWebhook("this hub has no Stripe webhook secret configured", "webhook_not_configured")
        try:
            event = self._client.construct_event(payload, signature or "", self._webhook_secret)
        except stripe.SignatureVerificationError:
            raise BadWebhook("the Stripe-Signature does not verify", "bad_signature") from None
        except ValueError:
            raise BadWebhook("the webhook body is not a Stripe event", "malformed_event") from None
        try:
            return _event(event)
        except (AttributeError, KeyError, TypeError, ValueError):  # signed, but not an event's shape
            raise BadWebhook("the webhook body is not a Stripe event", "malformed_event") from None


def _intent(intent) -> Intent:
    return Intent(intent.id, intent.client_secret or "", intent.status)


def _order_id(obj: dict) -> int | None:
    raw = str((obj.get("metadata") or {}).get("order_id") or "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _event(event) -> PaymentEvent:
    obj = event.data.object.to_dict()  # plain data: fields an older API version lacks are simply absent
    if event.type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        failure = obj.get("last_payment_error") or {}
        return PaymentEvent(
            id=event.id,
            type=event.type,
            kind="succeeded" if event.type == "payment_intent.succeeded" else "failed",
            ref=obj.get("id"),
            amount=int(obj.get("amount_received") or obj.get("amount") or 0),
            currency=str(obj.get("currency") or "").upper(),
            message=str(failure.get("message") or "The card payment did not go through."),
            order_id=_order_id(obj),
        )
    if event.type == "charge.refunded":
        return PaymentEvent(
            id=event.id,
            type=event.type,
            kind="refunded",
            ref=obj.get("payment_intent"),
            amount_refunded=int(obj.get("amount_refunded") or 0),
            currency=str(obj.get("currency") or "").upper(),
        )
    return PaymentEvent(id=event.id, type=event.type, kind="other")


@contextmanager
def _provider_errors(doing: str):
    """Stripe's errors as the hub's: a declined card is the buyer's 402, anything else a 502 (logged)."""
    try:
        yield
    except stripe.CardError as exc:
        raise PaymentDeclined(exc.user_message or "Your card was declined.", exc.code or "card_declined") from exc
    except stripe.StripeError as exc:
        log.warning("Stripe refused to %s: %s", doing, exc)
        raise PaymentUnavailable(f"could not {doing} with Stripe; try again shortly") from exc
