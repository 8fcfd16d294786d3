"""Page sessions and role checks.

The signed session cookie holds the user id and the user's session version;
`load_user` puts the user in `g.user` for each request while the version still
matches the database. Logout, a password change or reset and a 2FA change bump
the version (services.users.end_sessions), so every copy of an older cookie is
logged out, not only the browser that pressed the button.

Every page view is decorated with `public` or `roles(...)`, and `ROUTE_ACCESS`
(read by the route x role test) must list it.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for

from ..db import get_db
from ..services.roles import ROLES
from ..services.users import end_sessions, get_user


def _page_user(user: dict) -> dict:
    return {
        "id": user["id"],
        "email": user["email"],
        "name": user["name"],
        "role": user["role"],
        "staff_of": user["staff_of"],
    }


def load_user() -> None:
    g.user = None
    user_id = session.get("user_id")
    if user_id is None:
        return
    user = get_user(get_db(), user_id)
    if user is None or session.get("sv") != user["session_version"]:
        session.clear()  # deleted user, or logged out / password or 2FA changed since this session began
        return
    g.user = _page_user(user)


def login_session(user: dict) -> None:
    """Start a fresh session for the user (no data carried over from before login)."""
    session.clear()
    session.permanent = True
    session["user_id"] = user["id"]
    session["sv"] = user["session_version"]
    g.user = _page_user(user)


def renew_session(user_id: int) -> None:
    """Keep this browser logged in after a change that ended the user's sessions (2FA on or off)."""
    login_session(get_user(get_db(), user_id))


def logout_session() -> None:
    """End this session and every copy of its cookie (all of the user's sessions)."""
    if g.get("user") is not None:
        end_sessions(get_db(), g.user["id"])
    session.clear()
    g.user = None


def public(view):
    """Anyone may open this page, logged in or not."""
    view.allowed_roles = None
    return view


def roles(*allowed: str):
    """Only logged-in users with one of `allowed` (every role when empty) may open this page."""
    allowed = allowed or ROLES

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


def safe_next(target: str | None, fallback: str | None) -> str | None:
    r"""`target` when it is a path on this site, else `fallback` (no open redirect).

    Browsers drop tabs and line breaks anywhere in a URL and read a backslash as a
    slash, so "/\t/evil.example" or "/\evil.example" lead off-site; any control
    character or backslash is refused outright, and what is left must be one
    leading "/" not followed by another, with no scheme or host.
    """
    if not target or not target.startswith("/") or target[1:2] == "/" or "\\" in target:
        return fallback
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target
