"""Enrol a gate with the hub: make the device key, redeem the one-time token, install the answer."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import requests

from common.signing import SigningKey

from ..config import GateDataError
from ..offline_store import OfflineStore
from ..offline_store.store import StoreError
from .apply import install_config, install_keyring, install_revocations
from .client import USER_AGENT
from .identity import DeviceIdentity, save_identity

log = logging.getLogger(__name__)

ENROL_QR_PREFIX = "TGE1:"


class EnrolmentError(Exception):
    """The hub refused the token, or could not be reached."""


def parse_enrolment_text(text: str) -> tuple[str, str]:
    """``TGE1:<token>@<hub url>`` (the enrolment QR) -> (hub url, token)."""
    text = (text or "").strip()
    if not text.startswith(ENROL_QR_PREFIX) or "@" not in text:
        raise EnrolmentError("not an enrolment code (expected TGE1:<token>@<hub url>)")
    token, _, hub = text[len(ENROL_QR_PREFIX) :].partition("@")
    if not token or not hub.startswith(("http://", "https://")):
        raise EnrolmentError("the enrolment code needs a token and an http(s) hub URL")
    return hub, token


def enroll(data_dir: Path, hub_url: str, token: str, timeout: float = 15.0) -> dict:
    """Create the device key, register it with the token, and write the data folder."""
    data_dir = Path(data_dir)
    try:  # before the hub spends the token: a folder we cannot write would waste it
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {data_dir}")
    except OSError as exc:
        raise EnrolmentError(f"cannot use {data_dir} as the gate's data folder: {exc}") from None
    key = SigningKey.generate()
    public_key = base64.b64encode(key.public_raw).decode("ascii")
    url = hub_url.rstrip("/") + "/api/v1/enrol"
    try:
        response = requests.post(
            url, json={"token": token, "public_key": public_key}, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
    except requests.RequestException as exc:
        raise EnrolmentError(f"cannot reach the hub at {hub_url}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 201 or not isinstance(body, dict):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise EnrolmentError(
            f"the hub refused the enrolment ({response.status_code} "
            f"{error.get('code', '')}): {error.get('message', response.reason)}"
        )
    try:
        keyring = install_keyring(data_dir, body["keyring"], None)
        install_revocations(data_dir, body["revocations"], keyring)
        config = install_config(data_dir, body["config"], hub_url.rstrip("/"))
    except (KeyError, TypeError) as exc:
        raise EnrolmentError(f"the hub's answer is incomplete: {exc}") from None
    except GateDataError as exc:
        raise EnrolmentError(str(exc)) from None
    except OSError as exc:
        raise EnrolmentError(f"cannot write the gate's data folder {data_dir}: {exc}") from None
    device = body["device"]
    try:
        save_identity(data_dir, DeviceIdentity(device["id"], hub_url.rstrip("/"), body["credential"], key))
        with OfflineStore(data_dir / "gate.db") as store:
            store.set_sync_meta(
                device_id=device["id"],
                keyring_seq=body["keyring"].get("seq", 0),
                revocation_seq=body["revocations"].get("seq", 0),
                config_version=body["config"]["config_version"],
                device_revoked=False,
                cursor=0,
            )
    except (OSError, StoreError) as exc:
        raise EnrolmentError(f"cannot write the gate's data folder {data_dir}: {exc}") from None
    log.info("enrolled as device %s (%s)", device["id"], config.gate_name)
    return {"device": device, "gate_name": config.gate_name, "events": sorted(config.events)}
