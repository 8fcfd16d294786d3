"""One home for the hub's settings: hub/config.py SETTINGS, read by every part of the hub and
written into docs/configuration.md by docs/make_configuration.py."""

from __future__ import annotations

import importlib.util
import re

import pytest

from hub import config as hub_config
from hub.config import ConfigError, load_config
from tests.support import REPO

# A variable's name in quotes ("TICKETHUB_SMTP_HOST") and any explicit config read (config["TESTING"],
# app.config.get("PUBLIC_URL")): every such name in hub/ must be a setting. (Reads through the
# list itself, DEFAULTS["SMTP_FROM"] or typed("SMTP_PORT", ...), fail on their own with a KeyError.)
_NAMED = re.compile(r"""["']TICKETHUB_([A-Z][A-Z0-9_]*)["']""")
_READ = re.compile(r"""config(?:\[|\.get\(|\.setdefault\()\s*["']([A-Z][A-Z0-9_]*)["']""")
# where the settings are (TICKETHUB_CONFIG; INSTANCE_PATH also as a create_app override), not settings
NOT_SETTINGS = {
    spelling
    for name, _meaning in hub_config.LOCATION_VARIABLES
    for spelling in (name, name.removeprefix(hub_config.ENV_PREFIX))
}


def _make_configuration():
    spec = importlib.util.spec_from_file_location("make_configuration", REPO / "docs" / "make_configuration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_doc_is_generated_from_the_settings():
    maker = _make_configuration()
    text = maker.DOC.read_text("utf-8")
    assert maker.render(text) == text, "docs/configuration.md is out of date: run docs/make_configuration.py"
    for setting in hub_config.SETTINGS:
        assert f"| `{setting.name}` | {maker.default_text(setting.default)} |" in text
        assert setting.help.strip() and setting.section
    for name, _meaning in hub_config.LOCATION_VARIABLES:
        assert f"| `{name}` |" in text
    with pytest.raises(ValueError, match="tables without markers"):
        maker.render(text.replace("<!-- settings:mail -->", ""))


def test_every_setting_the_hub_reads_is_listed():
    known = set(hub_config.DEFAULTS) | set(hub_config.FIXED) | NOT_SETTINGS
    unlisted = {}
    for path in (REPO / "hub").rglob("*.py"):
        if "versions" in path.parts:
            continue
        source = path.read_text("utf-8")
        for name in {*_NAMED.findall(source), *_READ.findall(source)}:
            if name not in known and not name.startswith("GATE_"):  # the demo configures its gate
                unlisted.setdefault(name, []).append(str(path.relative_to(REPO)))
    assert unlisted == {}


def test_every_setting_comes_typed_from_the_file_or_the_environment(tmp_path):
    environ = {
        "TICKETHUB_SMTP_PORT": "587",
        "TICKETHUB_SMTP_STARTTLS": "true",
        "TICKETHUB_LOGIN_RATE_LIMIT": "3 per minute",
        "TICKETHUB_DASHBOARD_TICK_SECONDS": "4",
        "TICKETHUB_SESSION_COOKIE_SECURE": "yes",
        "TICKETHUB_PERMANENT_SESSION_LIFETIME": "60",
    }
    config = load_config(tmp_path, environ=environ)
    assert (config["SMTP_PORT"], config["SMTP_STARTTLS"], config["LOGIN_RATE_LIMIT"]) == (587, True, "3 per minute")
    assert (config["DASHBOARD_TICK_SECONDS"], config["SESSION_COOKIE_SECURE"]) == (4, True)
    assert config["PERMANENT_SESSION_LIFETIME"] == 60
    (tmp_path / "tickethub.toml").write_text('reminder_interval_seconds = 0\nsmtp_from = "Box <box@example.org>"\n')
    config = load_config(tmp_path, environ={})
    assert (config["REMINDER_INTERVAL_SECONDS"], config["SMTP_FROM"]) == (0, "Box <box@example.org>")
    # a mistyped value stops the hub naming the variable or file, instead of failing when the mail goes out
    with pytest.raises(ConfigError, match="TICKETHUB_SMTP_PORT must be an integer"):
        load_config(tmp_path, environ={"TICKETHUB_SMTP_PORT": "submission"})
    (tmp_path / "tickethub.toml").write_text('dashboard_tick_seconds = "10"\n')
    with pytest.raises(ConfigError, match="dashboard_tick_seconds must be an integer"):
        load_config(tmp_path, environ={})


def test_the_app_takes_page_and_session_settings_from_the_environment(tmp_path, monkeypatch):
    from datetime import timedelta

    from hub import create_app

    monkeypatch.setenv("TICKETHUB_SESSION_COOKIE_SECURE", "1")
    monkeypatch.setenv("TICKETHUB_PERMANENT_SESSION_LIFETIME", "120")
    monkeypatch.setenv("TICKETHUB_REMINDER_INTERVAL_SECONDS", "0")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMINDER_INTERVAL_SECONDS"] == 0
    assert app.permanent_session_lifetime == timedelta(seconds=120)
    assert (app.config["SESSION_COOKIE_SAMESITE"], app.config["SESSION_COOKIE_HTTPONLY"]) == ("Lax", True)
    app.extensions["tickethub.engine"].dispose()
