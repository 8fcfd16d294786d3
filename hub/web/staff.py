"""Door staff: organizers add door-staff accounts for their own events; admins assign any.

Who may work at which door is services.staff's rule; these pages only set
`staff_of`. The forms live here, beside the only pages that use them.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField
from wtforms.validators import InputRequired, Length, Optional

from ..db import get_db
from ..services import staff as staff_service
from ..services.errors import ServiceError
from ..services.roles import ADMIN, DOOR_STAFF, STAFF
from ..services.users import create_user
from . import pages_blueprint
from .auth import roles
from .forms import EMAIL

bp = pages_blueprint("staff", __name__, url_prefix="/manage/staff")


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
        organizer_id = (form.organizer_id.data or g.user["id"]) if _is_admin() else g.user["id"]
        try:
            user = create_user(conn, form.email.data, form.password.data, DOOR_STAFF, staff_of=organizer_id)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(
                f"Door-staff account {user['email']} created; it works at your events' doors."
                if organizer_id == g.user["id"]
                else f"Door-staff account {user['email']} created.",
                "success",
            )
            return redirect(url_for(".staff"))
    members = staff_service.door_staff(conn, None if _is_admin() else g.user["id"])
    employers = staff_service.employers(conn) if _is_admin() else []
    return render_template(
        "manage/staff.html", members=members, form=form, employers=employers, assign_form=AssignForm()
    )


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
