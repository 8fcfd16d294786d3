#!/usr/bin/env bash
# Install a ticketgate gate on a Raspberry Pi (Debian / Raspberry Pi OS), as root.
#
#   sudo provisioning/install-pi.sh [--hub URL --token TOKEN] [--source DIR] [--no-kiosk] [--dry-run]
#
# Creates the dedicated user `ticketgate` (camera group `video`), a virtualenv in
# /opt/ticketgate, the data folder /var/lib/ticketgate/gate (0700), optionally
# enrols the gate with the hub, and installs and starts two systemd units: the
# agent (restarts on failure) and the door page in a Chromium kiosk.
# --dry-run prints every command instead of running it.
set -euo pipefail

HUB_URL=""
TOKEN=""
SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KIOSK=1
DRY_RUN=0
PREFIX=/opt/ticketgate
DATA_DIR=/var/lib/ticketgate/gate
UNIT_DIR=/etc/systemd/system

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --hub) HUB_URL="${2:?--hub needs a URL}"; shift 2 ;;
        --token) TOKEN="${2:?--token needs a value}"; shift 2 ;;
        --source) SOURCE_DIR="${2:?--source needs a folder}"; shift 2 ;;
        --no-kiosk) KIOSK=0; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown option: $1" >&2; usage 2 ;;
    esac
done

if [ -n "$TOKEN" ] && [ -z "$HUB_URL" ]; then
    echo "--token needs --hub URL" >&2
    exit 2
fi

run() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ %s\n' "$*"
    else
        "$@"
    fi
}

step() { printf '[%s] %s\n' "$1" "$2"; }

if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "run as root (sudo $0 ...)" >&2
    exit 1
fi

step 1/6 "system packages"
run apt-get update
PACKAGES=(python3-venv python3-dev libzbar0 curl)
if [ "$KIOSK" = 1 ]; then
    PACKAGES+=(chromium cage)
fi
run apt-get install -y --no-install-recommends "${PACKAGES[@]}"

step 2/6 "dedicated users (agent in the camera group 'video')"
if ! id ticketgate >/dev/null 2>&1; then
    run useradd --system --home-dir /var/lib/ticketgate --shell /usr/sbin/nologin ticketgate
fi
run usermod -a -G video ticketgate
if [ "$KIOSK" = 1 ] && ! id ticketgate-kiosk >/dev/null 2>&1; then
    run useradd --system --create-home --home-dir /var/lib/ticketgate-kiosk --shell /usr/sbin/nologin \
        --groups video,render,input ticketgate-kiosk
fi

step 3/6 "application in $PREFIX"
run install -d -m 0755 "$PREFIX"
run python3 -m venv "$PREFIX/venv"
run "$PREFIX/venv/bin/pip" install --upgrade pip
run "$PREFIX/venv/bin/pip" install "$SOURCE_DIR"
run install -d -m 0755 "$PREFIX/docs"
run install -m 0644 "$SOURCE_DIR/docs/operations.md" "$PREFIX/docs/operations.md"

step 4/6 "data folder $DATA_DIR"
run install -d -o ticketgate -g ticketgate -m 0700 /var/lib/ticketgate "$DATA_DIR"

step 5/6 "enrolment"
if [ -n "$TOKEN" ]; then
    run runuser -u ticketgate -- "$PREFIX/venv/bin/gate-agent" enroll --data-dir "$DATA_DIR" --hub "$HUB_URL" --token "$TOKEN"
else
    echo "    skipped: later run  sudo -u ticketgate $PREFIX/venv/bin/gate-agent enroll --data-dir $DATA_DIR --hub URL --token TOKEN"
fi

step 6/6 "systemd units"
run install -m 0644 "$SOURCE_DIR/provisioning/ticketgate-gate.service" "$UNIT_DIR/ticketgate-gate.service"
if [ "$KIOSK" = 1 ]; then
    run install -m 0644 "$SOURCE_DIR/provisioning/ticketgate-kiosk.service" "$UNIT_DIR/ticketgate-kiosk.service"
fi
run systemctl daemon-reload
run systemctl enable --now ticketgate-gate.service
if [ "$KIOSK" = 1 ]; then
    run systemctl set-default graphical.target
    run systemctl enable --now ticketgate-kiosk.service
fi
echo "done: journalctl -u ticketgate-gate -f   (door page on http://127.0.0.1:8080/)"
