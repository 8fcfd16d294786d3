"""Apple Wallet passes (.pkpass) for tickets: the ticket's signed QR text in a signed pass bundle.

A .pkpass is a zip of pass.json (what Wallet shows, and the barcode), images, manifest.json (the
SHA-1 of every other file) and `signature`: a detached PKCS #7 signature of the manifest made with
the organizer's Pass Type ID certificate, carrying Apple's WWDR intermediate certificate. The
certificate, its key and the WWDR certificate come from configuration (WALLET_* settings,
docs/configuration.md); without them the hub does not offer passes. Signing uses the cryptography
library's PKCS7SignatureBuilder; nothing here talks to Apple.

The pass's barcode is the same "TG1:..." text as the QR on the ticket page, the PDF and the mail,
so a gate admits it offline like any other copy of the ticket; a refunded or re-issued ticket's
pass is refused at the gate like its other copies (revocation lists), whatever Wallet still shows.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from PIL import Image, ImageDraw

from .card import TicketCard

MIMETYPE = "application/vnd.apple.pkpass"


@dataclass(frozen=True)
class PassSigner:
    pass_type_id: str
    team_id: str
    organization: str
    certificate: x509.Certificate
    key: object = None  # a private key object of cryptography
    wwdr: x509.Certificate | None = None

    @classmethod
    def from_config(cls, config) -> PassSigner | None:
        """From the WALLET_* settings, or None when passes are not set up (no certificate configured)."""
        cert_file = config.get("WALLET_CERT_FILE") or ""
        if not cert_file:
            return None
        password = (config.get("WALLET_KEY_PASSWORD") or "").encode() or None
        return cls(
            pass_type_id=config["WALLET_PASS_TYPE_ID"],
            team_id=config["WALLET_TEAM_ID"],
            organization=config["WALLET_ORGANIZATION"],
            certificate=x509.load_pem_x509_certificate(Path(cert_file).read_bytes()),
            key=serialization.load_pem_private_key(Path(config["WALLET_KEY_FILE"]).read_bytes(), password),
            wwdr=x509.load_pem_x509_certificate(Path(config["WALLET_WWDR_CERT_FILE"]).read_bytes())
            if config.get("WALLET_WWDR_CERT_FILE")
            else None,
        )


def pass_json(card: TicketCard, signer: PassSigner, *, serial: str, order_url: str) -> dict:
    """What Wallet shows: an event ticket with the event, when, where, the seat and the QR."""
    starts = card.starts_at if card.starts_at.tzinfo else card.starts_at.replace(tzinfo=UTC)
    return {
        "formatVersion": 1,
        "passTypeIdentifier": signer.pass_type_id,
        "teamIdentifier": signer.team_id,
        "organizationName": signer.organization,
        "serialNumber": serial,
        "description": f"Ticket for {card.event_title}",
        "relevantDate": starts.isoformat(),
        "foregroundColor": "rgb(255, 255, 255)",
        "backgroundColor": "rgb(20, 24, 33)",
        "labelColor": "rgb(190, 200, 215)",
        "eventTicket": {
            "primaryFields": [{"key": "event", "label": "EVENT", "value": card.event_title}],
            "secondaryFields": [
                {
                    "key": "when",
                    "label": "WHEN",
                    "value": starts.isoformat(),
                    "dateStyle": "PKDateStyleMedium",
                    "timeStyle": "PKDateStyleShort",
                },
                {"key": "where", "label": "WHERE", "value": card.venue_name},
            ],
            "auxiliaryFields": [
                {"key": "seat", "label": "SEAT", "value": card.seat_label},
                {"key": "type", "label": "TICKET", "value": card.ticket_type_name},
            ],
            "backFields": [
                {"key": "holder", "label": "Name", "value": card.buyer_name},
                {"key": "ticket", "label": "Ticket number", "value": str(card.ticket_id)},
                {"key": "order", "label": "Your order", "value": order_url},
            ],
        },
        "barcodes": [
            {
                "format": "PKBarcodeFormatQR",
                "message": card.text,
                "messageEncoding": "iso-8859-1",
                "altText": str(card.ticket_id),
            }
        ],
    }


@cache
def _icons() -> dict[str, bytes]:
    """The pass's icon (Wallet requires icon.png) at 1x, 2x and 3x: a plain ticket mark."""
    out = {}
    for scale, name in ((1, "icon.png"), (2, "icon@2x.png"), (3, "icon@3x.png")):
        size = 29 * scale
        image = Image.new("RGB", (size, size), (20, 24, 33))
        ImageDraw.Draw(image).rounded_rectangle(
            (size // 6, size // 4, size - size // 6, size - size // 4), radius=size // 10, fill=(255, 255, 255)
        )
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        out[name] = buffer.getvalue()
    return out


def build_pkpass(card: TicketCard, signer: PassSigner, *, serial: str, order_url: str) -> bytes:
    files = {"pass.json": json.dumps(pass_json(card, signer, serial=serial, order_url=order_url)).encode(), **_icons()}
    manifest = json.dumps({name: hashlib.sha1(data).hexdigest() for name, data in files.items()}).encode()
    builder = (
        pkcs7.PKCS7SignatureBuilder().set_data(manifest).add_signer(signer.certificate, signer.key, hashes.SHA256())
    )
    if signer.wwdr is not None:
        builder = builder.add_certificate(signer.wwdr)
    signature = builder.sign(
        serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in {**files, "manifest.json": manifest, "signature": signature}.items():
            bundle.writestr(name, data)
    return buffer.getvalue()
