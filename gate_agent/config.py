"""The gate's data folder: configuration, keyring and revocation list.

Layout (docs/operations.md, "Gate data folder"):

    keyring.json      public keyring from the hub (no private keys, ever)
    revocations.json  signed revocation list (optional; missing = nothing revoked)
    gate.json         this gate's configuration (events, zones, direction, re-entry)
    gate.db           the offline store (gate_agent.offline_store)

Configuration is layered: typed defaults, then gate.json, then ``GATE_*``
environment variables. Every variable the gate reads is listed once, in
``SETTINGS`` (docs/configuration.md is written from it). Every problem raises
:class:`GateDataError` with a message an operator can act on; the CLI shows it
without a traceback.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.protocol import (
    DEFAULT_DIRECTION,
    DIRECTIONS,
    OFFLINE_AFTER_S,
    PEER_PORT_DEFAULT,
    REENTRY_POLICIES,
    format_utc,
)
from common.signing import Keyring, KeyringError, RevocationList, RevocationListError

KEYRING_FILE = "keyring.json"
REVOCATIONS_FILE = "revocations.json"
CONFIG_FILE = "gate.json"
DB_FILE = "gate.db"
CONFIG_VERSION = 1

MAX_ZONE = 16


class GateDataError(Exception):
    """The data folder is missing, incomplete or holds a file that cannot be used."""


@dataclass(frozen=True)
class TicketTypeConfig:
    """A ticket type of an event as the hub describes it: its name (shown at ADMIT) and its own
    validity (Unix seconds; a missing bound is the event's window)."""

    type_id: int
    name: str = ""
    valid_from: int | None = None
    valid_until: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.type_id,
            "name": self.name,
            "valid_from": format_utc(self.valid_from),
            "valid_until": format_utc(self.valid_until),
        }


@dataclass(frozen=True)
class EventConfig:
    """One event this gate admits. Window bounds are Unix seconds; they apply
    when neither the ticket nor its type carries a window. ``timezone``: the zone the event's
    times are shown in at the door (None: the gate's). ``supervisor_pin_hash``: common.pin's hash
    of the PIN that allows undo and override for this event (None: not allowed)."""

    event_id: int
    name: str = ""
    doors_open: int | None = None
    ends: int | None = None
    seat_labels: tuple[str, ...] = ()
    starts_at: int | None = None
    timezone: str | None = None
    show_names: bool = False
    supervisor_pin_hash: str | None = None
    ticket_types: Mapping[int, TicketTypeConfig] = field(default_factory=dict)

    @property
    def tz(self):
        return ZoneInfo(self.timezone) if self.timezone else None

    def seat_label(self, seat: int | None) -> str | None:
        if seat is None:
            return None
        if 0 <= seat < len(self.seat_labels):
            return self.seat_labels[seat]
        return f"Seat {seat}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event_id": self.event_id}
        if self.name:
            out["name"] = self.name
        if self.doors_open is not None:
            out["doors_open"] = format_utc(self.doors_open)
        if self.ends is not None:
            out["ends"] = format_utc(self.ends)
        if self.seat_labels:
            out["seat_labels"] = list(self.seat_labels)
        if self.starts_at is not None:
            out["starts_at"] = format_utc(self.starts_at)
        if self.timezone:
            out["timezone"] = self.timezone
        if self.show_names:
            out["show_names"] = True
        if self.supervisor_pin_hash:
            out["supervisor_pin_hash"] = self.supervisor_pin_hash
        if self.ticket_types:
            out["ticket_types"] = [t.to_json() for _, t in sorted(self.ticket_types.items())]
        return out


