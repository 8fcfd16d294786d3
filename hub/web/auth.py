"""Page sessions and role checks.

The signed session cookie holds the user id; `load_user` puts the user in
`g.user` for each request. Every page view is decorated with `public` or
`roles(...)`, and `ROUTE_ACCESS` (read by the route x role test) must list it.
"""
from __future__ import annotations

import hashlib
import hmac
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for

from ..db import get_db
from ..services.users import get_user

ALL_ROLES = ("admin", "organizer", "door_staff", "customer")
STAFF = ("admin", "organizer")
DOOR = ("admin", "organizer", "door_staff")


def _password_stamp(user: dict) -> str:
    """Changes whenever the password does; an HMAC, so the (readable) cookie reveals nothing of the hash."""
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, user["password_hash"].encode(), hashlib.sha256).hexdigest()[:24]


def load_user() -> None:
    g.user = None
    user_id = session.get("user_id")
    if user_id is None:
        return
    user = get_user(get_db(), user_id)
    if user is None or not hmac.compare_digest(session.get("pw", ""), _password_stamp(user)):
        session.clear()  # deleted user, or the password changed since this session began
        return
    g.user = {"id": user["id"], "email": user["email"], "role": user["role"]}


def login_session(user: dict) -> None:
    """Start a fresh session for the user (no data carried over from before login)."""
    session.clear()
    session.permanent = True
    session["user_id"] = user["id"]
    session["pw"] = _password_stamp(user)
    g.user = {"id": user["id"], "email": user["email"], "role": user["role"]}


def logout_session() -> None:
    session.clear()
    g.user = None


def public(view):
    """Anyone may open this page, logged in or not."""
    view.allowed_roles = None
    return view


def roles(*allowed: str):
    """Only logged-in users with one of `allowed` (every role when empty) may open this page."""
    allowed = allowed or ALL_ROLES

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("user") is None:
                if request.method == "GET":
                    return redirect(url_for("account.login", next=request.full_path.rstrip("?")))
                abort(401)
            if g.user["role"] not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed
        return wrapper

    return decorate


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback
