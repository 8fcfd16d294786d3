"""The organizer's webhook pages: endpoints, their delivery log, "send again", removal with a
confirmation step. The rules are services.webhooks'; these pages only call them."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, URLField
from wtforms.validators import InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from ..db import get_db
from ..services import notifications
from ..services import webhooks as service
from ..services.clock import utcnow
from ..services.errors import Forbidden, NotFound, ServiceError
from ..services.roles import STAFF, owner_scope
from . import pages_blueprint
from .auth import roles

bp = pages_blueprint("webhooks", __name__, url_prefix="/manage/webhooks")

# what each kind means, in the organizer's words (the kinds themselves: services.notifications.KINDS)
KIND_LABELS = {
    notifications.ORDER_PLACED: "order placed, not paid yet",
    notifications.ORDER_PAID: "order paid (tickets issued)",
    notifications.ORDER_PAYMENT_FAILED: "card payment failed (still payable)",
    notifications.ORDER_EXPIRED: "unpaid order expired",
    notifications.ORDER_REFUNDED: "money refunded (whole order or a part)",
    notifications.ORDER_CANCELLED: "unpaid order cancelled",
    notifications.TICKET_REISSUED: "ticket re-issued",
    notifications.TICKET_ADMITTED: "ticket admitted at a gate",
    notifications.EVENT_REMINDER: "event reminder sent",
}


class EndpointForm(FlaskForm):
    url = URLField("Endpoint URL", validators=[InputRequired(), Length(max=service.MAX_URL)])
    kinds = SelectMultipleField(
        "Send these",
        choices=[(kind, f"{kind} — {KIND_LABELS[kind]}") for kind in sorted(notifications.KINDS)],
        validators=[InputRequired(message="Choose at least one.")],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class ActionForm(FlaskForm):
    pass


def _owner() -> int | None:
    return owner_scope(g.user)


@bp.route("", methods=["GET", "POST"])
@roles(*STAFF)
def endpoints():
    conn = get_db()
    form = EndpointForm()
    created = None
    if form.validate_on_submit():
        try:
            created = service.create_endpoint(
                conn,
                {"url": form.url.data, "kinds": form.kinds.data},
                g.user["id"],
                utcnow(),
                allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"],
            )
        except ServiceError as exc:
            flash(exc.message, "error")
    # the secret is shown on this answer only (never put in a redirect's session cookie)
    return render_template(
        "webhooks/list.html", endpoints=service.list_endpoints(conn, _owner()), form=form, created=created
    )


@bp.get("/<int:endpoint_id>")
@roles(*STAFF)
def endpoint(endpoint_id: int):
    conn = get_db()
    try:
        found = service.get_endpoint(conn, endpoint_id, _owner())
        log = service.deliveries(conn, endpoint_id, _owner())
    except ServiceError as exc:
        abort(exc.status)
    return render_template("webhooks/endpoint.html", endpoint=found, log=log, action=ActionForm(), labels=KIND_LABELS)


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/send-again")
@roles(*STAFF)
def send_again(endpoint_id: int, delivery_id: int):
    if ActionForm().validate_on_submit():
        try:
            service.send_again(get_db(), endpoint_id, delivery_id, _owner())
        except (Forbidden, NotFound) as exc:
            abort(exc.status)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash("Queued again: it is posted within a few seconds.", "success")
    return redirect(url_for(".endpoint", endpoint_id=endpoint_id))


@bp.route("/<int:endpoint_id>/remove", methods=["GET", "POST"])
@roles(*STAFF)
def remove(endpoint_id: int):
    conn = get_db()
    try:
        found = service.get_endpoint(conn, endpoint_id, _owner())
    except ServiceError as exc:
        abort(exc.status)
    form = ActionForm()
    if form.validate_on_submit():
        service.delete_endpoint(conn, endpoint_id, _owner())
        flash(f"Webhook endpoint {found['url']} removed: nothing more is sent to it.", "success")
        return redirect(url_for(".endpoints"))
    return render_template("webhooks/remove.html", endpoint=found, form=form)
