"""Apple Wallet passes: a ticket's .pkpass is a zip whose manifest names every file's SHA-1 and whose
detached PKCS #7 signature verifies (with openssl, as Wallet would) against the certificate chain
configured; its barcode is the ticket's own signed QR text."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from common.signing import verify_ticket
from hub.services.holds import hold_seats
from hub.services.orders import confirm_payment, purchase
from tests.support import require


def event_time(event) -> datetime:
    return datetime.fromisoformat(event["starts_at"].replace("Z", "+00:00"))


def _certificate(name: str, key, issuer_name=None, issuer_key=None, ca=False):
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key or key, hashes.SHA256())
    )


@pytest.fixture
def pass_files(tmp_path):
    """A test CA standing in for Apple's root, an intermediate for the WWDR certificate, a pass cert."""
    root_key, wwdr_key, pass_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _certificate("Test Root", root_key, ca=True)
    wwdr = _certificate("Test WWDR", wwdr_key, root.subject, root_key, ca=True)
    cert = _certificate("Pass Type ID: pass.test.tickets", pass_key, wwdr.subject, wwdr_key)
    files = {"root.pem": root, "wwdr.pem": wwdr, "pass.pem": cert}
    for name, value in files.items():
        (tmp_path / name).write_bytes(value.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "pass.key").write_bytes(
        pass_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return tmp_path


@pytest.fixture
def app_config(app_config, pass_files):
    return {
        **app_config,
        "WALLET_CERT_FILE": str(pass_files / "pass.pem"),
        "WALLET_KEY_FILE": str(pass_files / "pass.key"),
        "WALLET_WWDR_CERT_FILE": str(pass_files / "wwdr.pem"),
        "WALLET_PASS_TYPE_ID": "pass.test.tickets",
        "WALLET_TEAM_ID": "TEAM123456",
    }


def _openssl_verifies(signature, content: bytes, root, folder) -> bool:
    """What Wallet does with a pass: the detached PKCS #7 signature of the manifest, checked up to the root."""
    openssl = shutil.which("openssl")
    require(openssl is not None, "openssl is not installed")
    (folder / "content").write_bytes(content)
    verified = subprocess.run(
        [
            openssl,
            "smime",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(signature),
            "-content",
            str(folder / "content"),
            "-CAfile",
            str(root),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
    )
    return verified.returncode == 0


def _paid_ticket(app, engine, event):
    signer = app.extensions["tickethub.keys"].current()
    with engine.connect() as conn:
        held = hold_seats(conn, event["id"], [("A", "1", "1")])
        order = purchase(
            conn, held["hold_id"], held["hold_token"], {"name": "Ada", "email": "a@example.org"}, "box_office", signer
        )
        order = confirm_payment(conn, order["id"], signer)
    return order, order["tickets"][0]


def test_a_ticket_pass_is_signed_and_carries_the_ticket_code(app, engine, event, pass_files, tmp_path):
    order, ticket = _paid_ticket(app, engine, event)
    client = app.test_client()
    base = f"/orders/{order['id']}/{order['access_token']}/tickets/{ticket['ticket_id']}"
    assert "Add to Apple Wallet" in client.get(base).get_data(as_text=True)
    response = client.get(base + ".pkpass")
    assert response.status_code == 200 and response.mimetype == "application/vnd.apple.pkpass"

    bundle = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(bundle.namelist())
    assert {"pass.json", "manifest.json", "signature", "icon.png", "icon@2x.png"} <= names
    manifest = json.loads(bundle.read("manifest.json"))
    assert set(manifest) == names - {"manifest.json", "signature"}
    assert all(hashlib.sha1(bundle.read(name)).hexdigest() == digest for name, digest in manifest.items())

    card = json.loads(bundle.read("pass.json"))
    assert card["passTypeIdentifier"] == "pass.test.tickets" and card["teamIdentifier"] == "TEAM123456"
    assert card["eventTicket"]["primaryFields"][0]["value"] == event["title"]
    [barcode] = card["barcodes"]
    assert barcode["format"] == "PKBarcodeFormatQR" and barcode["message"] == ticket["code"]
    checked = verify_ticket(barcode["message"], app.extensions["tickethub.keys"].keyring(), event_time(event))
    assert checked.ticket is not None and checked.ticket.ticket_id == ticket["ticket_id"]

    (tmp_path / "signature").write_bytes(bundle.read("signature"))
    assert _openssl_verifies(tmp_path / "signature", bundle.read("manifest.json"), pass_files / "root.pem", tmp_path)
    one_byte_changed = bundle.read("manifest.json") + b" "
    assert not _openssl_verifies(tmp_path / "signature", one_byte_changed, pass_files / "root.pem", tmp_path)


def test_no_pass_for_a_refunded_ticket_or_without_a_certificate(app, engine, event):
    order, ticket = _paid_ticket(app, engine, event)
    client = app.test_client()
    base = f"/orders/{order['id']}/{order['access_token']}/tickets/{ticket['ticket_id']}"
    from hub.services.orders import refund

    with engine.connect() as conn:
        refund(conn, order["id"])
    assert client.get(base + ".pkpass").status_code == 410
    app.config["WALLET_CERT_FILE"] = ""
    app.extensions.pop("tickethub.wallet", None)
    assert client.get(base + ".pkpass").status_code == 404
    assert "Add to Apple Wallet" not in client.get(base).get_data(as_text=True)
