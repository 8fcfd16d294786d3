"""Outgoing mail through a real SMTP server (aiosmtpd on loopback), and the outbox fallback."""

from __future__ import annotations

import email
import logging
import time
from datetime import UTC, datetime
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from common.signing import Keyring, SigningKey, sign_ticket, verify_ticket
from common.signing.shortcode import parse_short_code
from hub import mail
from hub.delivery import TicketCard
from hub.delivery.pdf import tickets_pdf
from tests.hub.web.support import pdf_pages, read_pdf_qr
from tests.support import free_port


class Collector:
    """aiosmtpd handler that keeps every accepted message."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.auth_data))
        return "250 OK"


@pytest.fixture
def smtp_server():
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, collector
    controller.stop()


@pytest.fixture
def smtp_server_with_auth():
    collector = Collector()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"hub" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    controller = Controller(
        collector, hostname="127.0.0.1", port=free_port(), authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    yield controller, collector
    controller.stop()


@pytest.fixture(scope="module")
def key():
    return SigningKey.from_seed(bytes(32))


def _cards(key):
    when = datetime(2026, 12, 5, 19, 30, tzinfo=UTC)
    return [
        TicketCard(
            ticket_id=tid,
            text=sign_ticket(key, event_id=3, ticket_id=tid, ticket_type=1, zones=[2], seat=seat),
            event_title="Brass Night",
            starts_at=when,
            venue_name="Town Hall",
            ticket_type_name="Adult",
            buyer_name="Ada Lovelace",
            section="B",
            row="1",
            seat=str(seat),
            zone_name="Stalls",
        )
        for tid, seat in ((501, 4), (502, 5))
    ]


def _confirmation(key):
    cards = _cards(key)
    return mail.purchase_confirmation(
        to="ada@example.org",
        buyer_name="Ada Lovelace",
        order_code="K7Q2",
        order_url="http://hub/o/K7Q2",
        total="EUR 50.00",
        cards=cards,
        ticket_urls=[f"http://hub/t/{c.ticket_id}" for c in cards],
        pdf=tickets_pdf(cards),
    ), cards


def test_confirmation_arrives_over_smtp_with_pdf_whose_qr_verifies(smtp_server, key, tmp_path):
    controller, collector = smtp_server
    settings = mail.MailSettings(
        outbox=tmp_path / "outbox", host=controller.hostname, port=controller.port, sender="Hub <tickets@hub.test>"
    )
    message, cards = _confirmation(key)

    assert mail.send(settings, message) == mail.SENT

    assert not (tmp_path / "outbox").exists()
    [(mail_from, rcpt_tos, content, _login)] = collector.envelopes
    assert mail_from == "tickets@hub.test" and rcpt_tos == ["ada@example.org"]
    received = email.message_from_bytes(content, policy=policy.default)
    assert "order K7Q2" in received["Subject"]
    body = received.get_body(("plain",)).get_content()
    assert "http://hub/t/501" in body and "http://hub/t/502" in body
    for card in cards:  # the short code door staff type when a QR will not scan
        assert f"code {card.short_code}:" in body
        assert parse_short_code(card.short_code) == card.ticket_id
    html = received.get_body(("html",)).get_content()
    assert '<a href="http://hub/t/501">Section B · Row 1 · Seat 4</a>' in html
    assert f"code <strong>{cards[0].short_code}</strong>" in html
    [attachment] = list(received.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pdf = attachment.get_content()
    assert pdf_pages(pdf) == 2
    keyring = Keyring([key.public_entry()])
    for page, card in enumerate(cards):
        qr = read_pdf_qr(pdf, page)
        assert qr.text == card.text
        verdict = verify_ticket(qr.text, keyring, time.time())
        assert verdict.valid and verdict.ticket.ticket_id == card.ticket_id


def test_smtp_login_uses_configured_credentials(smtp_server_with_auth, tmp_path):
    controller, collector = smtp_server_with_auth
    settings = mail.MailSettings.from_config(
        {
            "SMTP_HOST": controller.hostname,
            "SMTP_PORT": str(controller.port),
            "SMTP_USER": "hub",
            "SMTP_PASSWORD": "s3cret",
            "SMTP_FROM": "tickets@hub.test",
        },
        tmp_path / "outbox",
    )
    message = mail.password_reset(to="bob@example.org", reset_url="http://hub/reset/abc", valid_minutes=30)

    assert mail.send(settings, message) == mail.SENT
    [(_from, _to, content, login)] = collector.envelopes
    assert login.login == b"hub"
    assert "http://hub/reset/abc" in content.decode()


def test_wrong_smtp_password_keeps_message_in_outbox(smtp_server_with_auth, tmp_path, caplog):
    controller, collector = smtp_server_with_auth
    settings = mail.MailSettings(
        outbox=tmp_path / "outbox", host=controller.hostname, port=controller.port, user="hub", password="wrong"
    )
    message = mail.refund_notice(
        to="c@example.org", buyer_name="C", order_code="X1", event_title="Gig", amount="EUR 5.00", tickets=["Seat 9"]
    )
    with caplog.at_level(logging.ERROR, logger="hub.mail"):
        assert mail.send(settings, message) == mail.OUTBOX
    assert collector.envelopes == []
    [kept] = (tmp_path / "outbox").glob("*.eml")
    assert "Refund for order X1" in kept.read_text()
    assert any("failed" in record.message for record in caplog.records)


def test_unset_smtp_host_writes_eml_to_outbox(key, tmp_path, monkeypatch):
    monkeypatch.delenv("TICKETHUB_SMTP_HOST", raising=False)
    settings = mail.MailSettings.from_config({}, tmp_path / "outbox")
    assert settings.host is None
    message, cards = _confirmation(key)

    assert mail.send(settings, message) == mail.OUTBOX
    [eml] = (tmp_path / "outbox").glob("*.eml")
    restored = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert restored["To"] == "Ada Lovelace <ada@example.org>"
    [attachment] = list(restored.iter_attachments())
    assert read_pdf_qr(attachment.get_content(), 0).text == cards[0].text
    assert list((tmp_path / "outbox").glob("*.part")) == []


def test_unreachable_smtp_server_keeps_message_in_outbox(tmp_path):
    settings = mail.MailSettings(outbox=tmp_path / "outbox", host="127.0.0.1", port=free_port(), timeout=5)
    message = mail.event_reminder(
        to="d@example.org",
        buyer_name="D",
        order_code="R2",
        event_title="Gig",
        when="tomorrow 20:00",
        venue="Club",
        order_url="http://hub/o/R2",
    )
    assert mail.send(settings, message) == mail.OUTBOX
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_env_vars_configure_smtp(monkeypatch, tmp_path):
    from hub.config import load_config

    monkeypatch.setenv("TICKETHUB_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("TICKETHUB_SMTP_PORT", "587")
    monkeypatch.setenv("TICKETHUB_SMTP_STARTTLS", "true")
    monkeypatch.setenv("TICKETHUB_SMTP_FROM", "box@example.org")
    settings = mail.MailSettings.from_config(load_config(tmp_path), tmp_path)
    assert (settings.host, settings.port, settings.starttls, settings.sender) == (
        "mail.example.org",
        587,
        True,
        "box@example.org",
    )


def _tls_files(folder):
    """A private CA and a certificate for 127.0.0.1 it signed (PEM files)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test CA"))
        .issuer_name(name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {n: folder / f"{n}.pem" for n in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def test_starttls_is_used_and_the_server_certificate_checked(tmp_path):
    import ssl

    paths = _tls_files(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(paths["cert"], paths["key"])
    collector = Collector()
    controller = Controller(
        collector, hostname="127.0.0.1", port=free_port(), tls_context=server_tls, require_starttls=True
    )
    controller.start()
    try:
        message = mail.password_reset(to="e@example.org", reset_url="http://hub/reset/xyz", valid_minutes=30)
        trusted = mail.MailSettings(
            outbox=tmp_path / "outbox", host="127.0.0.1", port=controller.port, starttls=True, ca_file=str(paths["ca"])
        )
        assert mail.send(trusted, message) == mail.SENT
        assert len(collector.envelopes) == 1

        untrusted = mail.MailSettings(
            outbox=tmp_path / "outbox", host="127.0.0.1", port=controller.port, starttls=True
        )  # system CAs only: the private certificate is refused
        assert mail.send(untrusted, message) == mail.OUTBOX
        plain = mail.MailSettings(outbox=tmp_path / "outbox", host="127.0.0.1", port=controller.port)
        assert mail.send(plain, message) == mail.OUTBOX  # the server insists on STARTTLS
        assert len(collector.envelopes) == 1 and len(list((tmp_path / "outbox").glob("*.eml"))) == 2
    finally:
        controller.stop()


def test_confirmation_html_escapes_buyer_text(key):
    cards = _cards(key)
    message = mail.purchase_confirmation(
        to="x@example.org",
        buyer_name='<img src=x onerror="alert(1)">',
        order_code="Z9",
        order_url="http://hub/o/Z9",
        total="EUR 1.00",
        cards=cards,
        ticket_urls=["http://hub/t/1?a=1&b=2", "http://hub/t/2"],
        pdf=b"%PDF-1.4",
    )
    html = message.get_body(("html",)).get_content()
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert 'href="http://hub/t/1?a=1&amp;b=2"' in html