@dataclass(frozen=True)
class GateConfig:
    gate_id: str = "gate"
    gate_name: str = "Gate"
    events: Mapping[int, EventConfig] = field(default_factory=dict)
    zones: frozenset[int] = frozenset()  # empty: this gate admits every zone
    direction: str = DEFAULT_DIRECTION
    reentry: str = "single"
    timezone: str | None = None  # None: the machine's local time zone
    hub_url: str | None = None
    cooldown_s: float = 2.0  # same code seen again by the camera within this is ignored
    # the organizer's other events, by title and start only: a wrong-event verdict names the event
    other_events: Mapping[int, EventConfig] = field(default_factory=dict)

    @property
    def tz(self):
        return ZoneInfo(self.timezone) if self.timezone else None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CONFIG_VERSION,
            "gate_id": self.gate_id,
            "gate_name": self.gate_name,
            "direction": self.direction,
            "reentry": self.reentry,
            "zones": sorted(self.zones),
            "timezone": self.timezone,
            "hub_url": self.hub_url,
            "cooldown_s": self.cooldown_s,
            "events": [e.to_json() for e in sorted(self.events.values(), key=lambda e: e.event_id)],
            "other_events": [e.to_json() for e in sorted(self.other_events.values(), key=lambda e: e.event_id)],
        }


@dataclass
class GateData:
    """Everything a gate needs to decide a verdict, loaded from one folder."""

    data_dir: Path
    config: GateConfig
    keyring: Keyring
    revocations: RevocationList

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE


# --- GATE_* variables --------------------------------------------------------


class Setting(NamedTuple):
    """One ``GATE_*`` variable: the gate.json field it overrides (None: the variable is the only
    source), its default, how its text is read (ValueError naming the variable or field), and one
    sentence of help."""

    variable: str
    field: str | None
    default: Any
    parse: Callable[[str], Any]
    help: str


def _seconds(variable: str, default: float, positive: bool = False) -> Callable[[str], float]:
    """Seconds as text; empty: the default."""

    def parse(raw: str) -> float:
        if not raw.strip():
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{variable} must be a number of seconds, got {raw!r}") from None
        if positive and not value > 0:
            raise ValueError(f"{variable} must be positive")
        return value

    return parse


def _gpio_pin(variable: str, raw: str) -> int | None:
    if not raw.strip():
        return None
    if not raw.strip().isdigit() or not 0 <= int(raw) <= 27:
        raise ValueError(f"{variable} must be a GPIO number 0..27 (BCM), got {raw!r}")
    return int(raw)


def parse_exposure(text: str | None) -> float | None:
    """Seconds from "1/120", "8ms" or "0.008"; None for "auto" or nothing. ValueError otherwise."""
    raw = (text or "").strip().lower()
    if raw in ("", "auto"):
        return None
    try:
        if "/" in raw:
            num, _, den = raw.partition("/")
            seconds = float(num) / float(den)
        elif raw.endswith("ms"):
            seconds = float(raw[:-2]) / 1000
        else:
            seconds = float(raw.removesuffix("s"))
    except (ValueError, ZeroDivisionError):
        seconds = math.nan
    if not 0 < seconds <= 1:  # also refuses nan
        raise ValueError(f"exposure must be 'auto' or a time up to 1 s such as 1/120, 8ms or 0.008, got {text!r}")
    return seconds


def _cooldown(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan  # refused by _number with the variable's name
    return _number({"GATE_COOLDOWN_S": seconds}, "GATE_COOLDOWN_S", 0.0)


def _port(raw: str) -> int:
    if not raw.strip().isdigit() or not 0 <= int(raw) <= 65535:
        raise ValueError(f"GATE_PORT must be a port number 0..65535, got {raw!r}")
    return int(raw)


def _flag(variable: str) -> Callable[[str], bool]:
    """On or off as text (1/0, true/false, yes/no, on/off)."""

    def parse(raw: str) -> bool:
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("", "0", "false", "no", "off"):
            return False
        raise ValueError(f"{variable} must be on or off, got {raw!r}")

    return parse


def _peer_port(raw: str) -> int:
    if not raw.strip().isdigit() or not 0 <= int(raw) <= 65535:
        raise ValueError(f"GATE_PEER_PORT must be a port number 0..65535, got {raw!r}")
    return int(raw)


def _peer_addresses(raw: str) -> tuple[str, ...]:
    """``host:port`` entries separated by commas or spaces ([v6]:port for IPv6)."""
    out = []
    for entry in (p for p in re.split(r"[,\s]+", raw.strip()) if p):
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"GATE_PEERS must list host:port entries, got {entry!r}")
        out.append(entry)
    return tuple(out)


