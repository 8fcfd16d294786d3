"""The printable ticket PDF: one page per ticket, a scannable QR at least 35 mm wide."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pypdfium2 as pdfium
import pytest

from common.signing import Keyring, SigningKey, sign_ticket, verify_ticket
from common.signing.qr import make_qr
from common.signing.shortcode import grouped, parse_short_code, short_code
from hub.delivery import TicketCard
from hub.delivery.pdf import tickets_pdf
from tests.hub.web.support import pdf_pages, read_pdf_qr


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.from_seed(bytes(range(32)))


def _card(key: SigningKey, ticket_id: int, seat: int | None) -> TicketCard:
    text = sign_ticket(key, event_id=7, ticket_id=ticket_id, ticket_type=2, zones=[1], seat=seat)
    return TicketCard(
        ticket_id=ticket_id,
        text=text,
        event_title="Winterreise — Żaneta Ø. live",
        starts_at=datetime(2026, 12, 5, 19, 30, tzinfo=UTC),
        venue_name="Kleiner Saal",
        ticket_type_name="Adult",
        buyer_name="Zoë Łukasiewicz",
        section="A" if seat is not None else None,
        row="3" if seat is not None else None,
        seat=str(seat) if seat is not None else None,
        zone_name="Parterre",
    )


def test_one_page_per_ticket_each_qr_verifies_and_is_wide_enough(key):
    cards = [_card(key, 1001, seat=12), _card(key, 1002, seat=13), _card(key, 1003, seat=None)]
    data = tickets_pdf(cards)
    keyring = Keyring([key.public_entry()])

    assert pdf_pages(data) == 3
    for index, card in enumerate(cards):
        qr = read_pdf_qr(data, index)
        assert qr.text == card.text
        verdict = verify_ticket(qr.text, keyring, time.time())
        assert verdict.valid, verdict.reason
        assert verdict.ticket.ticket_id == card.ticket_id
        assert qr.symbol_width_mm >= 35
        modules = make_qr(card.text).symbol_size(scale=1, border=0)[0]
        assert qr.quiet_box_width_mm == pytest.approx(qr.symbol_width_mm * (modules + 8) / modules, rel=1e-3)


def test_page_shows_event_seat_zone_buyer_and_ticket_number(key):
    seated, standing = _card(key, 1001, seat=12), _card(key, 1003, seat=None)
    document = pdfium.PdfDocument(tickets_pdf([seated, standing]))
    first = document[0].get_textpage().get_text_range()
    second = document[1].get_textpage().get_text_range()
    flat = " ".join(first.split())
    for expected in (
        "Winterreise — Żaneta Ø. live",
        "Sat 5 Dec 2026, 19:30",
        "Kleiner Saal",
        "Section A · Row 3 · Seat 12",
        "Zone: Parterre",
        "Zoë Łukasiewicz",
        "Ticket no. 1001",
        f"Code {grouped(short_code(1001))}",  # under the QR, for a QR that will not scan
    ):
        assert expected in flat
    assert parse_short_code(flat.split("Code ", 1)[1].split()[0]) == 1001
    assert "General admission" in second and "Ticket no. 1003" in second
    assert "Seat" not in second


def test_no_tickets_is_an_error():
    with pytest.raises(ValueError):
        tickets_pdf([])
