"""Printable ticket PDF (fpdf2): one ticket per A4 page, QR drawn as vector shapes.

The QR is drawn module by module as one filled path, so it is sharp at any
printer resolution, and it sits on a white square that holds the 4-module
quiet zone the QR standard asks for.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fpdf import FPDF
from fpdf.drawing import PaintedPath
from fpdf.enums import PathPaintRule

from common.signing.qr import make_qr

from .card import TicketCard

QR_SYMBOL_MM = 60.0  # the symbol itself, without quiet zone; the floor is 35 mm
QUIET_ZONE_MODULES = 4
PAGE_MARGIN_MM = 18.0

INSTRUCTIONS = (
    "Show this QR code at the entrance, printed or on your phone. "
    "Each ticket admits one person once; do not share copies. "
    "Keep the code flat and uncreased; do not cover it."
)

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def tickets_pdf(cards: Iterable[TicketCard], *, title: str = "Tickets") -> bytes:
    """A PDF with one page per ticket."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.set_creator("ticketgate hub")
    pdf.set_auto_page_break(False)
    pdf.set_margins(PAGE_MARGIN_MM, PAGE_MARGIN_MM, PAGE_MARGIN_MM)
    cards = list(cards)
    font = _register_font(pdf, cards)
    count = 0
    for card in cards:
        _ticket_page(pdf, font, card)
        count += 1
    if not count:
        raise ValueError("a ticket PDF needs at least one ticket")
    return bytes(pdf.output())


def _latin1(cards: list[TicketCard]) -> bool:
    text = "".join(
        f"{c.event_title}{c.venue_name}{c.venue_address or ''}{c.buyer_name}{c.ticket_type_name}"
        f"{c.section or ''}{c.row or ''}{c.seat or ''}{c.zone_name or ''}"
        for c in cards
    )
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _register_font(pdf: FPDF, cards: list[TicketCard]) -> str:
    """Core Helvetica when every text is Latin-1 (fast: nothing to embed); DejaVu Sans for
    names in other scripts, which costs a font subset per document."""
    regular, bold = _DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"
    if not _latin1(cards) and regular.exists() and bold.exists():
        pdf.add_font("DejaVu", "", str(regular))
        pdf.add_font("DejaVu", "B", str(bold))
        return "DejaVu"
    return "helvetica"


def _safe(pdf: FPDF, font: str, text: str) -> str:
    if font != "helvetica":
        return text
    return text.encode("latin-1", "replace").decode("latin-1")


def _ticket_page(pdf: FPDF, font: str, card: TicketCard) -> None:
    pdf.add_page()
    width = pdf.w - 2 * PAGE_MARGIN_MM

    def line(text: str, size: float, style: str = "", gap: float = 1.5) -> None:
        pdf.set_font(font, style, size)
        pdf.multi_cell(width, size * 0.45, _safe(pdf, font, text), align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    pdf.set_text_color(90, 90, 90)
    line("ticketgate · admission ticket", 10, gap=4)
    pdf.set_text_color(0, 0, 0)
    line(card.event_title, 22, "B", gap=3)
    line(card.when_label, 13)
    venue = card.venue_name + (f", {card.venue_address}" if card.venue_address else "")
    line(venue, 12, gap=6)

    qr_height = draw_qr(pdf, card.text, center_x=pdf.w / 2, top=pdf.get_y(), symbol_mm=QR_SYMBOL_MM)
    pdf.set_y(pdf.get_y() + qr_height + 2)
    line(f"Code {card.short_code}", 16, "B", gap=4)  # typed at the gate when the QR will not scan

    line(card.seat_label, 18, "B", gap=2)
    if card.zone_name:
        line(f"Zone: {card.zone_name}", 13)
    line(f"{card.ticket_type_name} · {card.buyer_name}", 12)
    line(f"Ticket no. {card.ticket_id}", 11, gap=8)
    pdf.set_text_color(70, 70, 70)
    line(INSTRUCTIONS, 9.5)


def draw_qr(pdf: FPDF, text: str, *, center_x: float, top: float, symbol_mm: float) -> float:
    """Draw the QR for `text` on a white quiet-zone square; return the square's side in mm."""
    qr = make_qr(text)
    modules = qr.symbol_size(scale=1, border=0)[0]
    module_mm = symbol_mm / modules
    side = symbol_mm + 2 * QUIET_ZONE_MODULES * module_mm
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(center_x - side / 2, top, side, side, style="F")
    left = center_x - symbol_mm / 2
    top += QUIET_ZONE_MODULES * module_mm
    # One path for all dark runs: the rasteriser fills their union, so no seams between modules.
    path = PaintedPath()
    path.style.fill_color = "#000000"
    path.style.stroke_color = None
    path.style.paint_rule = PathPaintRule.FILL_NONZERO
    with pdf.drawing_context() as context:
        for row_index, row in enumerate(qr.matrix_iter(scale=1, border=0)):
            start = None
            for col_index, dark in enumerate(list(row) + [False]):
                if dark and start is None:
                    start = col_index
                elif not dark and start is not None:
                    path.rectangle(
                        left + start * module_mm,
                        top + row_index * module_mm,
                        (col_index - start) * module_mm,
                        module_mm,
                    )
                    start = None
        context.add_item(path, False)  # no defensive deep copy: the path is ours alone
    return side