# Every GATE_* variable, in the order docs/configuration.md lists them (docs/make_configuration.py
# writes the table; tests/gate_agent/test_config.py fails when a variable read in gate_agent/ is missing).
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "GATE_DATA_DIR",
        None,
        None,
        str,
        "the data folder (`keyring.json`, `gate.json`, `revocations.json`, `gate.db`), instead of `--data-dir`.",
    ),
    Setting(
        "GATE_ID",
        "gate_id",
        GateConfig.gate_id,
        lambda raw: _text({"GATE_ID": raw}, "GATE_ID", ""),
        "this gate's id, recorded with every scan.",
    ),
    Setting(
        "GATE_NAME",
        "gate_name",
        GateConfig.gate_name,
        lambda raw: _text({"GATE_NAME": raw}, "GATE_NAME", ""),
        "the name the door page shows.",
    ),
    Setting(
        "GATE_ZONES",
        "zones",
        GateConfig.zones,
        lambda raw: parse_zones(raw),
        f"zones this gate admits, e.g. `1,2` (1..{MAX_ZONE}); empty: every zone.",
    ),
    Setting(
        "GATE_DIRECTION",
        "direction",
        GateConfig.direction,
        lambda raw: _choice({"direction": raw}, "direction", DIRECTIONS, ""),
        "`entry` admits tickets, `exit` lets holders out (for re-entry).",
    ),
    Setting(
        "GATE_REENTRY",
        "reentry",
        GateConfig.reentry,
        lambda raw: _choice({"reentry": raw}, "reentry", REENTRY_POLICIES, ""),
        "`single`: one admission per ticket; `reentry`: again after an exit; `unlimited`: always.",
    ),
    Setting(
        "GATE_TIMEZONE",
        "timezone",
        GateConfig.timezone,
        lambda raw: _timezone(raw or None),
        "IANA time zone of the times shown at the door and by `gate-agent status`, e.g. `Europe/Berlin`; "
        "empty: the machine's.",
    ),
    Setting(
        "GATE_HUB_URL",
        "hub_url",
        GateConfig.hub_url,
        lambda raw: raw or None,
        "the hub this gate syncs with (set by `gate-agent enroll`).",
    ),
    Setting(
        "GATE_COOLDOWN_S",
        "cooldown_s",
        GateConfig.cooldown_s,
        _cooldown,
        "seconds in which the camera seeing the same code again is ignored.",
    ),
    Setting("GATE_PORT", None, 8080, _port, "port of the door page (`gate-agent run --port`)."),
    Setting(
        "GATE_PUSH_INTERVAL_S",
        None,
        2.0,
        _seconds("GATE_PUSH_INTERVAL_S", 2.0, positive=True),
        "seconds between pushes of scans to the hub (and one right after each scan).",
    ),
    Setting(
        "GATE_PULL_INTERVAL_S",
        None,
        5.0,
        _seconds("GATE_PULL_INTERVAL_S", 5.0, positive=True),
        "seconds between pulls of other gates' scans, revocations, keys and configuration.",
    ),
    Setting(
        "GATE_SYNC_MAX_BACKOFF_S",
        None,
        60.0,
        _seconds("GATE_SYNC_MAX_BACKOFF_S", 60.0, positive=True),
        "the longest wait between tries while the hub is unreachable.",
    ),
    Setting(
        "GATE_OFFLINE_AFTER_S",
        None,
        OFFLINE_AFTER_S,
        _seconds("GATE_OFFLINE_AFTER_S", OFFLINE_AFTER_S, positive=True),
        "the door page shows OFFLINE when the last successful exchange with the hub (an idle gate "
        "sends a heartbeat every push interval) is older than this.",
    ),
    Setting(
        "GATE_CAMERA_STALL_S",
        None,
        3.0,
        _seconds("GATE_CAMERA_STALL_S", 3.0, positive=True),
        "the door page shows CAMERA STOPPED when the camera delivers no new frame, or only a black or "
        "unchanging picture, for this long.",
    ),
    Setting(
        "GATE_SOUND",
        None,
        False,
        _flag("GATE_SOUND"),
        "`on`: the door page beeps from the start (a high tone to admit, a low double tone to stop); "
        "staff can still switch it off on the screen.",
    ),
    Setting(
        "GATE_EXPOSURE",
        None,
        1 / 120,
        lambda raw: parse_exposure(raw) if raw.strip() else 1 / 120,
        "camera exposure (`gate-agent run --exposure`): `1/120` (default) keeps a phone moving into view sharp "
        "(docs/performance.md); `auto` leaves it to the camera; also `8ms` or `0.008`. Set on V4L2 cameras and "
        "the Pi camera; other sources ignore it.",
    ),
    Setting(
        "GATE_MOTION_FUSION",
        None,
        True,
        _flag("GATE_MOTION_FUSION"),
        "`on` (default): when a camera frame misses, the decoder deblurs the part of the picture that moved "
        "together with the previous frame, which often reads a phone still sliding into view 1-3 frames "
        "earlier (a median 30 ms of CPU on such a frame instead of 13 ms, 1-2 ms more on still ones; a gain "
        "at a 1/120 s shutter, none at 1/60 s: docs/performance.md). `off` on a device too slow for it.",
    ),
    Setting(
        "GATE_GPIO_ADMIT_PIN",
        None,
        None,
        lambda raw: _gpio_pin("GATE_GPIO_ADMIT_PIN", raw),
        "Raspberry Pi GPIO (BCM number) switched on for `GATE_GPIO_PULSE_S` on ADMIT, e.g. a green light or "
        "a turnstile relay; empty: none (needs gpiozero).",
    ),
    Setting(
        "GATE_GPIO_STOP_PIN",
        None,
        None,
        lambda raw: _gpio_pin("GATE_GPIO_STOP_PIN", raw),
        "Raspberry Pi GPIO (BCM number) switched on for `GATE_GPIO_PULSE_S` on STOP, e.g. a red light; empty: none.",
    ),
    Setting(
        "GATE_GPIO_PULSE_S",
        None,
        1.0,
        _seconds("GATE_GPIO_PULSE_S", 1.0, positive=True),
        "how long a GPIO output stays on after a verdict.",
    ),
    Setting(
        "GATE_CLOCK_OFFSET_S",
        None,
        0.0,
        _seconds("GATE_CLOCK_OFFSET_S", 0.0),
        "shifts the gate's clock by this many seconds (tests and drills of a gate whose clock is wrong).",
    ),
    # gate-to-gate exchange of admissions and exits (docs/peers.md); only an enrolled gate takes part
    Setting(
        "GATE_PEERS_ENABLED",
        None,
        True,
        _flag("GATE_PEERS_ENABLED"),
        "exchange signed admissions and exits directly with the event's other gates on the LAN "
        "(so a ticket used here is refused there while the hub is down); `false` switches it off.",
    ),
    Setting(
        "GATE_PEER_HOST",
        None,
        "0.0.0.0",
        str,
        "address the peer exchange listens on; mDNS announces the gate on that interface "
        "(a loopback address: on loopback only).",
    ),
    Setting(
        "GATE_PEER_PORT",
        None,
        PEER_PORT_DEFAULT,
        _peer_port,
        "TCP port the event's other gates send this gate's peer messages to (0: any free port).",
    ),
    Setting(
        "GATE_PEER_MDNS",
        None,
        True,
        _flag("GATE_PEER_MDNS"),
        "find the event's other gates by mDNS/zeroconf besides the addresses the hub lists; `false`: hub list only.",
    ),
    Setting(
        "GATE_PEERS",
        None,
        None,
        _peer_addresses,
        "fixed peer addresses `host:port,...` besides mDNS and the hub's list (networks without multicast).",
    ),
)
SETTING: dict[str, Setting] = {s.variable: s for s in SETTINGS}


