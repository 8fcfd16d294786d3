"""The sync client: push unsynced scans, pull changes since the hub's cursor.

Transport: one requests.Session with urllib3 Retry for connection failures and
502/503/504 (a push is idempotent by scan ids, so POST is retried too). Every
call carries the device credential; a push body is also signed with the
device's own key. A 401 ``device_revoked`` locks the gate (sync_meta) and
raises :class:`DeviceRevoked`.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from common.protocol import (
    DEVICE_TIME_HEADER,
    LAST_RTT_HEADER,
    NOTE_MAX_CHARS,
    PEER_PORT_HEADER,
    PUSH_DOMAIN,
    PUSH_MAX_BYTES,
    PUSH_MAX_SCANS,
    REASON_MAX_CHARS,
    SIGNATURE_HEADER,
    encode_push,
)

from ..config import GateDataError, load_config, load_keyring
from ..offline_store import OfflineStore
from .apply import install_config, install_keyring, install_revocations, pulled_movements
from .clock import bounded_clock
from .identity import DeviceIdentity, load_identity

log = logging.getLogger(__name__)

MAX_PULL_PAGES = 50
ATTENDEES_KEPT_AFTER_END_S = 24 * 3600  # a late re-print or dispute the next morning, then forgotten
USER_AGENT = "ticketgate-gate-agent/1"


class SyncError(Exception):
    """The hub could not be reached or refused the call; the scans stay queued."""


class DeviceRevoked(SyncError):
    """The hub revoked this device: it must stop admitting."""


@dataclass
class PushResult:
    sent: int = 0
    acked: int = 0
    batches: int = 0
    heartbeat: bool = False  # nothing was waiting: an empty batch checked the link


@dataclass
class PullResult:
    movements: int = 0
    revocations: bool = False
    keyring: bool = False
    config: bool = False
    cursor: int = 0
    attendees: int = 0


def make_session(retries: int = 2) -> requests.Session:
    retry = Retry(
        total=retries,
        connect=retries,
        read=1,
        status=retries,
        backoff_factor=0.2,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class SyncClient:
    """One gate's link to the hub. Thread-safe enough for one push and one pull job."""

    def __init__(
        self,
        data_dir: Path | str,
        store: OfflineStore,
        gate=None,
        *,
        identity: DeviceIdentity | None = None,
        wall_clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = (3.05, 15.0),
        session: requests.Session | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.store = store
        self.gate = gate  # a running pipeline.Gate whose in-memory data follows the pulls
        self.identity = identity or load_identity(self.data_dir)
        self.wall_clock = bounded_clock(wall_clock)  # sent_at and X-Device-Time stay plausible
        self.timeout = timeout
        self.session = session or make_session()
        self.last_rtt_ms: int | None = None
        # where this gate's peers reach it, told to the hub on each call (docs/peers.md); 0: nowhere (exchange off);
        # None (a one-off `gate-agent sync`): not told, the hub keeps what the running gate said
        self.peer_port: int | None = None
        store.set_sync_meta(device_id=self.identity.device_id)

    @property
    def base(self) -> str:
        return self.identity.hub_url.rstrip("/") + "/api/v1"

    def close(self) -> None:
        self.session.close()

    # --- transport -------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        headers = kwargs.pop("headers", {})
        headers["Authorization"] = f"Bearer {self.identity.credential}"
        started = time.monotonic()
        headers[DEVICE_TIME_HEADER] = repr(self.wall_clock())
        if self.last_rtt_ms is not None:
            headers[LAST_RTT_HEADER] = str(self.last_rtt_ms)
        if self.peer_port is not None:
            headers[PEER_PORT_HEADER] = str(self.peer_port)
        try:
            response = self.session.request(method, self.base + path, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            self._failed(f"hub unreachable: {exc.__class__.__name__}")
            raise SyncError(f"hub {self.identity.hub_url} unreachable: {exc}") from None
        self.last_rtt_ms = int((time.monotonic() - started) * 1000)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 401:
            code = (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None
            if code == "device_revoked":
                self.store.set_sync_meta(device_revoked=True, last_error="device revoked")
                raise DeviceRevoked("the hub revoked this device: it no longer admits anyone")
            self._failed(f"hub refused the credential ({code})")
            raise SyncError(f"the hub refused this device's credential ({code})")
        if response.status_code != 200 or not isinstance(body, dict):
            error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
            self._failed(f"hub answered {response.status_code} {error.get('code', '')}".strip())
            raise SyncError(f"{method} {path}: HTTP {response.status_code} {error.get('message', '')}".strip())
        return body

    def _failed(self, message: str) -> None:
        self.store.set_sync_meta(last_error=message)

    def _succeeded(self, **meta) -> None:
        # never clears device_revoked: a call that succeeded just before the revocation
        # must not re-open the gate (only a new enrolment does)
        self.store.set_sync_meta(last_sync_ok_at=self.wall_clock(), last_error=None, **meta)

    # --- push ------------------------------------------------------------------
    def push_once(self, batch_size: int = PUSH_MAX_SCANS) -> PushResult:
        """Send every scan that was unsynced when called, in signed batches. With nothing to send
        it sends an empty batch: a heartbeat, so "online" always means a real round trip just
        now (and the hub's dashboard sees the gate alive)."""
        result = PushResult()
        offset = None  # hub time minus ours, as the hub measured it
        pending = self.store.unsynced_count()
        batch_size = min(batch_size, PUSH_MAX_SCANS)
        while True:
            scans = [_within_limits(s) for s in self.store.unsynced_scans(batch_size)] if result.sent < pending else []
            body, scans = self._push_body(scans)
            signature = base64.b64encode(self.identity.key.sign(PUSH_DOMAIN + body)).decode("ascii")
            answer = self._call(
                "POST",
                "/sync/push",
                data=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
            )
            acked = answer.get("acked", [])
            offset = answer.get("clock_offset_s", offset)
            self.store.mark_synced(acked)
            for item in answer.get("rejected", []):
                log.warning("hub rejected scan %s: %s", item.get("scan_id"), item.get("code"))
            if not scans:
                result.heartbeat = True
                break
            result.sent += len(scans)
            result.acked += len(acked)
            result.batches += 1
            if not acked or result.sent >= pending:
                break  # done, or nothing moved: do not spin
        self._succeeded(**({"clock_offset_s": offset} if offset is not None else {}))
        return result

    def _push_body(self, scans: list[dict[str, Any]]) -> tuple[bytes, list[dict[str, Any]]]:
        """The body of the longest run of ``scans`` (halved while larger) within PUSH_MAX_BYTES:
        a body the hub refused for its size would be refused again on every retry."""
        unsynced = self.store.unsynced_count()
        while True:
            body = encode_push(self.wall_clock(), self.last_rtt_ms, unsynced - len(scans), scans)
            if len(body) <= PUSH_MAX_BYTES or len(scans) == 1:
                return body, scans
            scans = scans[: len(scans) // 2]

    # --- pull ------------------------------------------------------------------
    def pull_once(self) -> PullResult:
        """Fetch and apply everything since the stored cursors (several pages if needed)."""
        result = PullResult()
        for _ in range(MAX_PULL_PAGES):
            meta = self.store.sync_meta()
            params = {
                "cursor": meta.get("cursor", 0),
                "revocation_seq": meta.get("revocation_seq", 0),
                "keyring_seq": meta.get("keyring_seq", 0),
                "config_version": meta.get("config_version", 0),
                "roster_seq": meta.get("roster_seq", 0),
            }
            answer = self._call("GET", "/sync/pull", params=params)
            if self._apply(answer, result):
                continue  # moved to another event: pull it from the start
            result.cursor = answer["cursor"]
            if not answer.get("more") and not (answer.get("roster") or {}).get("more"):
                break
        self._forget_past_attendees()
        self._succeeded()
        return result

    def _forget_past_attendees(self) -> None:
        """Names are kept only while they are needed: for the events this gate serves, until
        ATTENDEES_KEPT_AFTER_END_S after each one ended (docs/operations.md, "Personal data on a gate")."""
        events = self.gate.data.config.events if self.gate is not None else None
        if events is None:
            try:
                events = load_config(self.data_dir).events
            except GateDataError:
                return
        now = self.wall_clock()
        keep = [e.event_id for e in events.values() if e.ends is None or now < e.ends + ATTENDEES_KEPT_AFTER_END_S]
        gone = self.store.forget_attendees(keep)
        if gone:
            log.info("forgot %d attendee(s) of events this gate no longer serves or that ended", gone)

    def _apply(self, answer: dict[str, Any], result: PullResult) -> bool:
        """Install one pull answer. True when the gate was moved to other events: its
        cursors are reset and this answer's movements (for the old cursor) are dropped."""
        keyring = self.gate.data.keyring if self.gate is not None else self._disk_keyring()
        if answer.get("keyring"):
            new = install_keyring(self.data_dir, answer["keyring"], keyring)
            if new.seq != keyring.seq or set(e.kid for e in new) != set(e.kid for e in keyring):
                result.keyring = True
            keyring = new
            if self.gate is not None:
                self.gate.data.keyring = new
            self.store.set_sync_meta(keyring_seq=answer["keyring"].get("seq", 0))
        if answer.get("revocations"):
            revocations = install_revocations(self.data_dir, answer["revocations"], keyring)
            if self.gate is not None:
                self.gate.data.revocations = revocations
            self.store.set_sync_meta(revocation_seq=revocations.seq)
            result.revocations = True
        if answer.get("config"):
            before = self._event_ids()
            config = install_config(self.data_dir, answer["config"], self.identity.hub_url)
            if self.gate is not None:
                self.gate.data.config = config
            result.config = True
            if before is not None and set(config.events) != before:
                # other events: their movements, revocations and attendees from the start; the old
                # events' attendees are forgotten at once
                self.store.forget_attendees(config.events, roster_seq=0)
                self.store.set_sync_meta(config_version=answer["config"]["config_version"], cursor=0, revocation_seq=0)
                return True
            self.store.set_sync_meta(config_version=answer["config"]["config_version"])
        movements = pulled_movements(answer.get("movements", []))
        result.movements += self.store.apply_movements(movements, cursor=answer["cursor"])
        roster = answer.get("roster")
        if roster:  # a hub from before the attendee list sends none
            result.attendees += self.store.add_attendees(roster.get("tickets", []), roster_seq=roster["seq"])
        return False

    def _event_ids(self) -> set[int] | None:
        if self.gate is not None:
            return set(self.gate.data.config.events)
        try:
            return set(load_config(self.data_dir).events)
        except GateDataError:
            return None

    def _disk_keyring(self):
        try:
            return load_keyring(self.data_dir / "keyring.json")
        except GateDataError:
            return None


def _within_limits(scan: dict[str, Any]) -> dict[str, Any]:
    """A push item the hub accepts: a reason is advisory text, cut to REASON_MAX_CHARS (gate.db
    keeps it whole) rather than have the hub refuse the whole batch on every retry."""
    reason, note = scan.get("reason"), scan.get("note")
    if isinstance(reason, str) and len(reason) > REASON_MAX_CHARS:
        scan = {**scan, "reason": reason[:REASON_MAX_CHARS]}
    if isinstance(note, str) and len(note) > NOTE_MAX_CHARS:
        scan = {**scan, "note": note[:NOTE_MAX_CHARS]}
    return scan
