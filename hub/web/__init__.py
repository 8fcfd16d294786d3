"""Server-rendered pages: storefront, accounts, organizer and door pages.

`init_app(app)` registers the page blueprints and the browser-facing security:
CSRF on every form (Flask-WTF; the token-authenticated JSON API is not
cookie-based and is left alone), HttpOnly/SameSite session cookies (Secure on
HTTPS), a nonce-based Content-Security-Policy and the usual secure headers
(HSTS on HTTPS).
"""

from __future__ import annotations

import secrets

from flask import Blueprint, Flask, abort, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from ..services.errors import ServiceError
from .auth import load_user

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """The pages and their security; their settings (LOGIN_RATE_LIMIT, PERMANENT_SESSION_LIFETIME, ...)
    and the fixed framework ones (SameSite, CSRF) are in hub/config.py."""
    app.session_interface = _PageSession()
    csrf.init_app(app)

    from . import account, dashboard, devices, door, event_door, manage, queue, reports, staff, store, webhooks
    from .filters import register_filters

    app.register_blueprint(Blueprint("web_static", __name__, static_folder="static", static_url_path="/static/web"))
    for blueprint in (
        store.bp,
        queue.bp,
        account.bp,
        manage.bp,
        staff.bp,
        staff.invite_bp,
        devices.bp,
        event_door.bp,
        door.bp,
        dashboard.bp,
        reports.bp,
        webhooks.bp,
    ):
        app.register_blueprint(blueprint)
    register_filters(app)
    for code in (404, 405):  # addresses no page matched: the site's error page instead of Flask's bare one
        app.register_error_handler(code, _unmatched_address)

    @app.context_processor
    def _page_globals():
        return {"current_user": g.get("user"), "csp_nonce": _nonce()}

    app.after_request(_secure_headers)
    app.before_request(_load_page_user)


def pages_blueprint(name: str, import_name: str, **kwargs) -> Blueprint:
    """A page blueprint whose unsafe requests must carry the CSRF token."""
    bp = Blueprint(name, import_name, template_folder="templates", **kwargs)

    @bp.before_request
    def _check_request():
        # PostgreSQL text cannot hold NUL; refuse it up front with a clear 400 instead of a database error.
        if any(
            "\x00" in value
            for values in (request.args, request.form)
            for _key, items in values.lists()
            for value in items
        ):
            abort(400, "Text with NUL characters cannot be used here.")
        csrf.protect()

    @bp.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        from flask import render_template

        status = exc.status if exc.status in (403, 404) else 400
        return render_template("error.html", message=exc.message, status=status), status

    @bp.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        from flask import render_template

        if isinstance(exc, CSRFError):
            message = "This form is out of date (or was not sent from this site). Reload the page and try again."
        elif exc.code == 429:
            message = "Too many attempts from your address. Wait a minute and try again."
        else:
            message = exc.description or exc.name
        response = exc.get_response()
        body = render_template("error.html", message=message, status=exc.code)
        return body, exc.code, [(k, v) for k, v in response.headers.items() if k.lower() in ("retry-after", "allow")]

    return bp


def _unmatched_address(exc: HTTPException):
    """404/405 outside any blueprint (a mistyped address, a reload of a POST-only one).

    API paths keep the API's JSON answer (its HTTPException handler); pages get error.html.
    """
    from flask import current_app, render_template

    from ..api.errors import API_PREFIX

    if request.path.startswith(API_PREFIX):
        api_handler = current_app.error_handler_spec[None][None].get(HTTPException)
        return api_handler(exc) if api_handler else exc
    message = "There is no page at this address." if exc.code == 404 else "This address cannot be opened that way."
    allow = [(k, v) for k, v in exc.get_response().headers.items() if k.lower() == "allow"]
    return render_template("error.html", message=message, status=exc.code), exc.code, allow


def _page_request(req=None) -> bool:
    """Anything but the JSON API, whose requests get neither the pages' session nor their headers."""
    from ..api.errors import API_PREFIX

    return not (req or request).path.startswith(API_PREFIX)


def _load_page_user() -> None:
    if _page_request():
        load_user()


def _nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


class _PageSession(SecureCookieSessionInterface):
    """The pages' session. The cookie is Secure when configured (SESSION_COOKIE_SECURE, an https
    PUBLIC_URL) and on every HTTPS request (behind a proxy: with PROXY_FIX, from X-Forwarded-Proto).
    API requests get no session: the cookie is neither read nor refreshed there (no Set-Cookie,
    no ``Vary: Cookie``), as the API authenticates by token."""

    def open_session(self, app: Flask, request):
        if not _page_request(request):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or bool(request and request.is_secure)


def _https_site() -> bool:
    return request.is_secure or current_app.config.get("PUBLIC_URL", "").startswith("https://")


def _secure_headers(response):
    if not _page_request():
        return response
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if _https_site():  # browsers heed it only over HTTPS, and then keep to HTTPS for a year
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if response.mimetype == "text/html":
        # a page may name one more origin it connects to (the seat-map stream on its own port)
        connect = f"connect-src 'self' {g.csp_connect_src}; " if g.get("csp_connect_src") else ""
        # ... and a payment provider's script and the frames it draws its card field in (Stripe.js)
        script = f" {g.csp_script_src}" if g.get("csp_script_src") else ""
        frame = f"frame-src {g.csp_frame_src}; " if g.get("csp_frame_src") else ""
        headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; {connect}{frame}script-src 'self' 'nonce-{_nonce()}'{script}; style-src 'self'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
            "form-action 'self'",
        )
        headers.setdefault("Cache-Control", "no-store")
    return response
