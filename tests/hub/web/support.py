"""Helpers for the hub web and delivery tests: read QR codes back out of PDFs and screenshots."""
from __future__ import annotations

import ctypes
import io
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import zxingcpp
from PIL import Image

POINTS_PER_MM = 72 / 25.4


@dataclass(frozen=True)
class PdfQr:
    text: str
    symbol_width_mm: float   # the dark modules' extent, from the PDF's vector geometry
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
