"""Outgoing mail: SMTP when configured, otherwise (and on failure) .eml files in an outbox folder.

Settings are the app config's ``SMTP_*`` keys (hub/config.py: ``SMTP_HOST``, ``SMTP_PORT``,
``SMTP_USER``, ``SMTP_PASSWORD``, ``SMTP_STARTTLS``, ``SMTP_CA_FILE``, ``SMTP_FROM``; as variables
``TICKETHUB_SMTP_*``). With no host every message is written to the outbox so nothing is lost;
when the SMTP server fails the message is kept there too and the failure is logged. Message
builders are plain functions.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from html import escape
from pathlib import Path

from .config import DEFAULTS, typed
from .delivery.card import TicketCard

log = logging.getLogger(__name__)

SENT = "sent"
OUTBOX = "outbox"


@dataclass(frozen=True)
class MailSettings:
    outbox: Path
    host: str | None = None
    port: int = DEFAULTS["SMTP_PORT"]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    sender: str = DEFAULTS["SMTP_FROM"]
    ca_file: str | None = None  # CA bundle for a server certificate from a private CA
    timeout: float = 15.0

    @classmethod
    def from_config(cls, config: Mapping, outbox: Path | str) -> MailSettings:
        """From the app config's SMTP_* keys (hub/config.py; missing keys have their defaults)."""

        def get(key: str):
            return typed(key, config.get(key, DEFAULTS[key]))

        return cls(
            outbox=Path(outbox),
            host=get("SMTP_HOST") or None,
            port=get("SMTP_PORT"),
            user=get("SMTP_USER") or None,
            password=get("SMTP_PASSWORD") or None,
            starttls=get("SMTP_STARTTLS"),
            sender=get("SMTP_FROM") or cls.sender,
            ca_file=get("SMTP_CA_FILE") or None,
        )


def send(settings: MailSettings, message: EmailMessage) -> str:
    """Deliver `message`; returns SENT, or OUTBOX when it was written to the outbox folder."""
    try:
        return deliver(settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        path = write_to_outbox(settings.outbox, message)
        log.error("sending %r to %s failed (%s); kept it in %s", message["Subject"], message["To"], exc, path)
        return OUTBOX


def deliver(settings: MailSettings, message: EmailMessage) -> str:
    """Like `send`, but an SMTP failure raises (OSError or smtplib.SMTPException) for the caller to retry;
    without a host the message goes to the outbox folder (OUTBOX)."""
    if "From" not in message:
        message["From"] = settings.sender
    if not settings.host:
        path = write_to_outbox(settings.outbox, message)
        log.info("SMTP not configured; wrote %r to %s", message["Subject"], path)
        return OUTBOX
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(message)
    log.info("sent %r to %s", message["Subject"], message["To"])
    return SENT


def write_to_outbox(outbox: Path, message: EmailMessage) -> Path:
    """Write the message as an .eml file; written under a temporary name first, so readers never see half a file."""
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = outbox / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
    partial = path.with_suffix(".part")
    partial.write_bytes(message.as_bytes())
    partial.replace(path)
    return path


def _message(to: str, to_name: str | None, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["To"] = formataddr((to_name, to)) if to_name else to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="ticketgate")
    message.set_content(body)
    return message


def purchase_confirmation(
    *,
    to: str,
    buyer_name: str,
    order_code: str,
    order_url: str,
    total: str,
    cards: Sequence[TicketCard],
    ticket_urls: Sequence[str],
    pdf: bytes,
    replaced: Sequence[str] = (),
) -> EmailMessage:
    """Order confirmation with the tickets as a PDF attachment and a link to each ticket's phone page.
    `replaced`: the seats whose tickets were just re-issued; the message then says so and carries
    every valid ticket of the order."""
    first = cards[0]
    if replaced:
        intro = [
            f"we have replaced your ticket for {', '.join(replaced)} ({first.event_title}, order {order_code}).",
            "The old ticket no longer gets you in: please use the new one. All your tickets",
            f"for {first.event_title} ({first.when_label}, {first.venue_name}) are attached as a PDF.",
        ]
        subject = f"New tickets for {first.event_title} (order {order_code})"
    else:
        intro = [
            f"thank you for your order {order_code}. Your tickets for {first.event_title}",
            f"({first.when_label}, {first.venue_name}) are attached as a PDF.",
        ]
        subject = f"Your tickets for {first.event_title} (order {order_code})"
    lines = [
        f"Hello {buyer_name},",
        "",
        *intro,
        "",
        "Open a ticket on your phone and show the QR code at the entrance:",
    ]
    for card, url in zip(cards, ticket_urls, strict=True):
        lines.append(f"  - {card.seat_label} ({card.ticket_type_name}), code {card.short_code}: {url}")
    lines += ["", f"Total paid: {total}", f"Your order: {order_url}", "", "See you there!"]
    message = _message(to, buyer_name, subject, "\n".join(lines))
    message.add_alternative(
        _confirmation_html(buyer_name, " ".join(intro), order_url, total, cards, ticket_urls), subtype="html"
    )
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"tickets-{order_code}.pdf")
    return message