def setting_from_env(variable: str, environ: Mapping[str, str] | None = None) -> Any:
    """A variable's value (its default when unset); ValueError naming it when its text is unusable."""
    setting = SETTING[variable]
    raw = (os.environ if environ is None else environ).get(variable)
    return setting.default if raw is None else setting.parse(raw)


# --- loading --------------------------------------------------------------


def load_gate_data(data_dir: Path | str, environ: Mapping[str, str] | None = None) -> GateData:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise GateDataError(
            f"data folder {data_dir} does not exist: create it with "
            f"`gate-agent init --data-dir {data_dir} --keyring KEYRING --event ID`"
        )
    keyring = load_keyring(data_dir / KEYRING_FILE)
    config = load_config(data_dir, environ)
    revocations = load_revocations(data_dir / REVOCATIONS_FILE, keyring)
    return GateData(data_dir, config, keyring, revocations)


def load_keyring(path: Path) -> Keyring:
    if not path.exists():
        raise GateDataError(f"{path} is missing: copy the hub's public keyring there (or run `gate-agent init`)")
    try:
        keyring = Keyring.load(path)
    except KeyringError as exc:
        raise GateDataError(f"{path} is not a usable keyring: {exc}") from None
    if not len(keyring):
        raise GateDataError(f"{path} holds no keys: no ticket could ever verify")
    return keyring


