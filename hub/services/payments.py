"""Payment providers. An order asks its provider to start payment; the provider
says whether the order is paid now or pending (to be confirmed later).

`free`: only for orders totalling 0. `box_office`: paid at the counter; staff
confirm it with `orders.confirm_payment`. Card providers plug in the same way.
"""

from __future__ import annotations

from typing import Protocol

from .errors import Invalid


class PaymentProvider(Protocol):
    name: str

    def start(self, total: int, currency: str) -> str:
        """Return "paid" or "pending"; raise Invalid to refuse."""


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


PROVIDERS: dict[str, PaymentProvider] = {p.name: p for p in (FreePayment(), BoxOfficePayment())}


def get_provider(method: str) -> PaymentProvider:
    provider = PROVIDERS.get(method)
    if provider is None:
        raise Invalid(f"payment method must be one of {', '.join(sorted(PROVIDERS))}", "unknown_payment_method")
    return provider