def _confirmation_html(
    buyer_name: str,
    intro: str,
    order_url: str,
    total: str,
    cards: Sequence[TicketCard],
    ticket_urls: Sequence[str],
) -> str:
    items = "".join(
        f'<li><a href="{escape(url)}">{escape(card.seat_label)}</a> ({escape(card.ticket_type_name)}),'
        f" code <strong>{escape(card.short_code)}</strong></li>"
        for card, url in zip(cards, ticket_urls, strict=True)
    )
    return (
        f'<!doctype html><html><body style="font-family:sans-serif">'
        f"<p>Hello {escape(buyer_name)},</p>"
        f"<p>{escape(intro)}</p>"
        f"<p>Open a ticket on your phone and show the QR code at the entrance:</p><ul>{items}</ul>"
        f'<p>Total paid: {escape(total)} · <a href="{escape(order_url)}">your order</a></p>'
        f"<p>See you there!</p></body></html>"
    )


def refund_notice(
    *,
    to: str,
    buyer_name: str,
    order_code: str,
    event_title: str,
    amount: str,
    tickets: Iterable[str],
    part: bool = False,
    closed_as: str | None = None,
) -> EmailMessage:
    """Money went back to the buyer. A paid order refunded: `tickets`, the seats (or ticket types) whose
    tickets no longer get in. `part`: a part of a paid order, whose tickets stay valid. `closed_as`: a card
    payment that arrived for an order already "expired" or "cancelled" (its seats maybe sold to others),
    given back in full."""
    if closed_as is not None:
        why = "had expired (it was not paid in time)" if closed_as == "expired" else f"was already {closed_as}"
        lines = [
            f"your card payment of {amount} for order {order_code} ({event_title}) arrived after the order",
            f"{why}, so we could not give you its seats and have refunded the payment in full.",
            "You have no tickets for this order. If you still want to come, you are welcome to order again.",
        ]
    elif part:
        lines = [
            f"we have refunded {amount} of your order {order_code} ({event_title}).",
            "Your tickets stay valid.",
        ]
    else:
        lines = [
            f"we have refunded {amount} for your order {order_code} ({event_title}).",
            f"These tickets are no longer valid and will not get you in: {', '.join(tickets)}.",
            "You can delete them.",
        ]
    lines.append("The money reaches your account in a few days, depending on your bank.")
    return _message(to, buyer_name, f"Refund for order {order_code}", "\n".join([f"Hello {buyer_name},", "", *lines]))


def payment_failed(
    *, to: str, buyer_name: str, order_code: str, event_title: str, reason: str, pay_by: str, order_url: str
) -> EmailMessage:
    """A card payment attempt did not go through; the order can still be paid until its deadline."""
    body = "\n".join(
        [
            f"Hello {buyer_name},",
            "",
            f"your card payment for order {order_code} ({event_title}) did not go through: {reason}",
            "Nothing was charged. Your seats stay reserved until " + pay_by + "; you can try again, or use",
            f"another card, here: {order_url}",
        ]
    )
    return _message(to, buyer_name, f"Your payment for order {order_code} did not go through", body)


# How the buyer pays an order that is not paid at once, in plain words (payment method -> phrase).
PAY_LATER = {"box_office": "at the box office", "card": "by card"}


def order_received(
    *,
    to: str,
    buyer_name: str,
    order_code: str,
    event_title: str,
    when: str,
    venue: str,
    total: str,
    payment_method: str,
    pay_by: str,
    order_url: str,
) -> EmailMessage:
    """An order placed but not paid yet: what to pay, how, and by when; the link back to it."""
    how = PAY_LATER.get(payment_method, "")
    body = "\n".join(
        [
            f"Hello {buyer_name},",
            "",
            f"thank you for your order {order_code} for {event_title} ({when}, {venue}).",
            f"Your seats are reserved, but the order is not paid yet. Please pay {total} {how}".rstrip()
            + f" by {pay_by}.",
            "If it is not paid by then, the order is cancelled and the seats are offered to others.",
            "Your tickets arrive by mail as soon as it is paid.",
            "",
            f"Your order: {order_url}",
        ]
    )
    return _message(to, buyer_name, f"Your order {order_code} for {event_title}: please pay by {pay_by}", body)


