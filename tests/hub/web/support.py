"""Helpers for the hub web and delivery tests: read QR codes back out of PDFs and screenshots."""

from __future__ import annotations

import ctypes
import io
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import zxingcpp
from PIL import Image

POINTS_PER_MM = 72 / 25.4


@dataclass(frozen=True)
class PdfQr:
    text: str
    symbol_width_mm: float  # the dark modules' extent, from the PDF's vector geometry
    quiet_box_width_mm: float  # the white square behind it


def decode_image(image: Image.Image) -> list[str]:
    results = zxingcpp.read_barcodes(np.asarray(image.convert("L")), formats=zxingcpp.BarcodeFormat.QRCode)
    return [result.text for result in results]


def pdf_pages(data: bytes) -> int:
    return len(pdfium.PdfDocument(data))


def read_pdf_qr(data: bytes, page_index: int, dpi: int = 200) -> PdfQr:
    """Render one page to an image, decode its QR, and measure the QR's vector shapes."""
    document = pdfium.PdfDocument(data)
    page = document[page_index]
    image = page.render(scale=dpi / 72).to_pil()
    texts = decode_image(image)
    assert len(texts) == 1, f"expected one QR on page {page_index}, found {texts}"
    dark, white = [], []
    for obj in page.get_objects():
        if obj.type != pdfium_c.FPDF_PAGEOBJ_PATH:
            continue
        rgba = [ctypes.c_uint() for _ in range(4)]
        pdfium_c.FPDFPageObj_GetFillColor(obj.raw, *[ctypes.byref(c) for c in rgba])
        colour = tuple(c.value for c in rgba[:3])
        (dark if colour == (0, 0, 0) else white if colour == (255, 255, 255) else []).append(obj.get_bounds())
    assert len(dark) == 1 and len(white) == 1, "the QR is one dark path on one white square"
    return PdfQr(texts[0], _width_mm(dark[0]), _width_mm(white[0]))


def _width_mm(bounds: tuple[float, float, float, float]) -> float:
    left, _bottom, right, _top = bounds
    return (right - left) / POINTS_PER_MM


def png_bytes_to_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# --- page helpers ------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class Browser:
    """A Flask test client that submits forms the way a browser does: with the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self._token = None

    def get(self, url: str, **kwargs):
        response = self.client.get(url, **kwargs)
        if response.mimetype != "text/html":
            return response
        match = _CSRF.search(response.get_data(as_text=True))
        if match:
            self._token = match.group(1)
        return response

    def token(self) -> str:
        if self._token is None:
            self.get("/account/login")
        return self._token

    def post(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token())
        return self.client.post(url, data=data, **kwargs)

    def login(self, email: str, password: str = "correct horse"):
        self.get("/account/login")
        response = self.post("/account/login", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        self._token = None  # a new session has a new token
        return response


def grid_layout(rows: int = 3, seats: int = 8, sections=("A",)) -> dict:
    return {
        "name": "Test Hall",
        "sections": [
            {"name": s, "rows": [{"name": str(r + 1), "seats": seats} for r in range(rows)]} for s in sections
        ],
    }


def make_event(
    conn,
    organizer_id: int,
    *,
    price: int = 2500,
    fee: int = 150,
    rows: int = 3,
    seats: int = 8,
    starts_in: timedelta = timedelta(days=10),
    title: str = "Brass Night",
    ga_capacity: int = 0,
    **fields,
) -> dict:
    """A seated event (and optional standing tickets) created through the hub's services."""
    from hub.services.events import create_event
    from hub.services.venues import create_venue

    venue = create_venue(conn, grid_layout(rows, seats), owner_id=organizer_id)
    now = datetime.now(UTC)
    types = [{"name": "Seat", "kind": "seated", "price": price, "zones": [1]}]
    if ga_capacity:
        types.append({"name": "Standing", "kind": "ga", "price": price // 2, "capacity": ga_capacity})
    from hub.services.clock import iso

    data = {
        "title": title,
        "artist": "The Band",
        "location": "Berlin",
        "category": "concert",
        "description": "An evening of brass.",
        "starts_at": iso(now + starts_in),
        "ticket_release_at": iso(now - timedelta(hours=1)),
        "venue_id": venue["id"],
        "service_fee": fee,
        "ticket_types": types,
        **fields,
    }
    return create_event(conn, data, organizer_id=organizer_id)


# --- a real SMTP server on loopback --------------------------------------------


class MailCollector:
    """aiosmtpd handler that keeps every accepted message (parsed).

    ``refuse``: answer the first that many messages with a temporary failure (451), as a busy server
    does. ``gate``: a threading.Event each message waits for before it is accepted (a slow server);
    ``arrived`` is set when a message is waiting at the gate."""

    def __init__(self, refuse: int = 0, gate=None):
        import threading

        self.messages = []
        self.refuse = refuse
        self.gate = gate
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        import email
        from email import policy

        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        if self.gate is not None:
            self.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@contextmanager
def smtp_server(collector: MailCollector | None = None):
    """Yield (host, port, collector) of a real aiosmtpd server on 127.0.0.1."""
    from aiosmtpd.controller import Controller

    from tests.support import free_port

    collector = collector or MailCollector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.hostname, controller.port, collector
    finally:
        if collector.gate is not None:
            collector.gate.set()  # a session still waiting would keep the server from stopping
        controller.stop()
