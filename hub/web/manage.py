"""Organizer and admin pages: venues, events, ticket types and prices, promo codes, orders, users.

Organizers see and change only their own venues and events; admins everything.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from ..api.queue import queue_states
from ..api.util import payment_providers
from ..db import get_db
from ..delivery.notify import mail_history
from ..services import event_admin, event_status, promos, seatmap, waiting_room
from ..services import orders as order_service
from ..services.clock import iso
from ..services.errors import ServiceError
from ..services.events import check_owner, create_event, get_event
from ..services.layouts import expand, layout_text, parse_layout
from ..services.money import DEFAULT_CURRENCY, csv_amount, format_money, to_minor
from ..services.reports import organizer_sales
from ..services.roles import ADMIN, ROLES, STAFF, owner_scope
from ..services.tickets import get_ticket, reissue_ticket
from ..services.users import create_user, list_users, set_role
from ..services.venues import create_venue, edit_venue, get_venue, list_venues
from . import pages_blueprint
from .auth import roles
from .forms import (
    ActionForm,
    CancelEventForm,
    EventEditForm,
    EventForm,
    NewTicketTypeForm,
    PriceForm,
    PromoForm,
    RoleForm,
    StaffUserForm,
    TicketTypeEditForm,
    VenueEditForm,
    VenueForm,
    choice,
)
from .mailing import send_confirmation_now
from .store import MAX_PAGE

bp = pages_blueprint("manage", __name__, url_prefix="/manage")


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value else None


def _mine() -> int | None:
    return owner_scope(g.user)


def _owner() -> int:
    """Whose new venues and events these are: the organizer's (also for their co-organizers), an admin's own."""
    return _mine() or g.user["id"]


def _own_event(event_id: int) -> dict:
    check_owner(get_db(), event_id, g.user)
    return get_event(get_db(), event_id)


def _signer():
    return current_app.extensions["tickethub.keys"].current()


@bp.get("")
@roles(*STAFF)
def dashboard():
    """The sales dashboard: what organizers see first (tickets and revenue today and in total, per day, left)."""
    conn = get_db()
    return render_template(
        "manage/dashboard.html",
        sales=organizer_sales(conn, _mine()),
        status_labels=event_status.LABELS,
        venues=list_venues(conn, owner_id=_mine()),
    )


# --- venues ----------------------------------------------------------------


@bp.route("/venues/new", methods=["GET", "POST"])
@roles(*STAFF)
def venue_new():
    form = VenueForm()
    if request.form.get("preview") and form.validate_on_submit():  # show the seats, save nothing
        try:
            preview = expand(parse_layout(form.layout.data))
        except ServiceError as exc:
            form.layout.errors = [exc.message]
        else:
            seats = sum(len(row["seats"]) for section in preview for row in section["rows"])
            return render_template("manage/venue_form.html", form=form, preview=preview, seats=seats)
        return render_template("manage/venue_form.html", form=form)
    if form.validate_on_submit():
        try:
            venue = create_venue(
                get_db(),
                {"name": form.name.data.strip(), "sections": parse_layout(form.layout.data)},
                owner_id=_owner(),
            )
        except ServiceError as exc:
            form.layout.errors = [exc.message]
        else:
            flash(f"Venue {venue['name']} with {venue['num_seats']} seats created.", "success")
            return redirect(url_for(".venue", venue_id=venue["id"]))
    return render_template("manage/venue_form.html", form=form)


def _own_venue(venue_id: int) -> dict:
    found = get_venue(get_db(), venue_id)
    if _mine() is not None and found["owner_id"] != _mine():
        abort(403)
    return found


@bp.get("/venues/<int:venue_id>")
@roles(*STAFF)
def venue(venue_id: int):
    found = _own_venue(venue_id)
    return render_template("manage/venue.html", venue=found, layout=layout_text(found))


@bp.route("/venues/<int:venue_id>/edit", methods=["GET", "POST"])
@roles(*STAFF)
def venue_edit(venue_id: int):
    found = _own_venue(venue_id)
    form = VenueEditForm()
    if request.method == "GET":
        form.name.data = found["name"]
    if form.validate_on_submit():
        try:
            sections = parse_layout(form.add_layout.data) if (form.add_layout.data or "").strip() else None
            added = edit_venue(get_db(), venue_id, name=form.name.data, add_sections=sections)
        except ServiceError as exc:
            form.add_layout.errors = [exc.message]
        else:
            flash(f"Venue saved; {added} seat(s) added." if added else "Venue saved.", "success")
            return redirect(url_for(".venue", venue_id=venue_id))
    return render_template("manage/venue_edit.html", form=form, venue=found)


# --- events ----------------------------------------------------------------


def _ticket_type_spec(sub, currency: str) -> dict:
    """A ticket type form's fields as services.events.TICKET_TYPE_SPEC takes them (the price in minor units
    of `currency`; money.to_minor raises Invalid for an amount the currency cannot have)."""
    spec = {
        "name": sub.name.data.strip(),
        "kind": sub.kind.data,
        "price": to_minor(sub.price.data or "0", currency, "price"),
    }
    if sub.kind.data == "ga":
        spec["capacity"] = sub.capacity.data or 0
    elif sub.sections.data:  # ticked checkboxes (event page) or comma-separated text (new-event form)
        names = sub.sections.data if isinstance(sub.sections.data, list) else sub.sections.data.split(",")
        spec["sections"] = [s.strip() for s in names if s.strip()]
    if sub.zones.data:
        spec["zones"] = [int(z) for z in sub.zones.data.split(",")]
    return spec


def _ticket_type_specs(form: EventForm, currency: str) -> list[dict]:
    return [
        _ticket_type_spec(entry.form, currency)
        for entry in form.ticket_types.entries
        if (entry.form.name.data or "").strip()
    ]


def _currency(form: EventForm | EventEditForm, current: str) -> str:
    """The currency the form chose, or `current` (the event's, or the default) when it sent none."""
    return form.currency.data if form.currency.raw_data and form.currency.data else current


def _event_details(form: EventForm | EventEditForm, currency: str) -> dict:
    """The event details of a new-event or edit form, as services.events.EVENT_DETAILS takes them."""
    details = {
        "title": form.title.data,
        "artist": form.artist.data or "",
        "category": form.category.data or "",
        "location": form.location.data or "",
        "description": form.description.data or "",
        "starts_at": iso(_utc(form.starts_at.data)),
        "currency": currency,
        "service_fee": to_minor(form.service_fee.data or "0", currency, "service fee"),
        "waiting_room": form.waiting_room.data,
    }
    if form.admit_per_minute.data is not None:
        details["admit_per_minute"] = form.admit_per_minute.data
    if form.ticket_release_at.data:  # a new event without one goes on sale now
        details["ticket_release_at"] = iso(_utc(form.ticket_release_at.data))
    return details


@bp.route("/events/new", methods=["GET", "POST"])
@roles(*STAFF)
def event_new():
    conn = get_db()
    form = EventForm()
    form.venue_id.choices = [choice(0, "No venue (general admission only)")] + [
        choice(v["id"], f"{v['name']} ({v['num_seats']} seats)") for v in list_venues(conn, owner_id=_mine())
    ]
    if request.form.get("add_type"):  # "Add another ticket type": the same form with one more row
        form.ticket_types.append_entry()
        return render_template("manage/event_form.html", form=form)
    if form.validate_on_submit():
        try:
            currency = _currency(form, DEFAULT_CURRENCY)
            # a draft until the organizer publishes it on the event page (services.event_status)
            data = {
                **_event_details(form, currency),
                "ticket_types": _ticket_type_specs(form, currency),
                "status": event_status.DRAFT,
            }
            if form.venue_id.data:
                data["venue_id"] = form.venue_id.data
            if not data["ticket_types"]:
                raise ServiceError("add at least one ticket type (give it a name)", "missing_field")
            event = create_event(conn, data, organizer_id=_owner())
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Event {event['title']} created as a draft: nobody else sees it until you publish it.", "success")
            return redirect(url_for(".event", event_id=event["id"]))
    return render_template("manage/event_form.html", form=form)


def _type_form(ticket_type: dict, currency: str, sections: list[str], formdata=None) -> TicketTypeEditForm:
    """The edit form of one ticket type, prefixed by its id (unique names and ids on the page)."""
    form = TicketTypeEditForm(formdata=formdata, prefix=f"t{ticket_type['id']}")
    form.sections.choices = [choice(s, s) for s in sections]
    if formdata is None:
        form.name.data = ticket_type["name"]
        form.price.data = csv_amount(ticket_type["price"], currency)
        form.hidden.data = ticket_type["hidden"]
        form.capacity.data = ticket_type.get("capacity")
        for key in ("sales_start", "sales_end"):
            if ticket_type[key]:
                getattr(form, key).data = datetime.fromisoformat(ticket_type[key].replace("Z", ""))
        form.sections.data = ticket_type.get("sections", [])
        form.zones.data = ",".join(map(str, ticket_type["zones"]))
    return form


def _sections(found: dict) -> list[str]:
    return event_admin.venue_sections(get_db(), found["venue_id"]) if found["venue_id"] else []


@bp.get("/events/<int:event_id>")
@roles(*STAFF)
def event(event_id: int):
    conn = get_db()
    found = _own_event(event_id)
    sections = _sections(found)
    type_form = NewTicketTypeForm()
    type_form.sections.choices = [choice(s, s) for s in sections]
    return render_template(
        "manage/event.html",
        event=found,
        type_forms={t["id"]: _type_form(t, found["currency"], sections) for t in found["ticket_types"]},
        type_sold=event_admin.type_sales(conn, event_id),
        sections=sections,
        sales=event_admin.event_sales(conn, event_id),
        queue=waiting_room.queue_state(conn, event_id),
        stepped_in=waiting_room.admissions_given(conn, event_id),
        promos=promos.list_promos(conn, event_id),
        promo_form=PromoForm(),
        price_form=PriceForm(),
        type_form=type_form,
        status_labels=event_status.LABELS,
        action=ActionForm(),
    )


# what each status button on the event page does, and what it then says
_STATUS_ACTIONS = {
    "publish": (event_status.PUBLISHED, "Event published: it is listed and on sale from its release time."),
    "pause": (event_status.PAUSED, "Sales paused: the event stays listed, but nobody can pick tickets."),
    "resume": (event_status.PUBLISHED, "Sales resumed."),
}


@bp.post("/events/<int:event_id>/status")
@roles(*STAFF)
def event_status_change(event_id: int):
    _own_event(event_id)
    action = _STATUS_ACTIONS.get(request.form.get("action", ""))
    if not ActionForm().validate_on_submit() or action is None:
        abort(400, "Choose publish, pause or resume.")
    try:
        event_status.set_status(get_db(), event_id, action[0])
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        seatmap.changed(event_id)  # a published map becomes readable; forget any "no such event"
        flash(action[1], "success")
    return redirect(url_for(".event", event_id=event_id))


@bp.post("/events/<int:event_id>/ticket-types")
@roles(*STAFF)
def ticket_type_new(event_id: int):
    found = _own_event(event_id)
    form = NewTicketTypeForm()
    if form.validate_on_submit() and (form.name.data or "").strip():
        try:
            event_admin.add_ticket_type(get_db(), event_id, _ticket_type_spec(form, found["currency"]))
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            seatmap.changed(event_id)  # new seats, another price: the map's layout
            flash(f"Ticket type {form.name.data.strip()} added.", "success")
    else:
        flash("Give the ticket type a name and a price like 25 or 24.50.", "error")
    return redirect(url_for(".event", event_id=event_id))


@bp.post("/events/<int:event_id>/ticket-types/<int:type_id>")
@roles(*STAFF)
def ticket_type_edit(event_id: int, type_id: int):
    found = _own_event(event_id)
    current = next((t for t in found["ticket_types"] if t["id"] == type_id), None)
    if current is None:
        abort(404)
    form = _type_form(current, found["currency"], _sections(found), formdata=request.form)
    if not form.validate_on_submit():
        flash("; ".join(f"{getattr(form, k).label.text}: {', '.join(v)}" for k, v in form.errors.items()), "error")
        return redirect(url_for(".event", event_id=event_id))
    try:
        price = to_minor(form.price.data, found["currency"], "price")
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".event", event_id=event_id))
    changes = {
        "name": form.name.data.strip(),
        "price": price,
        "hidden": form.hidden.data,
        "sales_start": iso(_utc(form.sales_start.data)),  # None (empty): no limit
        "sales_end": iso(_utc(form.sales_end.data)),
        "zones": [int(z) for z in form.zones.data.split(",")] if (form.zones.data or "").strip() else [],
    }
    if current["kind"] == "ga":
        changes["capacity"] = form.capacity.data or current["capacity"]
    else:
        changes["sections"] = list(form.sections.data or [])
    try:
        changed = event_admin.update_ticket_type(get_db(), event_id, type_id, changes)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        seatmap.changed(event_id)  # a name, price, sections or hiding change the map's layout
        flash(f"Ticket type {changed['name']} saved.", "success")
    return redirect(url_for(".event", event_id=event_id))


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@roles(*STAFF)
def event_edit(event_id: int):
    found = _own_event(event_id)
    form = EventEditForm()
    if request.method == "GET":
        for key in (
            "title",
            "artist",
            "category",
            "location",
            "description",
            "waiting_room",
            "admit_per_minute",
            "currency",
        ):
            getattr(form, key).data = found[key]
        for key in ("starts_at", "ticket_release_at"):
            getattr(form, key).data = datetime.fromisoformat(found[key].replace("Z", "")).replace(
                second=0, microsecond=0
            )
        form.service_fee.data = csv_amount(found["service_fee"], found["currency"])
    if form.validate_on_submit():
        try:
            event_admin.update_event(get_db(), event_id, _event_details(form, _currency(form, found["currency"])))
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            queue_states(current_app).forget(event_id)  # a waiting room turned on or off applies here at once
            flash("Event saved.", "success")
            return redirect(url_for(".event", event_id=event_id))
    return render_template("manage/event_edit.html", form=form, event=found)


