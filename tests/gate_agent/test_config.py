"""Loading the data folder: layered configuration and clear errors for bad folders."""

from __future__ import annotations

import json

import pytest

from common.signing import Revocation, RevocationList, SigningKey
from gate_agent.config import GateDataError, load_gate_data
from tests.gate_agent.helpers import make_gate_folder


@pytest.fixture
def folder(tmp_path):
    return make_gate_folder(
        tmp_path,
        zones=[1],
        direction="entry",
        reentry="reentry",
        timezone="Europe/Berlin",
        events=[
            {"event_id": 1, "doors_open": "2026-11-21T18:00:00+01:00", "ends": 1795300000, "seat_labels": ["A1", "A2"]}
        ],
    )


def test_gate_json_over_defaults(folder):
    data = load_gate_data(folder.path, environ={})
    config = data.config
    assert (config.gate_id, config.gate_name, config.direction, config.reentry) == (
        "gate-a",
        "Gate A",
        "entry",
        "reentry",
    )
    assert config.zones == {1}
    event = config.events[1]
    assert event.doors_open == 1795280400 and event.ends == 1795300000
    assert event.seat_label(1) == "A2" and event.seat_label(7) == "Seat 7"
    assert config.cooldown_s == 2.0  # typed default
    assert len(data.keyring) == 1 and len(data.revocations) == 0


def test_env_vars_override_the_file(folder):
    env = {
        "GATE_NAME": "Gate Z",
        "GATE_ZONES": "2,3",
        "GATE_DIRECTION": "exit",
        "GATE_REENTRY": "unlimited",
        "GATE_COOLDOWN_S": "0.5",
    }
    config = load_gate_data(folder.path, environ=env).config
    assert (config.gate_name, config.zones, config.direction, config.reentry, config.cooldown_s) == (
        "Gate Z",
        {2, 3},
        "exit",
        "unlimited",
        0.5,
    )


def test_bad_env_value_is_a_clear_error(folder):
    with pytest.raises(GateDataError, match="direction must be one of entry, exit"):
        load_gate_data(folder.path, environ={"GATE_DIRECTION": "sideways"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATE_COOLDOWN_S": "-1"}, "GATE_COOLDOWN_S must be a non-negative number"),
        ({"GATE_COOLDOWN_S": "nan"}, "GATE_COOLDOWN_S must be a non-negative number"),
        ({"GATE_COOLDOWN_S": "soon"}, "GATE_COOLDOWN_S must be a non-negative number"),
        ({"GATE_ID": ""}, "GATE_ID must be non-empty text"),
        ({"GATE_NAME": "Gate\x00B"}, "GATE_NAME must not contain control characters"),
    ],
)
def test_bad_env_values_are_refused_when_loading(folder, env, message):
    # not later, when the scanner starts (a negative cool-down was blamed on the scanned file)
    with pytest.raises(GateDataError, match=message):
        load_gate_data(folder.path, environ=env)


def test_missing_folder(tmp_path):
    with pytest.raises(GateDataError, match="does not exist: create it with `gate-agent init"):
        load_gate_data(tmp_path / "nowhere")


def test_missing_keyring(folder):
    (folder.path / "keyring.json").unlink()
    with pytest.raises(GateDataError, match="keyring.json is missing"):
        load_gate_data(folder.path)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"type": "something else"}',
        '{"type": "ticketgate.keyring", "version": 1, "keys": [{"alg": "Ed25519", "public_key": "AAAA"}]}',
    ],
)
def test_corrupt_keyring(folder, content):
    (folder.path / "keyring.json").write_text(content)
    with pytest.raises(GateDataError, match="keyring.json"):
        load_gate_data(folder.path)


