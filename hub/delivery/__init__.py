"""Getting tickets to people: printable PDF, phone page QR, email."""

from .card import TicketCard

__all__ = ["TicketCard"]
