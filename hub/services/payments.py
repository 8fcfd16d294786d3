"""Payment providers. An order asks its provider to start payment; the provider
says whether the order is paid now or pending (to be confirmed later).

`free`: only for orders totalling 0. `box_office`: paid at the counter; staff
confirm it with `orders.confirm_payment`. `card` (hub/services/stripe_card.py):
an online provider, paid with an outside service after the order is placed; the
service tells the hub what happened (webhooks, `PaymentEvent`), and refunds go
back through it. Another online provider (Mollie, Adyen, ...) is one module with
the `OnlinePayment` methods, added in `providers_for`.

Which providers a hub offers depends on its configuration (card needs keys), so
each app has its own table: `providers_for(config)`, kept in
`app.extensions["tickethub.payments"]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .errors import Invalid, ServiceError


class PaymentProvider(Protocol):
    name: str

    def start(self, total: int, currency: str) -> str:
        """Return "paid" or "pending"; raise Invalid to refuse."""


@dataclass(frozen=True)
class Intent:
    """A payment opened with an online provider: its id there, the secret the buyer's browser (or app)
    pays it with, and its state there."""

    ref: str
    client_secret: str
    status: str


@dataclass(frozen=True)
class RefundResult:
    """A refund asked of the provider: `done` once the provider says the money went back, and then
    `amount_refunded`, the payment's whole refunded amount so far (minor units)."""

    done: bool
    amount_refunded: int


@dataclass(frozen=True)
class PaymentEvent:
    """What an online provider told the hub (a verified webhook), in the hub's words.

    kind: "succeeded" (the payment `ref` took `amount` `currency`), "failed" (`message` says why),
    "refunded" (`amount_refunded` in all so far), or "other" (nothing for the hub to do)."""

    id: str
    type: str
    kind: str
    ref: str | None = None
    amount: int = 0
    currency: str = ""
    amount_refunded: int = 0
    message: str = ""
    order_id: int | None = None  # the hub order the payment was opened for (its metadata)


class PaymentUnavailable(ServiceError):
    """The payment provider could not be reached or refused the request: nothing was charged."""

    status = 502
    code = "payment_provider_error"


class BadWebhook(ServiceError):
    """A webhook that does not verify (signature, secret) or is not an event: refused, nothing changes."""

    status = 400
    code = "bad_signature"


class PaymentDeclined(ServiceError):
    """The buyer's bank or the provider declined this attempt; the order stays pending for another try."""

    status = 402
    code = "payment_declined"


@runtime_checkable
class OnlinePayment(Protocol):
    """A provider the buyer pays after the order is placed (card). Every call may raise PaymentUnavailable."""

    name: str
    publishable_key: str  # what the buyer's browser (Stripe.js) identifies the hub's account with
    script_url: str  # the provider's browser library
    api_origin: str  # where that library connects to (the page's Content-Security-Policy allows it)

    def start(self, total: int, currency: str) -> str: ...

    def open(self, order_id: int, total: int, currency: str, idempotency_key: str) -> Intent:
        """Open a payment of `total` for the order (the same key gives the same payment)."""

    def intent(self, ref: str) -> Intent: ...

    def pay_with_token(self, ref: str, token: str) -> Intent:
        """Pay `ref` with a card token made by the provider's browser library; raise PaymentDeclined."""

    def cancel(self, ref: str) -> None:
        """Close an unpaid payment so it can no longer be paid; one already closed or already paid (its
        succeeded webhook refunds it) is not an error."""

    def refund(self, ref: str, amount: int | None, idempotency_key: str) -> RefundResult:
        """Give back `amount` (None: all that is left) of the paid payment `ref`."""

    def parse_event(self, payload: bytes, signature: str | None) -> PaymentEvent:
        """Verify a webhook's signature and read it; raise BadWebhook when it does not verify."""


class FreePayment:
    name = "free"

    def start(self, total: int, currency: str) -> str:
        if total != 0:
            raise Invalid("this order costs money: choose a payment method other than free", "payment_required")
        return "paid"


class BoxOfficePayment:
    name = "box_office"

    def start(self, total: int, currency: str) -> str:
        return "pending"


# The providers every hub has; providers_for adds those that need configuration.
PROVIDERS: dict[str, PaymentProvider] = {p.name: p for p in (FreePayment(), BoxOfficePayment())}


def providers_for(config: Mapping[str, Any]) -> dict[str, PaymentProvider]:
    """The payment methods a hub with this configuration offers: card only when its Stripe keys are set."""
    providers = dict(PROVIDERS)
    if config.get("STRIPE_SECRET_KEY") and config.get("STRIPE_PUBLISHABLE_KEY"):
        from .stripe_card import StripeCard

        card = StripeCard.from_config(config)
        providers[card.name] = card
    return providers


def get_provider(method: str, providers: Mapping[str, PaymentProvider] | None = None) -> PaymentProvider:
    providers = PROVIDERS if providers is None else providers
    provider = providers.get(method)
    if provider is None:
        raise Invalid(f"payment method must be one of {', '.join(sorted(providers))}", "unknown_payment_method")
    return provider


def online(provider: PaymentProvider | None) -> OnlinePayment | None:
    """The provider as an online one, or None for one settled at the hub (free, box office)."""
    return provider if isinstance(provider, OnlinePayment) else None