@bp.route("/events/<int:event_id>/cancel", methods=["GET", "POST"])
@roles(*STAFF)
def event_cancel(event_id: int):
    """Cancel an event in two steps: this page says what happens, the organizer types the title to go ahead."""
    conn = get_db()
    found = _own_event(event_id)
    form = CancelEventForm()
    if form.validate_on_submit():
        try:
            result = event_admin.cancel_event(conn, event_id, form.confirm.data.strip())
        except ServiceError as exc:
            form.confirm.errors = (
                ["That is not the event's title; nothing was cancelled."]
                if exc.code == "confirmation_required"
                else [exc.message]
            )
        else:
            seatmap.changed(event_id)  # each refund and cancellation queued its buyer's mail (services.notifications)
            flash(
                f"Event cancelled: {len(result['refunded'])} order(s) refunded, {len(result['cancelled'])} unpaid "
                "order(s) cancelled; their tickets no longer admit and the buyers were mailed.",
                "success",
            )
            return redirect(url_for(".event", event_id=event_id))
    preview = event_admin.cancellation_preview(conn, event_id)
    return render_template(
        "manage/event_cancel.html",
        event=found,
        form=form,
        preview=preview,
        consequences=event_admin.cancellation_consequences(preview),
    )


@bp.post("/events/<int:event_id>/ticket-types/<int:type_id>/price")
@roles(*STAFF)
def ticket_price(event_id: int, type_id: int):
    found = _own_event(event_id)
    form = PriceForm()
    if form.validate_on_submit():
        try:
            price = to_minor(form.price.data, found["currency"], "price")
            event_admin.update_ticket_type(get_db(), event_id, type_id, {"price": price})
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            seatmap.changed(event_id)
            flash("Price changed; it applies to new holds.", "success")
    else:
        flash("Give the price like 25 or 24.50.", "error")
    return redirect(url_for(".event", event_id=event_id))


