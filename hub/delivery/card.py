"""What a delivered ticket shows: one value shared by the PDF, the phone page and the email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.signing.shortcode import grouped, short_code


@dataclass(frozen=True)
class TicketCard:
    """A ticket as the holder sees it. `text` is the signed QR text ("TG1:...")."""

    ticket_id: int
    text: str
    event_title: str
    starts_at: datetime
    venue_name: str
    ticket_type_name: str
    buyer_name: str
    section: str | None = None
    row: str | None = None
    seat: str | None = None
    zone_name: str | None = None
    venue_address: str | None = None

    @property
    def short_code(self) -> str:
        """The code printed under the QR for door staff to type when it will not scan, e.g. "23Q-M7T"."""
        return grouped(short_code(self.ticket_id))

    @property
    def is_seated(self) -> bool:
        return self.seat is not None

    @property
    def seat_label(self) -> str:
        return seat_label(self.section, self.row, self.seat)

    @property
    def when_label(self) -> str:
        """Local event time as printed on the ticket, e.g. "Sat 5 Dec 2026, 19:30 (UTC)"."""
        zone = self.starts_at.tzname() or ""
        label = f"{self.starts_at:%a} {self.starts_at.day} {self.starts_at:%b %Y, %H:%M}"
        return f"{label} ({zone})" if zone else label


def seat_label(section: str | None, row: str | None, seat: str | None) -> str:
    """ "Section A · Row 3 · Seat 12", or "General admission": the same words at checkout and on the ticket."""
    if seat is None:
        return "General admission"
    parts = []
    if section:
        parts.append(f"Section {section}")
    if row:
        parts.append(f"Row {row}")
    parts.append(f"Seat {seat}")
    return " · ".join(parts)
