"""`tickethub demo`: issue a ticket, render its QR, read it back and verify it."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from common.signing import Keyring, create_key, load_current_key, sign_ticket, verify_ticket
from common.signing.qr import save_qr


@click.command("demo")
@click.option("--out", default="demo-output", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's keys and QR images.")
def demo_command(out: Path) -> None:
    """Issue a seated ticket, write its QR PNG, decode it as a gate would, and verify it."""
    import numpy as np
    import zxingcpp
    from PIL import Image

    key_dir = out / "keys"
    step = _stepper(5)
    if (key_dir / "keyring.json").exists():
        key = load_current_key(key_dir)
        step(f"reusing signing key {key.kid} in {key_dir}")
    else:
        key = create_key(key_dir)
        step(f"created signing key {key.kid} in {key_dir} (private key mode 0600)")

    # No per-ticket validity window: the gate's event configuration holds the
    # event's dates, which keeps a seated ticket at QR version 5.
    text = sign_ticket(key, event_id=1, ticket_id=1001, ticket_type=1, zones=[1], seat=57)
    step(f"signed ticket (event 1, ticket 1001, seat 57): {text}")

    png = out / "ticket-1001.png"
    qr = save_qr(text, png)
    save_qr(text, out / "ticket-1001-dark.png", dark="white", light="#111111")
    step(f"wrote {png} and a dark-mode copy: QR version {qr.version}, ECC {qr.error}")

    results = zxingcpp.read_barcodes(np.asarray(Image.open(png).convert("L")),
                                     formats=zxingcpp.BarcodeFormat.QRCode)
    decoded = results[0].text if results else None
    step(f"decoded the PNG with zxing-cpp: {'same text' if decoded == text else decoded!r}")

    keyring = Keyring.load(key_dir / "keyring.json")
    verdict = verify_ticket(decoded, keyring, time.time())
    step("verified with the public keyring only: " + json.dumps(verdict.to_json()))
    tampered = text[:-3] + ("AAA" if text[-3:] != "AAA" else "BBB")
    click.echo(f"    a tampered copy is refused: {verify_ticket(tampered, keyring, time.time()).reason}")
    if not verdict.valid:
        raise click.ClickException("demo ticket did not verify")


def _stepper(total: int):
    count = 0

    def step(message: str) -> None:
        nonlocal count
        count += 1
        click.echo(f"[{count}/{total}] {message}")

    return step