@bp.post("/events/<int:event_id>/promos")
@roles(*STAFF)
def promo_new(event_id: int):
    found = _own_event(event_id)
    form = PromoForm()
    if form.validate_on_submit():
        try:
            value = (
                int(float(form.value.data.replace(",", ".")))
                if form.kind.data == "percent"
                else to_minor(form.value.data, found["currency"], "value")
            )
            promo = promos.create_promo(
                get_db(),
                event_id,
                form.code.data,
                form.kind.data,
                value,
                max_uses=form.max_uses.data,
                valid_from=_utc(form.valid_from.data),
                valid_until=_utc(form.valid_until.data),
            )
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Promo code {promo['code']} created.", "success")
    else:
        flash("; ".join(f"{getattr(form, k).label.text}: {', '.join(v)}" for k, v in form.errors.items()), "error")
    return redirect(url_for(".event", event_id=event_id))


@bp.post("/events/<int:event_id>/promos/<int:promo_id>/delete")
@roles(*STAFF)
def promo_delete(event_id: int, promo_id: int):
    _own_event(event_id)
    if promos.get_promo(get_db(), promo_id)["event_id"] != event_id:
        abort(404)
    promos.delete_promo(get_db(), promo_id)
    flash("Promo code deleted.", "success")
    return redirect(url_for(".event", event_id=event_id))


