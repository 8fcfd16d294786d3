"""QR images for the phone page (inline SVG) and the PNG download."""

from __future__ import annotations

import io
from functools import lru_cache

from common.signing.qr import make_qr

QUIET_ZONE_MODULES = 4


# Ticket texts are immutable, and a buyer reloads the same ticket page at the door: keep recent renders.
@lru_cache(maxsize=2048)
def qr_svg(text: str) -> str:
    """Inline SVG that scales to its container: black modules on an explicit white quiet zone."""
    return make_qr(text).svg_inline(
        scale=1,
        border=QUIET_ZONE_MODULES,
        dark="#000000",
        light="#ffffff",
        omitsize=True,
        svgclass="qr",
        lineclass=None,
        title="Ticket QR code",
    )


@lru_cache(maxsize=256)
def qr_png(text: str, scale: int = 12) -> bytes:
    """PNG with the quiet zone, large enough to print or show full screen."""
    buffer = io.BytesIO()
    make_qr(text).save(buffer, kind="png", scale=scale, border=QUIET_ZONE_MODULES, dark="black", light="white")
    return buffer.getvalue()
