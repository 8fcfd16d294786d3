"""QR rendering for ticket texts with segno (ECC M, alphanumeric mode)."""

from __future__ import annotations

from pathlib import Path

import segno


def make_qr(text: str) -> segno.QRCode:
    """The QR for a ticket text: at least ECC M, boosted when it costs no extra version."""
    return segno.make_qr(text, error="m", boost_error=True)


def save_qr(text: str, path: Path | str, scale: int = 10, dark: str = "black", light: str = "white") -> segno.QRCode:
    """Write PNG or SVG (by suffix) with the 4-module quiet zone the QR standard asks for."""
    qr = make_qr(text)
    qr.save(str(path), scale=scale, border=4, dark=dark, light=light)
    return qr
