"""The door page's Flask app. Views are thin: the Gate decides, the Broadcaster pushes."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from common.protocol import NOTE_MAX_CHARS

from ..pipeline import Gate, ScanResult, SupervisorError
from .live import Broadcaster, PreviewBuffer

MAX_MANUAL_TEXT = 4096
MAX_REQUEST_BYTES = 64 * 1024  # a typed code is tiny; refuse huge bodies before parsing them
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def create_door_app(
    gate: Gate,
    broadcaster: Broadcaster | None = None,
    preview: PreviewBuffer | None = None,
    *,
    has_camera: bool = False,
    camera=None,
    sound: bool = False,
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS,
) -> Flask:
    """The door page for ``gate``. Subscribes to its verdicts; call
    ``app.extensions["door"].detach()`` when done with the gate. ``camera`` (scanner.health.
    CameraHealth) is reported with every state; ``sound`` turns the beeps on by default."""
    app = Flask(__name__)
    app.config["JSON_SORT_KEYS"] = False
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    broadcaster = broadcaster or Broadcaster()
    preview = preview or PreviewBuffer()

    def camera_json() -> dict | None:
        return camera.status().to_json(camera.clock()) if camera is not None else None

    def alive() -> dict:
        """What may change without a scan: the hub link (it ages) and the camera."""
        return {**gate.link(), "camera": camera_json()}

    def state() -> dict:
        return {**gate.snapshot(), "camera": camera_json()}  # the snapshot holds the hub link

    def on_verdict(result: ScanResult) -> None:
        broadcaster.publish("verdict", {"result": result.to_json(), "state": state()})

    gate.subscribe(on_verdict)
    app.extensions["door"] = _DoorHandle(gate, broadcaster, preview, on_verdict, state)

    @app.before_request
    def loopback_only():
        # The page is for the screen on this machine: refuse DNS-rebinding hosts.
        if request.host.rsplit(":", 1)[0] not in allowed_hosts:
            return _error(403, "forbidden_host", "the door page only answers on localhost")
        return None

    @app.get("/")
    def door_page():
        return render_template("door.html", config=gate.config, has_camera=has_camera, sound=sound)

    @app.get("/events")
    def events():
        stream = broadcaster.stream(state, alive)
        return Response(
            stream, mimetype="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    @app.get("/api/state")
    def state_json():
        return jsonify(state())

    @app.post("/api/scan")
    def manual_scan():
        # JSON only: a cross-site form cannot send it without a CORS preflight we never grant.
        body = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict):
            return _error(415 if not request.is_json else 400, "bad_request", 'send JSON {"text": "..."}')
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "missing_text", "type or paste the code printed under the QR")
        if len(text) > MAX_MANUAL_TEXT:
            return _error(400, "text_too_long", f"a code is at most {MAX_MANUAL_TEXT} characters")
        return jsonify(gate.check(text, source="manual").to_json())

    # --- search and supervisor actions (docs/operations.md, "A way out of every mistake") --------
    @app.get("/api/search")
    def search():
        query = request.args.get("q", "")
        if len(query) > MAX_SEARCH_TEXT:
            return _error(400, "query_too_long", f"search for at most {MAX_SEARCH_TEXT} characters")
        return jsonify({"items": gate.search(query)})

    @app.post("/api/checkin")
    def check_in():
        body = _json_body()
        return jsonify(gate.check_in(_ticket_id(body)).to_json())

    @app.post("/api/force")
    def force_admit():
        body = _json_body()
        reason = body.get("reason")
        if not isinstance(reason, str) or len(reason) > NOTE_MAX_CHARS:
            return _error(400, "missing_reason", f"say why the ticket is let in (at most {NOTE_MAX_CHARS} characters)")
        text = body.get("text")
        if text is None:
            attendee = gate.store.attendee(_ticket_id(body))
            text = attendee.code if attendee else ""
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_MANUAL_TEXT:
            return _error(404, "unknown_ticket", "that ticket is not on this gate's list: scan or type its code")
        return jsonify(gate.force_admit(text, _pin(body), reason).to_json())

    @app.post("/api/annul")
    def annul():
        body = _json_body()
        return jsonify(gate.annul(_ticket_id(body), _pin(body)).to_json())

    @app.errorhandler(SupervisorError)
    def supervisor_refused(exc: SupervisorError):
        return _error(SUPERVISOR_STATUS.get(exc.code, 409), exc.code, exc.message)

    @app.errorhandler(_BadRequest)
    def bad_request(exc: _BadRequest):
        return _error(exc.status, exc.code, exc.message)

    @app.get("/preview.jpg")
    def preview_jpg():
        data = preview.latest_jpeg()
        if data is None:
            return _error(404, "no_frame", "the camera has not delivered a frame yet")
        return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/preview.mjpg")
    def preview_mjpg():
        return Response(
            preview.mjpeg(), mimetype="multipart/x-mixed-replace; boundary=frame", headers={"Cache-Control": "no-store"}
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 500, exc.name.lower().replace(" ", "_"), exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("door page error")
        return _error(500, "internal_error", "the gate hit an unexpected error; scans are still recorded")

    return app


SUPERVISOR_STATUS = {"wrong_pin": 403, "pin_locked": 429, "unknown_ticket": 404, "missing_reason": 400}
MAX_SEARCH_TEXT = 100


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json_body() -> dict:
    # JSON only: a cross-site form cannot send it without a CORS preflight we never grant.
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise _BadRequest(415 if not request.is_json else 400, "bad_request", "send a JSON object")
    return body


def _ticket_id(body: dict) -> int:
    value = body.get("ticket_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise _BadRequest(400, "missing_ticket", "name the ticket by its ticket_id")
    return value


def _pin(body: dict) -> str:
    pin = body.get("pin")
    if not isinstance(pin, str) or len(pin) > 32:
        raise _BadRequest(400, "missing_pin", "the supervisor PIN is needed")
    return pin


class _DoorHandle:
    def __init__(self, gate, broadcaster, preview, listener, state):
        self.gate, self.broadcaster, self.preview, self._listener = gate, broadcaster, preview, listener
        self.state = state  # the page's full state: snapshot, hub link, camera

    def publish_state(self) -> None:
        """Push the current state to every screen (the hub link or the camera changed)."""
        self.broadcaster.publish("state", self.state())

    def detach(self) -> None:
        self.gate.unsubscribe(self._listener)
        self.broadcaster.close()
        self.preview.close()


def _error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status
