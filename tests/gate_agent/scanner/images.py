"""Real ticket QR images for the scanner tests: signed with common.signing, drawn by segno."""

from __future__ import annotations

import numpy as np

from common.signing import SigningKey, sign_ticket
from common.signing.qr import make_qr

_KEY = SigningKey.from_seed(bytes(range(32)))


def ticket_text(ticket_id: int = 1, *, event_id: int = 7) -> str:
    """The QR text of a real signed ticket ("TG1:" + base45)."""
    return sign_ticket(_KEY, event_id=event_id, ticket_id=ticket_id, ticket_type=1, zones=(1, 2), seat=ticket_id)


def qr_gray(text: str, *, scale: int = 6, inverted: bool = False) -> np.ndarray:
    """The ticket's QR as gray pixels with the standard 4-module quiet zone.

    ``inverted`` draws it the way a phone in dark mode shows it: light modules on dark.
    """
    dark = np.array(list(make_qr(text).matrix_iter(scale=scale, border=4)), dtype=bool)
    return np.where(dark ^ inverted, 0, 255).astype(np.uint8)


def on_canvas(
    code: np.ndarray, size: tuple[int, int] = (640, 480), *, background: int = 170, bgr: bool = True
) -> np.ndarray:
    """A camera-sized frame with the code in the middle of a plain gray background."""
    width, height = size
    canvas = np.full((height, width), background, dtype=np.uint8)
    top, left = (height - code.shape[0]) // 2, (width - code.shape[1]) // 2
    canvas[top : top + code.shape[0], left : left + code.shape[1]] = code
    return np.dstack([canvas] * 3) if bgr else canvas


def blank_frame(size: tuple[int, int] = (640, 480), background: int = 170) -> np.ndarray:
    width, height = size
    return np.full((height, width, 3), background, dtype=np.uint8)
