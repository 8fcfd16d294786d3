"""Staff: organizers invite door staff and co-organizers by mail, or add door-staff accounts, for
their own events; admins assign any.

Who may work at which door, and what an invitation allows, is services.staff's rule; these pages
only ask for it. The invitation link (``/invite/<token>``) is open to anyone holding it. The forms
live here, beside the only pages that use them.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField, SelectField
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from .. import mail
from ..db import get_db
from ..deployment import external_url
from ..services import staff as staff_service
from ..services.errors import ServiceError
from ..services.roles import ADMIN, DOOR_STAFF, STAFF, owner_scope
from ..services.users import create_user, get_user, get_user_by_email
from . import pages_blueprint
from .auth import login_session, public, roles
from .forms import EMAIL, choice
from .mailing import mail_settings

bp = pages_blueprint("staff", __name__, url_prefix="/manage/staff")
invite_bp = pages_blueprint("invite", __name__, url_prefix="/invite")


class InviteForm(FlaskForm):
    email = EmailField("Email", id="invite-email", validators=[InputRequired(), EMAIL, Length(max=320)])
    role = SelectField(
        "Works as",
        id="invite-role",
        choices=[choice(role, label.capitalize()) for role, label in staff_service.INVITE_ROLES.items()],
    )


class AcceptForm(FlaskForm):
    """Accepting as the logged-in account: only the CSRF token."""


class AcceptNewForm(FlaskForm):
    password = PasswordField("Choose a password", validators=[InputRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat password", validators=[EqualTo("password", message="the passwords differ")])


class DoorStaffForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), EMAIL, Length(max=320)])
    password = PasswordField("Initial password", validators=[InputRequired(), Length(min=8, max=200)])
    # admins only: whom the new account works for (empty: the admin's own events)
    organizer_id = IntegerField("Works for (organizer)", validators=[Optional()])


class AssignForm(FlaskForm):
    organizer_id = IntegerField("Works for", validators=[Optional()])  # empty: no organizer


def _is_admin() -> bool:
    return g.user["role"] == ADMIN


@bp.route("", methods=["GET", "POST"])
@roles(*STAFF)
def staff():
    conn = get_db()
    form = DoorStaffForm()
    if form.validate_on_submit():
        organizer_id = (form.organizer_id.data or g.user["id"]) if _is_admin() else owner_scope(g.user)
        try:
            user = create_user(conn, form.email.data, form.password.data, DOOR_STAFF, staff_of=organizer_id)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(
                f"Door-staff account {user['email']} created; it works at your events' doors."
                if organizer_id == owner_scope(g.user)
                else f"Door-staff account {user['email']} created.",
                "success",
            )
            return redirect(url_for(".staff"))
    scope = owner_scope(g.user)
    return render_template(
        "manage/staff.html",
        members=staff_service.door_staff(conn, scope),
        co_organizers=staff_service.co_organizers(conn, scope),
        invites=staff_service.list_invites(conn, scope),
        form=form,
        invite_form=InviteForm(),
        employers=staff_service.employers(conn) if _is_admin() else [],
        assign_form=AssignForm(),
    )


@bp.post("/invites")
@roles(*STAFF)
def invite():
    form = InviteForm()
    if not form.validate_on_submit():
        flash("; ".join(f"{getattr(form, k).label.text}: {', '.join(v)}" for k, v in form.errors.items()), "error")
        return redirect(url_for(".staff"))
    try:
        found, token = staff_service.invite_staff(get_db(), g.user, form.email.data, form.role.data)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".staff"))
    message = mail.staff_invitation(
        to=found["email"],
        organizer=found["organizer_email"],
        role=found["role_label"],
        accept_url=external_url("invite.accept", token=token),  # from PUBLIC_URL, never the Host header
        valid_days=staff_service.INVITE_TTL.days,
    )
    mail.send(mail_settings(), message)
    flash(f"Invitation sent to {found['email']} ({found['role_label']}); the link works for 7 days.", "success")
    return redirect(url_for(".staff"))


@invite_bp.route("/<token>", methods=["GET", "POST"])
@public
def accept(token: str):
    """The mailed link: shows whose invitation it is; accepts as the logged-in invited account, or
    makes the invited address's account with a password."""
    conn = get_db()
    try:
        found = staff_service.live_invite(conn, token)
    except ServiceError as exc:
        return render_template("error.html", message=exc.message, status=exc.status), exc.status
    has_account = g.user is None and get_user_by_email(conn, found["email"]) is not None
    form = AcceptForm() if g.user else AcceptNewForm()
    if not has_account and form.validate_on_submit():
        try:
            account = staff_service.accept_invite(
                conn, token, user=g.user, password=None if g.user else form.password.data
            )
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            if g.user is None:
                login_session(get_user(conn, account["id"]))
            flash(f"Welcome: you now work as {found['role_label']} for {found['organizer_email']}.", "success")
            return redirect(url_for("manage.dashboard" if account["role"] in STAFF else "door.status"))
    return render_template("manage/invite.html", invite=found, form=form, has_account=has_account, token=token)


@bp.post("/<int:user_id>/organizer")
@roles(ADMIN)
def assign(user_id: int):
    form = AssignForm()
    if form.validate_on_submit():
        try:
            staff_service.assign_staff(get_db(), user_id, form.organizer_id.data or None)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(
                "Door-staff account assigned."
                if form.organizer_id.data
                else "Door-staff account has no organizer now.",
                "success",
            )
    else:
        flash("Choose an organizer from the list.", "error")
    return redirect(url_for(".staff"))