def order_expired(*, to: str, buyer_name: str, order_code: str, event_title: str, pay_by: str) -> EmailMessage:
    body = "\n".join(
        [
            f"Hello {buyer_name},",
            "",
            f"your order {order_code} for {event_title} was not paid by {pay_by}, so we have cancelled it",
            "and offered its seats to others. You have not been charged.",
            "If you still want to come, you are welcome to order again.",
        ]
    )
    return _message(to, buyer_name, f"Your order {order_code} for {event_title} has expired", body)


def order_cancelled(*, to: str, buyer_name: str, order_code: str, event_title: str) -> EmailMessage:
    body = "\n".join(
        [
            f"Hello {buyer_name},",
            "",
            f"your order {order_code} for {event_title} has been cancelled before it was paid.",
            "You have not been charged.",
        ]
    )
    return _message(to, buyer_name, f"Your order {order_code} for {event_title} is cancelled", body)


def event_reminder(
    *, to: str, buyer_name: str, order_code: str, event_title: str, when: str, venue: str, order_url: str
) -> EmailMessage:
    body = "\n".join(
        [
            f"Hello {buyer_name},",
            "",
            f"a reminder: {event_title} starts {when} at {venue}.",
            f"Your tickets (order {order_code}) are here: {order_url}",
            "Have the QR codes ready on your phone or printed.",
        ]
    )
    return _message(to, buyer_name, f"Reminder: {event_title} — {when}", body)


def password_reset(*, to: str, reset_url: str, valid_minutes: int) -> EmailMessage:
    body = "\n".join(
        [
            "Hello,",
            "",
            "someone (hopefully you) asked to reset the password of your ticketgate account.",
            f"Open this link within {valid_minutes} minutes to choose a new password; it works once:",
            reset_url,
            "",
            "If you did not ask for this, ignore this message; your password stays as it is.",
        ]
    )
    return _message(to, None, "Reset your ticketgate password", body)


def staff_invitation(*, to: str, organizer: str, role: str, accept_url: str, valid_days: int) -> EmailMessage:
    body = "\n".join(
        [
            "Hello,",
            "",
            f"{organizer} invites you to work for their events on ticketgate as {role}.",
            f"Open this link within {valid_days} days to accept; it works once:",
            accept_url,
            "",
            "If you do not know the sender, ignore this message; nothing changes.",
        ]
    )
    return _message(to, None, f"Invitation: {role} for {organizer}", body)


def registration_link(*, to: str, register_url: str, valid_hours: int) -> EmailMessage:
    body = "\n".join(
        [
            "Hello,",
            "",
            "someone (hopefully you) asked to create a ticketgate account with this address.",
            f"Open this link within {valid_hours} hours to choose your password and finish:",
            register_url,
            "",
            "If you did not ask for this, ignore this message; no account is created.",
        ]
    )
    return _message(to, None, "Finish creating your ticketgate account", body)


def account_exists(*, to: str, login_url: str, reset_url: str) -> EmailMessage:
    """Sent instead of a registration link when the address already has an account."""
    body = "\n".join(
        [
            "Hello,",
            "",
            "someone (hopefully you) tried to create a ticketgate account with this address,",
            "but it already has one. Log in here:",
            login_url,
            "",
            "Forgot the password? Ask for a reset link here:",
            reset_url,
            "",
            "If you did not try to register, ignore this message; nothing has changed.",
        ]
    )
    return _message(to, None, "You already have a ticketgate account", body)


def email_change_link(*, to: str, confirm_url: str, valid_hours: int) -> EmailMessage:
    body = "\n".join(
        [
            "Hello,",
            "",
            "someone (hopefully you) asked to move a ticketgate account to this address.",
            f"Open this link within {valid_hours} hours, logged in to that account, to confirm:",
            confirm_url,
            "",
            "If you did not ask for this, ignore this message; nothing changes.",
        ]
    )
    return _message(to, None, "Confirm your new ticketgate email address", body)
