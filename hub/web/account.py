"""Accounts: register (by mailed link), log in (with optional TOTP), log out, password reset by mail, order history,
the profile page (name, email and password changes, data export, deleting the account).

Answers never tell whether an email has an account: login says "wrong email or
password" after the same hash work either way, and registration and reset
requests say "check your mail" either way (the mail differs).
"""

from __future__ import annotations

import json
import logging

import pyotp
import segno
from flask import Response, current_app, flash, g, redirect, render_template, request, session, url_for

from .. import mail
from ..db import get_db
from ..deployment import external_url
from ..services import accounts
from ..services.errors import ServiceError
from ..services.roles import DOOR_STAFF, STAFF
from ..services.users import authenticate, create_user, get_user, get_user_by_email
from . import pages_blueprint
from .auth import login_session, logout_session, public, renew_session, roles, safe_next
from .forms import (
    ConfirmForm,
    DeleteAccountForm,
    DisableTotpForm,
    EmailChangeForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RegisterFinishForm,
    RegisterForm,
    ResetForm,
    ResetRequestForm,
    TotpForm,
    TotpSetupForm,
)
from .mailing import mail_settings

log = logging.getLogger(__name__)
bp = pages_blueprint("account", __name__, url_prefix="/account")


def _landing(user: dict) -> str:
    if user["role"] in STAFF:
        return url_for("manage.dashboard")
    if user["role"] == DOOR_STAFF:
        return url_for("door.status")
    return url_for("store.events")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    if form.validate_on_submit():
        conn = get_db()
        user = authenticate(conn, form.email.data, form.password.data)
        if user is None:
            flash("Wrong email or password.", "error")
        elif accounts.totp_enabled(conn, user["id"]):
            session.clear()
            session["pending_2fa"] = user["id"]
            return redirect(url_for(".login_2fa", next=safe_next(request.args.get("next"), None)))
        else:
            login_session(user)
            return redirect(safe_next(request.args.get("next"), _landing(user)))
    return render_template("account/login.html", form=form)


@bp.route("/login/2fa", methods=["GET", "POST"])
@public
def login_2fa():
    user_id = session.get("pending_2fa")
    if user_id is None:
        return redirect(url_for(".login"))
    form = TotpForm()
    if form.validate_on_submit():
        conn = get_db()
        if accounts.check_totp(conn, user_id, form.code.data):
            user = get_user(conn, user_id)
            login_session(user)
            return redirect(safe_next(request.args.get("next"), _landing(user)))
        flash("That code is not right (or was already used). Try the next one.", "error")
    return render_template("account/login_2fa.html", form=form)


@bp.post("/logout")
@public
def logout():
    logout_session()
    flash("You are logged out.", "success")
    return redirect(url_for("store.events"))


@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        if get_user_by_email(get_db(), email) is None:
            token = accounts.registration_token(current_app.secret_key, email)
            message = mail.registration_link(
                to=email,
                register_url=external_url("account.register_finish", token=token),
                valid_hours=int(accounts.REGISTER_TTL.total_seconds() // 3600),
            )
        else:
            message = mail.account_exists(
                to=email, login_url=external_url("account.login"), reset_url=external_url("account.reset_request")
            )
        mail.send(mail_settings(), message)
        # The same answer either way: the page does not reveal who has an account.
        flash(f"Check your mail: we have sent {email} a link to finish creating your account.", "success")
        return redirect(url_for(".login"))
    return render_template("account/register.html", form=form)


@bp.route("/register/<token>", methods=["GET", "POST"])
@public
def register_finish(token: str):
    conn = get_db()
    email = accounts.registration_email(current_app.secret_key, token)
    if email is None:
        flash("This registration link is invalid or expired; register again for a new one.", "error")
        return redirect(url_for(".register"))
    if get_user_by_email(conn, email) is not None:
        flash("This address already has an account: log in (or reset the password).", "error")
        return redirect(url_for(".login"))
    form = RegisterFinishForm()
    if form.validate_on_submit():
        try:
            user = create_user(conn, email, form.password.data, "customer")
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".login" if exc.code == "email_taken" else ".register"))
        login_session(get_user(conn, user["id"]))
        flash("Welcome! Your account is ready.", "success")
        return redirect(url_for("store.events"))
    return render_template("account/register_finish.html", form=form, email=email)


