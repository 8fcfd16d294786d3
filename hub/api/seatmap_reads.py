"""The public seat-map reads, answered from memory: one answer function for the Flask views and for
the WSGI layer that serves the same requests before Flask.

A seat check or a map read is a dictionary look-up in services.seatmap; what made it cost three
times a trivial Flask route was the framework around it (the rate limiter's checks on every
request, the API's and the pages' hooks, header parsing). ``SeatMapReads`` wraps the app's WSGI
callable (inside ProxyFix) and answers ``GET`` of these routes directly: the event's seat map
(``/seats``), one seat, and ``/seatmap/layout|status|changes``. Anything it cannot answer from
memory (an event not built yet that turns out unknown, an unknown seat, a Host the hub does not
answer to, text it cannot read) goes on to Flask, whose views call the same ``answer``.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import parse_qs

from ..services.errors import ServiceError
from ..services.seatmap import Body, SeatMaps, seatmaps_for

# Public reads: a browser, CDN or reverse proxy may keep them a second and serve them a few more while it
# asks again, so a crowd costs the hub one answer a second.
PUBLIC_CACHE = "public, max-age=1, stale-while-revalidate=5"
LASTING_CACHE = "public, max-age=86400, immutable"  # a layout asked for by its own tag
ROUTE = re.compile(
    r"/api/v1/events/([0-9]{1,18})/(?:seats(?:/([^/]+)/([^/]+)/([^/]+))?|seatmap/(layout|status|changes))"
)
Answer = tuple[int, list[tuple[str, str]], bytes]


def answer(
    store: SeatMaps,
    event_id: int,
    kind: str,
    query: dict,
    if_none_match: str = "",
    accept_encoding: str = "",
    seat: tuple[str, str, str] | None = None,
) -> Answer | None:
    """(status, headers, body) of a read: ``kind`` is seats, seat, layout, status or changes; None when
    memory cannot answer (an unknown seat: the database says which part is unknown). Raises the
    services' errors (unknown event 404, missing ``since`` 400)."""
    snapshot = store.snapshot(event_id)
    cache = PUBLIC_CACHE
    if kind == "seat":
        position = snapshot.layout.by_label.get(seat)
        if position is None:
            return None
        status = snapshot.seat(position)
        body = Body(
            json.dumps(
                {"index": position, "section": seat[0], "row": seat[1], "seat": seat[2], "status": status},
                separators=(",", ":"),
            ).encode(),
            b"",
            f'"{snapshot.layout.etag}.{position}.{status[0]}"',
        )
    elif kind == "layout":
        body = snapshot.layout.body
        if query.get("v") == snapshot.layout.etag:
            cache = LASTING_CACHE
    elif kind == "changes":
        since = (query.get("since") or "")[:80]
        if not since:
            raise ServiceError("since must be a version from the seat map status", "invalid_parameter")
        snapshot, changes = store.changes_since(event_id, since)
        reply = {"event_id": event_id, "since": since, "version": snapshot.version, "layout": snapshot.layout.etag}
        reply.update({"reload": True} if changes is None else {"changes": changes})
        body = Body.of(reply, f"C{snapshot.version}:{hashlib.sha256(since.encode()).hexdigest()[:12]}")
    else:
        body = snapshot.body(kind)
    return respond(body, cache, if_none_match, accept_encoding)


def respond(body: Body, cache: str, if_none_match: str, accept_encoding: str) -> Answer:
    """304 when the client has it, gzip when the client takes it; ETag, Cache-Control, Vary, nosniff."""
    headers = [
        ("ETag", body.etag),
        ("Cache-Control", cache),
        ("Vary", "Accept-Encoding"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if if_none_match and _matches(if_none_match, body.etag):
        return 304, headers, b""
    headers.append(("Content-Type", "application/json"))
    if len(body.json) > 1024 and _takes_gzip(accept_encoding):
        return 200, [*headers, ("Content-Encoding", "gzip")], body.gzip
    return 200, headers, body.json


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def _takes_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip()
            return not q or _quality(q) > 0
    return False


def _quality(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def flask_response(kind: str, event_id: int, seat=None):
    """The Flask view's answer: the same as SeatMapReads gives, None for an unknown seat."""
    from flask import Response, current_app, request

    found = answer(
        seatmaps_for(current_app),
        event_id,
        kind,
        request.args.to_dict(),
        request.headers.get("If-None-Match", ""),
        request.headers.get("Accept-Encoding", ""),
        seat,
    )
    if found is None:
        return None
    status, headers, body = found
    return Response(body, status=status, headers=headers)


class SeatMapReads:
    """WSGI layer in front of Flask for the public seat-map reads (see the module docstring)."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.store: SeatMaps | None = None

    def __call__(self, environ, start_response):
        found = None
        if environ.get("REQUEST_METHOD") == "GET":
            match = ROUTE.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                found = self._answer(match, environ)
        if found is None:
            return self.wsgi_app(environ, start_response)
        status, headers, body = found
        start_response(
            "304 Not Modified" if status == 304 else "200 OK", [*headers, ("Content-Length", str(len(body)))]
        )
        return [body]

    def _answer(self, match, environ) -> Answer | None:
        if not self._trusted(environ):
            return None  # Flask answers 400
        event_id, section, row, label, compact = match.groups()
        try:
            seat = tuple(part.encode("latin-1").decode("utf-8") for part in (section, row, label)) if section else None
            if seat and any("\x00" in part for part in seat):
                return None
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
            if self.store is None:
                self.store = seatmaps_for(self.app)
            return answer(
                self.store,
                int(event_id),
                compact or ("seat" if seat else "seats"),
                query,
                environ.get("HTTP_IF_NONE_MATCH", ""),
                environ.get("HTTP_ACCEPT_ENCODING", ""),
                seat,
            )
        except (ServiceError, UnicodeError, ValueError):
            return None  # Flask gives the error its usual answer

    def _trusted(self, environ) -> bool:
        trusted = self.app.config.get("TRUSTED_HOSTS")
        if not trusted:
            return True
        from werkzeug.exceptions import SecurityError
        from werkzeug.wsgi import get_host

        try:
            get_host(environ, trusted)
        except SecurityError:
            return False
        return True


def install(app) -> None:
    """Serve the public seat-map reads before Flask, inside ProxyFix when there is one (so the Host
    checked is the one the proxy passed on, as Flask checks it)."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    if isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app.app = SeatMapReads(app, app.wsgi_app.app)
    else:
        app.wsgi_app = SeatMapReads(app, app.wsgi_app)
