"""The hub's ticket signing keys: created on first need, loaded once, reloaded on rotation."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from common.signing import KEYRING_FILE, Keyring, SigningKey, create_key, load_current_key

log = logging.getLogger(__name__)


class HubKeys:
    """Holds the current signing key; picks up a new key when keyring.json changes."""

    def __init__(self, directory: str | Path, passphrase: bytes | None = None):
        self.directory = Path(directory)
        self.passphrase = passphrase
        self._lock = threading.Lock()
        self._key: SigningKey | None = None
        self._stamp: float | None = None

    def ensure(self) -> SigningKey:
        """Create the first key when the directory has none."""
        with self._lock:
            if not (self.directory / KEYRING_FILE).exists():
                key = create_key(self.directory, self.passphrase)
                log.info("created ticket signing key %s in %s", key.kid, self.directory)
        return self.current()

    def current(self) -> SigningKey:
        path = self.directory / KEYRING_FILE
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return self.ensure()
        if self._key is None or stamp != self._stamp:
            with self._lock:
                self._key = load_current_key(self.directory, self.passphrase)
                self._stamp = stamp
        return self._key

    def keyring_document(self) -> dict:
        """The public keyring as written by create_key (signed by the newest key)."""
        self.current()
        return json.loads((self.directory / KEYRING_FILE).read_text("utf-8"))

    def keyring(self) -> Keyring:
        return Keyring.from_document(self.keyring_document())