@bp.route("/reset", methods=["GET", "POST"])
@public
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        conn = get_db()
        started = accounts.start_password_reset(conn, form.email.data)
        if started:
            user, token = started
            message = mail.password_reset(
                to=user["email"],
                valid_minutes=int(accounts.RESET_TTL.total_seconds() // 60),
                reset_url=external_url("account.reset", token=token),
            )
            mail.send(mail_settings(), message)
        # The same answer either way: the page does not reveal who has an account.
        flash("If that address has an account, we have sent it a link to reset the password.", "success")
        return redirect(url_for(".login"))
    return render_template("account/reset_request.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset(token: str):
    conn = get_db()
    if accounts.reset_token_user(conn, token) is None:
        flash("This reset link is invalid, used or expired; ask for a new one.", "error")
        return redirect(url_for(".reset_request"))
    form = ResetForm()
    if form.validate_on_submit():
        try:
            accounts.finish_password_reset(conn, token, form.password.data)
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".reset_request"))
        logout_session()
        flash("Your password is changed. Log in with the new one.", "success")
        return redirect(url_for(".login"))
    return render_template("account/reset.html", form=form)


@bp.get("/orders")
@roles()
def orders():
    return render_template("account/orders.html", orders=accounts.order_history(get_db(), g.user["id"]))


@bp.route("/2fa", methods=["GET", "POST"])
@roles(*STAFF)
def two_factor():
    conn = get_db()
    user = g.user
    if accounts.totp_enabled(conn, user["id"]):
        form = DisableTotpForm()
        if form.validate_on_submit():
            if accounts.disable_totp(conn, user["id"], form.code.data):
                renew_session(user["id"])  # other sessions end; this one stays
                flash("Two-factor login is off.", "success")
                return redirect(url_for(".two_factor"))
            flash("That code is not right (or was already used); two-factor login stays on.", "error")
        return render_template("account/two_factor.html", enabled=True, form=form)
    form = TotpSetupForm()
    if form.validate_on_submit():
        if accounts.confirm_totp_setup(conn, user["id"], form.code.data):
            renew_session(user["id"])  # other sessions end; this one stays
            flash("Two-factor login is on. You will need a code from your app at every login.", "success")
            return redirect(url_for(".two_factor"))
        flash("That code does not match; check the app and the clock of your phone.", "error")
    state = accounts.totp_state(conn, user["id"])
    if state is None or request.method == "GET":
        secret, uri = accounts.begin_totp_setup(conn, user)
    else:
        secret = state["secret"]
        uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name=accounts.TOTP_ISSUER)
    # omitsize: a viewBox only, so the code scales to its card instead of sitting in one corner of it
    qr = segno.make_qr(uri).svg_inline(border=4, dark="#000", light="#fff", omitsize=True)
    return render_template("account/two_factor.html", enabled=False, form=form, secret=secret, qr_svg=qr)


def _profile_page(**forms):
    user = g.user
    defaults = {
        "profile": ProfileForm(name=user.get("name", ""), formdata=None),
        "password_form": PasswordChangeForm(formdata=None),
        "email_form": EmailChangeForm(formdata=None),
    }
    return render_template("account/profile.html", **{**defaults, **forms})


@bp.route("/profile", methods=["GET", "POST"])
@roles()
def profile():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            accounts.update_profile(get_db(), g.user["id"], form.name.data or "")
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash("Saved.", "success")
            return redirect(url_for(".profile"))
    return _profile_page(profile=form) if request.method == "POST" else _profile_page()


@bp.post("/password")
@roles()
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(get_db(), g.user, form.current.data, form.password.data)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            renew_session(g.user["id"])  # other sessions end; this one stays
            flash("Your password is changed; you were logged out everywhere else.", "success")
            return redirect(url_for(".profile"))
    return _profile_page(password_form=form)


@bp.post("/email")
@roles()
def change_email():
    form = EmailChangeForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        token = accounts.email_change_token(current_app.secret_key, g.user, email)
        message = mail.email_change_link(
            to=email,
            confirm_url=external_url("account.confirm_email", token=token),
            valid_hours=int(accounts.EMAIL_CHANGE_TTL.total_seconds() // 3600),
        )
        mail.send(mail_settings(), message)
        flash(f"Check your mail at {email}: follow the link there to confirm the new address.", "success")
        return redirect(url_for(".profile"))
    return _profile_page(email_form=form)


@bp.route("/email/<token>", methods=["GET", "POST"])
@roles()
def confirm_email(token: str):
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            email = accounts.finish_email_change(get_db(), current_app.secret_key, token, g.user)
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".profile"))
        renew_session(g.user["id"])
        flash(f"Your account's email is now {email}.", "success")
        return redirect(url_for(".profile"))
    return render_template("account/confirm_email.html", form=form)


@bp.get("/export.json")
@roles()
def export():
    data = accounts.export_data(get_db(), g.user["id"])
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="ticketgate-account.json"', "Cache-Control": "no-store"},
    )


@bp.route("/delete", methods=["GET", "POST"])
@roles()
def delete():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            accounts.delete_account(get_db(), g.user, form.password.data)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            session.clear()  # the user is gone, and with them every session (load_user finds no one)
            g.user = None
            flash(
                "Your account is deleted. Your tickets still work: open them from the links in your mails.", "success"
            )
            return redirect(url_for("store.events"))
    return render_template("account/delete.html", form=form)
