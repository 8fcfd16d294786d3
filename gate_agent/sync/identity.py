"""The device's identity in its data folder: its own Ed25519 key and hub credential.

device-key.pem   the device's private key (mode 0600; never leaves the gate)
device.json      device id, hub URL and bearer credential (mode 0600)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from common.signing import KeyFileError, SigningKey

from ..config import GateDataError

DEVICE_FILE = "device.json"
DEVICE_KEY_FILE = "device-key.pem"


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: int
    hub_url: str
    credential: str
    key: SigningKey

    @property
    def public_key_b64(self) -> str:
        import base64

        return base64.b64encode(self.key.public_raw).decode("ascii")


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file atomically, readable by its owner only (0600)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_identity(data_dir: Path, identity: DeviceIdentity) -> None:
    write_private(data_dir / DEVICE_KEY_FILE, identity.key.to_pem())
    doc = {"device_id": identity.device_id, "hub_url": identity.hub_url, "credential": identity.credential}
    write_private(data_dir / DEVICE_FILE, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))


def is_enrolled(data_dir: Path) -> bool:
    return (Path(data_dir) / DEVICE_FILE).exists()


def load_identity(data_dir: Path) -> DeviceIdentity:
    data_dir = Path(data_dir)
    path = data_dir / DEVICE_FILE
    if not path.exists():
        raise GateDataError(
            f"{path} is missing: enrol this gate first with "
            f"`gate-agent enroll --data-dir {data_dir} --hub URL --token TOKEN`"
        )
    try:
        doc = json.loads(path.read_text("utf-8"))
        identity = DeviceIdentity(
            int(doc["device_id"]),
            str(doc["hub_url"]),
            str(doc["credential"]),
            SigningKey.load(data_dir / DEVICE_KEY_FILE),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GateDataError(f"{path} is not a usable device file: {exc}") from None
    except KeyFileError as exc:
        raise GateDataError(str(exc)) from None
    return identity