def load_revocations(path: Path, keyring: Keyring) -> RevocationList:
    if not path.exists():
        return RevocationList()
    try:
        return RevocationList.load(path, keyring)
    except RevocationListError as exc:
        raise GateDataError(f"{path} is not a usable revocation list: {exc}") from None


def load_config(data_dir: Path, environ: Mapping[str, str] | None = None) -> GateConfig:
    path = Path(data_dir) / CONFIG_FILE
    if not path.exists():
        raise GateDataError(f"{path} is missing: run `gate-agent init --data-dir {data_dir} ...`")
    try:
        doc = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise GateDataError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise GateDataError(f"{path} is not valid JSON: {exc}") from None
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a "\ud800" escape: no terminal, page or database could take it
        raise GateDataError(f"{path}: text with a lone UTF-16 surrogate (\\ud800-\\udfff escape)") from None
    try:
        config = config_from_json(doc)
        return apply_env(config, os.environ if environ is None else environ)
    except ValueError as exc:
        raise GateDataError(f"{path}: {exc}") from None


def config_from_json(doc: Any) -> GateConfig:
    """Parse gate.json over the typed defaults. Raises ValueError naming the bad field."""
    if not isinstance(doc, dict):
        raise ValueError("must be a JSON object")
    version = doc.get("version", CONFIG_VERSION)
    if version != CONFIG_VERSION:
        raise ValueError(f"unsupported gate.json version {version!r} (this gate-agent reads {CONFIG_VERSION})")
    defaults = GateConfig()
    events = _events_from_json(doc.get("events", []), "events")
    config = GateConfig(
        gate_id=_text(doc, "gate_id", defaults.gate_id),
        gate_name=_text(doc, "gate_name", defaults.gate_name),
        events=events,
        zones=parse_zones(doc.get("zones", [])),
        direction=_choice(doc, "direction", DIRECTIONS, defaults.direction),
        reentry=_choice(doc, "reentry", REENTRY_POLICIES, defaults.reentry),
        timezone=_timezone(doc.get("timezone")),
        hub_url=_optional_text(doc, "hub_url"),
        cooldown_s=_number(doc, "cooldown_s", defaults.cooldown_s),
        other_events=_events_from_json(doc.get("other_events", []), "other_events"),
    )
    return config


def apply_env(config: GateConfig, environ: Mapping[str, str]) -> GateConfig:
    """``GATE_*`` environment variables override gate.json (those of SETTINGS with a field)."""
    changes = {s.field: s.parse(environ[s.variable]) for s in SETTINGS if s.field and s.variable in environ}
    return replace(config, **changes) if changes else config