def test_empty_keyring(folder):
    (folder.path / "keyring.json").write_text('{"type": "ticketgate.keyring", "version": 1, "seq": 0, "keys": []}')
    with pytest.raises(GateDataError, match="holds no keys"):
        load_gate_data(folder.path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"direction": "sideways"}, "direction must be one of"),
        ({"reentry": "twice"}, "reentry must be one of"),
        ({"zones": [0]}, "zones must be a list of integers 1..16"),
        ({"zones": "1,x"}, "zones must be integers"),
        ({"events": {"1": {}}}, "events must be a list"),
        ({"events": [{"event_id": "one"}]}, "event_id must be a non-negative integer"),
        ({"events": [{"event_id": 1, "doors_open": "tomorrow"}]}, "not an ISO 8601 time"),
        ({"events": [{"event_id": 1, "doors_open": "2026-11-21T18:00:00"}]}, "needs a UTC offset"),
        ({"events": [{"event_id": 1, "doors_open": 20, "ends": 10}]}, "doors_open is after ends"),
        ({"events": [{"event_id": 1}, {"event_id": 1}]}, "listed twice"),
        ({"events": [{"event_id": 1, "seat_labels": [1, 2]}]}, "seat_labels must be a list of strings"),
        ({"gate_name": ""}, "gate_name must be non-empty"),
        ({"gate_id": "a\x00b"}, "gate_id must not contain control characters"),
        ({"cooldown_s": float("nan")}, "cooldown_s must be a non-negative number"),
        ({"cooldown_s": float("inf")}, "cooldown_s must be a non-negative number"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"version": 9}, "unsupported gate.json version"),
    ],
)
def test_bad_gate_json_names_the_field(folder, changes, message):
    folder.write_config(**changes)
    with pytest.raises(GateDataError, match=message) as info:
        load_gate_data(folder.path, environ={})
    assert "gate.json" in str(info.value)


def test_gate_json_with_a_lone_surrogate_is_refused(folder):
    # valid JSON, but no UTF-8 terminal, page or SQLite row can hold the text
    (folder.path / "gate.json").write_text('{"gate_name": "Gate \\ud800"}')
    with pytest.raises(GateDataError, match="lone UTF-16 surrogate"):
        load_gate_data(folder.path, environ={})


def test_gate_json_not_json_or_not_object(folder):
    (folder.path / "gate.json").write_text("[1, 2]")
    with pytest.raises(GateDataError, match="must be a JSON object"):
        load_gate_data(folder.path)
    (folder.path / "gate.json").write_text("{")
    with pytest.raises(GateDataError, match="not valid JSON"):
        load_gate_data(folder.path)


def test_signed_revocations_load_and_forged_ones_are_refused(folder):
    folder.revoke((1, 42))
    assert load_gate_data(folder.path).revocations.is_revoked(1, 42)
    stranger = SigningKey.from_seed(bytes(32))
    forged = RevocationList.of([Revocation(1, 43, 1)]).to_document(stranger, 0)
    (folder.path / "revocations.json").write_text(json.dumps(forged))
    with pytest.raises(GateDataError, match="revocations.json is not a usable revocation list"):
        load_gate_data(folder.path)


def test_every_gate_variable_is_one_documented_setting():
    import re

    from gate_agent.config import SETTINGS, setting_from_env
    from tests.support import REPO

    listed = {setting.variable for setting in SETTINGS}
    read = set()
    for path in (REPO / "gate_agent").rglob("*.py"):
        read |= set(re.findall(r"""["'](GATE_[A-Z0-9_]+)["']""", path.read_text("utf-8")))
    assert read - listed == set()  # a variable read anywhere in gate_agent/ is in SETTINGS
    doc = (REPO / "docs" / "configuration.md").read_text("utf-8")
    for setting in SETTINGS:
        assert f"| `{setting.variable}` |" in doc and setting.help.strip()
    # the variables outside gate.json are read through the list, with its defaults and errors
    assert setting_from_env("GATE_PULL_INTERVAL_S", {}) == 5.0
    assert setting_from_env("GATE_CLOCK_OFFSET_S", {"GATE_CLOCK_OFFSET_S": "-7200"}) == -7200.0
    with pytest.raises(ValueError, match="GATE_PORT must be a port number"):
        setting_from_env("GATE_PORT", {"GATE_PORT": "http"})


@pytest.mark.parametrize("variable", ["GATE_SOUND", "GATE_MOTION_FUSION", "GATE_PEERS_ENABLED", "GATE_PEER_MDNS"])
def test_every_on_off_setting_reads_on_and_off_and_names_itself_when_wrong(variable):
    from gate_agent.config import setting_from_env

    assert setting_from_env(variable, {variable: "on"}) is True
    assert setting_from_env(variable, {variable: " OFF "}) is False
    with pytest.raises(ValueError, match=variable):
        setting_from_env(variable, {variable: "loud"})