# --- orders and tickets ----------------------------------------------------


@bp.get("/events/<int:event_id>/orders")
@roles(*STAFF)
def event_orders(event_id: int):
    found = _own_event(event_id)
    page = min(max(1, request.args.get("page", 1, type=int) or 1), MAX_PAGE)
    result = order_service.list_orders(get_db(), event_id, offset=(page - 1) * 50, limit=50)
    mails = mail_history(get_db(), [o["id"] for o in result["items"]])
    return render_template(
        "manage/orders.html",
        event=found,
        result=result,
        page=page,
        mails=mails,
        pages=max(1, -(-result["total"] // 50)),
        action=ActionForm(),
    )


def _own_order(order_id: int) -> dict:
    order = order_service.get_order(get_db(), order_id)
    check_owner(get_db(), order["event_id"], g.user)
    return order


@bp.post("/orders/<int:order_id>/refund")
@roles(*STAFF)
def order_refund(order_id: int):
    order = _own_order(order_id)
    if ActionForm().validate_on_submit():
        try:
            # a paid card order may be refunded in part: an amount such as "12.50" (empty: all that is left)
            raw = (request.form.get("amount") or "").strip()
            amount = to_minor(raw, order["currency"], "amount") if raw else None
            after = order_service.refund(get_db(), order_id, amount=amount, providers=payment_providers())
        except (ServiceError, ValueError) as exc:
            flash(f"Order {order_id}: {getattr(exc, 'message', None) or 'give the amount like 12.50'}", "error")
            return redirect(url_for(".event_orders", event_id=order["event_id"]))
        if after["status"] in ("paid", "pending"):  # part of a card order, or not yet confirmed by Stripe
            refunded = after["payment"]["refunded"] - order["payment"]["refunded"]
            flash(
                f"Order {order_id}: {format_money(refunded, order['currency'])} refunded through Stripe; "
                "the buyer is mailed."
                if refunded
                else f"Order {order_id}: refund asked of Stripe; it shows here (and the buyer is mailed) once "
                "Stripe confirms it.",
                "success",
            )
        else:
            seatmap.changed(order["event_id"])
            flash(f"Order {order_id} {after['status']}; its tickets are revoked and the buyer is mailed.", "success")
    return redirect(url_for(".event_orders", event_id=order["event_id"]))


@bp.post("/orders/<int:order_id>/mark-paid")
@roles(*STAFF)
def order_mark_paid(order_id: int):
    order = _own_order(order_id)
    if ActionForm().validate_on_submit():
        try:
            order_service.confirm_payment(get_db(), order_id, _signer())
        except ServiceError as exc:  # e.g. expired, and its seats sold again: nothing changed
            flash(exc.message, "error")
        else:
            seatmap.changed(order["event_id"])  # an expired order may have taken its seats back
            flash(f"Order {order_id} marked paid; the tickets are issued and mailed to the buyer.", "success")
    return redirect(url_for(".event_orders", event_id=order["event_id"]))


@bp.post("/orders/<int:order_id>/resend")
@roles(*STAFF)
def order_resend(order_id: int):
    order = _own_order(order_id)
    if ActionForm().validate_on_submit():
        status = send_confirmation_now(get_db(), order_id)
        flash(
            "Confirmation "
            + (
                "sent."
                if status == "sent"
                else "written to the outbox."
                if status
                else "not sent: the order has no valid tickets."
            ),
            "success" if status else "error",
        )
    return redirect(url_for(".event_orders", event_id=order["event_id"]))


@bp.post("/tickets/<int:ticket_id>/reissue")
@roles(*STAFF)
def ticket_reissue(ticket_id: int):
    old = get_ticket(get_db(), ticket_id)
    check_owner(get_db(), old["event_id"], g.user)
    if ActionForm().validate_on_submit():
        new = reissue_ticket(get_db(), ticket_id, _signer())  # the buyer is mailed the new code
        flash(f"Ticket {ticket_id} replaced by ticket {new['ticket_id']}; the old code no longer admits.", "success")
    return redirect(url_for(".event_orders", event_id=old["event_id"]))


# --- users (admin) ---------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
@roles(ADMIN)
def users():
    conn = get_db()
    form = StaffUserForm()
    if form.validate_on_submit():
        try:
            user = create_user(conn, form.email.data, form.password.data, form.role.data)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash(f"User {user['email']} ({user['role']}) created.", "success")
            return redirect(url_for(".users"))
    return render_template("manage/users.html", users=list_users(conn), form=form, role_form=RoleForm(), roles=ROLES)


@bp.post("/users/<int:user_id>/role")
@roles(ADMIN)
def user_role(user_id: int):
    form = RoleForm()
    if form.validate_on_submit():
        if user_id == g.user["id"] and form.role.data != ADMIN:
            flash("You cannot take away your own admin role.", "error")
        else:
            set_role(get_db(), user_id, form.role.data)
            flash("Role changed.", "success")
    return redirect(url_for(".users"))