def write_config(data_dir: Path, config: GateConfig) -> Path:
    path = Path(data_dir) / CONFIG_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(config.to_json(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    os.replace(tmp, path)
    return path


# --- field parsers -------------------------------------------------------


def parse_zones(value: Any) -> frozenset[int]:
    """Zones as a list of ints or a "1,2" string; each in 1..16."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
        try:
            value = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"zones must be integers 1..{MAX_ZONE}, got {value!r}") from None
    if not isinstance(value, list) or not all(
        isinstance(z, int) and not isinstance(z, bool) and 1 <= z <= MAX_ZONE for z in value
    ):
        raise ValueError(f"zones must be a list of integers 1..{MAX_ZONE}, got {value!r}")
    return frozenset(value)


def parse_time(value: Any, name: str) -> int | None:
    """Unix seconds or an ISO 8601 time with a UTC offset."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{name} is not an ISO 8601 time: {value!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{name} needs a UTC offset, e.g. {value}+01:00")
        return int(parsed.timestamp())
    raise ValueError(f"{name} must be an ISO 8601 time or Unix seconds, got {value!r}")


def _events_from_json(events_doc: Any, key: str) -> dict[int, EventConfig]:
    if not isinstance(events_doc, list):
        raise ValueError(f"{key} must be a list")
    events: dict[int, EventConfig] = {}
    for item in events_doc:
        event = _event_from_json(item)
        if event.event_id in events:
            raise ValueError(f"event {event.event_id} is listed twice")
        events[event.event_id] = event
    return events


def _event_from_json(item: Any) -> EventConfig:
    if isinstance(item, int) and not isinstance(item, bool):
        item = {"event_id": item}
    if not isinstance(item, dict):
        raise ValueError(f"each event must be an object with an event_id, got {item!r}")
    event_id = item.get("event_id")
    if not isinstance(event_id, int) or isinstance(event_id, bool) or event_id < 0:
        raise ValueError(f"event_id must be a non-negative integer, got {event_id!r}")
    where = f"event {event_id}"
    doors_open = parse_time(item.get("doors_open"), f"{where}: doors_open")
    ends = parse_time(item.get("ends"), f"{where}: ends")
    if doors_open is not None and ends is not None and doors_open > ends:
        raise ValueError(f"{where}: doors_open is after ends")
    labels = item.get("seat_labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{where}: seat_labels must be a list of strings (index = seat number)")
    name = item.get("name", "")
    if not isinstance(name, str):
        raise ValueError(f"{where}: name must be text")
    pin_hash = item.get("supervisor_pin_hash")
    if pin_hash is not None and not isinstance(pin_hash, str):
        raise ValueError(f"{where}: supervisor_pin_hash must be text")
    show_names = item.get("show_names", False)
    if not isinstance(show_names, bool):
        raise ValueError(f"{where}: show_names must be true or false")
    types_doc = item.get("ticket_types", [])
    if not isinstance(types_doc, list):
        raise ValueError(f"{where}: ticket_types must be a list")
    types = {}
    for t in types_doc:
        if not isinstance(t, dict) or not isinstance(t.get("id"), int) or isinstance(t.get("id"), bool):
            raise ValueError(f"{where}: each ticket type needs an integer id")
        if not isinstance(t.get("name", ""), str):
            raise ValueError(f"{where}: ticket type {t['id']}: name must be text")
        types[t["id"]] = TicketTypeConfig(
            t["id"],
            t.get("name", ""),
            parse_time(t.get("valid_from"), f"{where}: ticket type {t['id']}: valid_from"),
            parse_time(t.get("valid_until"), f"{where}: ticket type {t['id']}: valid_until"),
        )
    return EventConfig(
        event_id,
        name,
        doors_open,
        ends,
        tuple(labels),
        parse_time(item.get("starts_at"), f"{where}: starts_at"),
        _timezone(item.get("timezone")),
        show_names,
        pin_hash,
        types,
    )


def _text(doc: Mapping, key: str, default: str) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be non-empty text, got {value!r}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value.strip()):
        # recorded with every scan and synced: the hub refuses control characters (NUL)
        raise ValueError(f"{key} must not contain control characters, got {value!r}")
    return value.strip()


def _optional_text(doc: dict, key: str) -> str | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text, got {value!r}")
    return value


def _choice(doc: Mapping, key: str, choices: tuple[str, ...], default: str) -> str:
    value = doc.get(key, default)
    if value not in choices:
        raise ValueError(f"{key} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _number(doc: Mapping, key: str, default: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ValueError(f"{key} must be a non-negative number, got {value!r}")
    return float(value)


def _timezone(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"timezone must be an IANA name like Europe/Berlin, got {value!r}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}") from None
    return value
