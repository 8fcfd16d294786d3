"""Storefront: event list and calendar, event page with seat map, hold and checkout, orders and tickets."""

from __future__ import annotations

import calendar as calendar_module
import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ..api.errors import error_response
from ..api.seatmap_reads import flask_response
from ..api.util import payment_providers
from ..db import get_db
from ..delivery.images import qr_png, qr_svg
from ..delivery.notify import ticket_cards
from ..delivery.pdf import tickets_pdf
from ..services import accounts, pricing, promos, seatmap, storefront
from ..services import holds as hold_service
from ..services import orders as order_service
from ..services.clock import utcnow
from ..services.errors import Forbidden, NotFound, ServiceError
from ..services.events import get_event, list_events
from ..services.payments import online
from ..services.tokens import as_bytes
from ..streaming import stream_url
from . import pages_blueprint
from .auth import public
from .forms import CheckoutForm, choice
from .queue import hold_refused, queue_detour

bp = pages_blueprint("store", __name__)
PAGE_SIZE = 12
MAX_PAGE = 100_000  # far past any real list; keeps the offset inside the database's integer range
SORT_CHOICES = {
    "starts_at": "Date, soonest first",
    "-starts_at": "Date, latest first",
    "title": "Title A-Z",
    "-title": "Title Z-A",
}


def _day(name: str) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        flash(f"{name.replace('_', ' ')}: use a date like 2026-12-31", "error")
        return None


@bp.get("/")
@public
def events():
    conn = get_db()
    sort = request.args.get("sort", "starts_at")
    sort = sort if sort in SORT_CHOICES else "starts_at"
    page = min(max(1, request.args.get("page", 1, type=int) or 1), MAX_PAGE)
    date_from, date_to = _day("date_from"), _day("date_to")
    if date_from is None and date_to is None:
        date_from = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    q = request.args.get("q", "").strip()[:200]
    location = request.args.get("location", "").strip()[:300]
    result = list_events(
        conn,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        sort=sort,
        q=q or None,
        category=request.args.get("category") or None,
        starts_from=date_from,
        starts_to=date_to + timedelta(days=1) if date_to and date_to.date() < date.max else None,
        location=location or None,
    )
    pages = max(1, -(-result["total"] // PAGE_SIZE))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "store/events.html",
        result=result,
        page=page,
        pages=pages,
        args=args,
        sort=sort,
        sorts=SORT_CHOICES,
        categories=storefront.categories(conn),
        locations=storefront.locations(conn),
        q=q,
        location=location,
        prices=storefront.lowest_prices(conn, [e["id"] for e in result["items"]]),
    )


@bp.get("/calendar")
@public
def calendar():
    today = utcnow().date()
    try:
        year, month = (int(part) for part in request.args.get("month", f"{today:%Y-%m}").split("-"))
        first = date(year, month, 1)
        if not date.min.year < year < date.max.year:  # the month before and after must exist too
            raise ValueError(year)
    except ValueError:
        first = today.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(after, datetime.min.time(), tzinfo=UTC)
    found = list_events(get_db(), limit=500, starts_from=start, starts_to=end)["items"]
    by_day: dict[int, list[dict]] = {}
    for event in found:
        by_day.setdefault(int(event["starts_at"][8:10]), []).append(event)
    weeks = calendar_module.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    previous = (first - timedelta(days=1)).replace(day=1)
    return render_template(
        "store/calendar.html",
        first=first,
        weeks=weeks,
        by_day=by_day,
        previous=f"{previous:%Y-%m}",
        next=f"{after:%Y-%m}",
    )


@bp.get("/events/<int:event_id>")
@public
def event(event_id: int):
    """The event page; its seat map is drawn by seatmap.js from the cached layout and status, and kept
    current from the stream or, without one, by asking for the changes every 2 s."""
    detour = queue_detour(event_id)  # the waiting room first, while it is on (no database)
    if detour is not None:
        return detour
    conn = get_db()
    found = get_event(conn, event_id)
    now = utcnow()
    seated = any(t["kind"] == "seated" for t in found["ticket_types"])
    layout = seatmap.seatmaps_for(current_app).layout(event_id) if seated else None
    stream = stream_url(current_app)
    if stream:
        g.csp_connect_src = stream  # the stream may be on another port: another origin
    return render_template(
        "store/event.html",
        event=found,
        venue=storefront.venue_name(conn, found["venue_id"]),
        available=storefront.availability(conn, found, now),
        seated=bool(layout and layout.seats),
        sections=[name for name, _rows in layout.sections] if layout else [],
        stream_url=stream,
        released=now >= datetime.fromisoformat(found["ticket_release_at"].replace("Z", "+00:00")),
        max_seats=hold_service.HoldPolicy.from_config(current_app.config, signed_in=bool(g.user)).max_seats,
    )


@bp.get("/events/<int:event_id>/seats.json")
@public
def seats_json(event_id: int):
    """The classic seat map (every seat spelled out), from memory like the API's."""
    return flask_response("seats", event_id)


def _user_id() -> int | None:
    return g.user["id"] if g.user else None


@bp.post("/events/<int:event_id>/hold")
@public
def hold(event_id: int):
    conn = get_db()
    refused = hold_refused(conn, event_id)  # while the waiting room is on: its admission, else the queue
    if refused is not None:
        return refused
    mode = request.form.get("mode")
    # the same policy and share of holds as the API's: per signed-in user, else per address
    common = hold_service.client_terms(current_app.config, _user_id(), request.remote_addr)
    try:
        if mode == "seats":
            wanted = {int(i) for i in request.form.getlist("seat") if i.isascii() and i.isdigit() and len(i) < 10}
            if not wanted:
                flash("Pick at least one seat on the map.", "error")
                return redirect(url_for(".event", event_id=event_id))
            by_index = seatmap.seatmaps_for(current_app).layout(event_id).by_position  # (section, row, label)
            if not wanted <= set(by_index):
                raise NotFound("one of the picked seats does not exist", "unknown_seat")
            picked = [by_index[i] for i in sorted(wanted)]
            result = hold_service.hold_seats(conn, event_id, picked, **common)
        elif mode == "best":
            count = request.form.get("count", type=int) or 0
            result = hold_service.hold_best_available(
                conn, event_id, count, section=request.form.get("section") or None, **common
            )
        elif mode == "ga":
            result = hold_service.hold_ga(
                conn,
                event_id,
                request.form.get("ticket_type_id", type=int) or 0,
                request.form.get("quantity", type=int) or 0,
                **common,
            )
        else:
            abort(400)
    except ServiceError as exc:
        if exc.status == 404 and exc.code == "event_not_found":
            raise
        flash(exc.message, "error")
        return redirect(url_for(".event", event_id=event_id))
    seatmap.changed(event_id, hold_id=result["hold_id"])  # only its seats changed
    held = dict(session.get("holds", {}))
    held[str(result["hold_id"])] = result["hold_token"]
    session["holds"] = dict(list(held.items())[-10:])
    return redirect(url_for(".checkout", hold_id=result["hold_id"]))


def _hold_token(hold_id: int) -> str:
    token = session.get("holds", {}).get(str(hold_id))
    if token is None:
        raise Forbidden("this hold belongs to another browser session", "bad_hold_token")
    return token


def _checkout_key(hold_token: str) -> str:
    """The checkout's Idempotency-Key: the same for every submit of this hold's form (a double click
    gets the first order back), and derived from the secret hold token, so nobody else can know it."""
    return hmac.new(as_bytes(hold_token), b"web-checkout", hashlib.sha256).hexdigest()


def _payment_choices(total: int) -> list[tuple[str, str]]:
    """The app's payment methods (card only when Stripe is configured), card first: it pays at once."""
    labels = {"free": "Free — no payment needed", "box_office": "Pay at the box office", "card": "Card — pay now"}
    if total == 0:
        return [choice("free", labels["free"])]
    names = sorted((name for name in payment_providers() if name != "free"), key=lambda name: name != "card")
    return [choice(name, labels.get(name, name.replace("_", " ").title())) for name in names]


@bp.route("/checkout/<int:hold_id>", methods=["GET", "POST"])
@public
def checkout(hold_id: int):
    conn = get_db()
    token = _hold_token(hold_id)
    now = utcnow()
    held = hold_service.find_hold(conn, hold_id, token)
    status = hold_service.live_status(held, now)
    if status != "active":
        flash(f"Your hold has {status}; please pick your seats again.", "error")
        return redirect(url_for(".event", event_id=held.event_id))
    event = get_event(conn, held.event_id)
    price = pricing.hold_price(conn, held, now)  # the purchase below charges this same price
    form = CheckoutForm()
    if request.method == "GET" and g.user:
        form.email.data = g.user["email"]
    if form.promo_code.data:
        try:
            price = pricing.with_promo(conn, price, form.promo_code.data, now)
        except ServiceError as exc:
            form.promo_code.errors = [exc.message]
    form.payment_method.choices = _payment_choices(price.total)
    if (
        request.method == "POST"
        and request.form.get("action") == "buy"
        and form.validate()
        and not form.promo_code.errors
    ):
        try:
            order = order_service.purchase(
                conn,
                hold_id,
                token,
                {"name": form.name.data, "email": form.email.data},
                form.payment_method.data,
                current_app.extensions["tickethub.keys"].current(),
                idempotency_key=_checkout_key(token),
                now=now,
                promo_code=form.promo_code.data or None,
                config=current_app.config,
                providers=payment_providers(),
            )
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            seatmap.changed(held.event_id, hold_id=hold_id)  # the hold's seats are sold
            if g.user:
                accounts.link_order(conn, order["id"], g.user["id"])
            session["holds"] = {k: v for k, v in session.get("holds", {}).items() if k != str(hold_id)}
            return redirect(url_for(".order", order_id=order["id"], token=order["access_token"]))
    # The countdown runs from the hub's clock: a phone whose clock is off still shows the right time left.
    seconds_left = max(0, int((held.expires_at - now).total_seconds()))
    return render_template(
        "store/checkout.html", form=form, hold_id=hold_id, event=event, price=price, seconds_left=seconds_left
    )


@bp.post("/checkout/<int:hold_id>/release")
@public
def release(hold_id: int):
    conn = get_db()
    held = hold_service.get_hold(conn, hold_id, _hold_token(hold_id))
    try:
        hold_service.release_hold(conn, hold_id, _hold_token(hold_id))
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        seatmap.changed(held["event_id"])
        flash("Your held tickets were released.", "success")
    return redirect(url_for(".event", event_id=held["event_id"]))


def _order(order_id: int, token: str) -> dict:
    conn = get_db()
    order_service.check_access(conn, order_id, token)
    return order_service.get_order(conn, order_id)


@bp.get("/orders/<int:order_id>/<token>")
@public
def order(order_id: int, token: str):
    conn = get_db()
    found = _order(order_id, token)
    event = get_event(conn, found["event_id"])
    cards = {c.ticket_id: c for c in ticket_cards(conn, order_id, only_valid=False)}
    card_payment = None
    provider = online(payment_providers().get(found["payment"]["method"]))
    if provider is not None and found["status"] == "pending":
        # Stripe.js runs on this page: its script, the frames it draws the card field in and its API
        card_payment = {"publishable_key": provider.publishable_key, "script_url": provider.script_url}
        g.csp_script_src = g.csp_frame_src = provider.script_origin
        g.csp_connect_src = provider.api_origin
    return render_template(
        "store/order.html",
        order=found,
        event=event,
        cards=cards,
        token=token,
        venue=storefront.venue_name(conn, event["venue_id"]),
        discount=promos.order_discount(conn, order_id),
        card_payment=card_payment,
    )


@bp.post("/orders/<int:order_id>/<token>/card")
@public
def pay_card(order_id: int, token: str):
    """The order page's card payment (JSON, from card.js): a Stripe.js card token pays the order's
    PaymentIntent. The answer is Stripe's word on this attempt; the order turns paid when Stripe's
    webhook says so (the page polls status.json)."""
    conn = get_db()
    try:
        order_service.check_access(conn, order_id, token)
        body = request.get_json(silent=True) or {}
        card_token = body.get("token") if isinstance(body, dict) else None
        intent = order_service.pay_online(conn, order_id, card_token, payment_providers())
    except ServiceError as exc:
        return error_response(exc.status, exc.code, exc.message)
    answer = {"status": intent.status}
    if intent.status == "requires_action":  # 3-D Secure: the browser finishes it with Stripe.js
        answer["client_secret"] = intent.client_secret
    return jsonify(answer)


@bp.get("/orders/<int:order_id>/<token>/status.json")
@public
def order_status(order_id: int, token: str):
    """What the order page polls while a card payment is on its way."""
    found = _order(order_id, token)
    return jsonify({"status": found["status"], "payment_error": found["payment"]["error"]})


def _card(order_id: int, token: str, ticket_id: int):
    _order(order_id, token)
    for card in ticket_cards(get_db(), order_id, only_valid=False):
        if card.ticket_id == ticket_id:
            return card
    abort(404)


def _is_valid(ticket_id: int, order: dict) -> bool:
    return any(t["ticket_id"] == ticket_id and t["status"] == "valid" for t in order["tickets"])


@bp.get("/orders/<int:order_id>/<token>/tickets/<int:ticket_id>")
@public
def ticket(order_id: int, token: str, ticket_id: int):
    card = _card(order_id, token, ticket_id)
    valid = _is_valid(ticket_id, _order(order_id, token))
    return render_template(
        "store/ticket.html",
        card=card,
        revoked=not valid,
        qr_svg=qr_svg(card.text) if valid else "",
        png_url=url_for(".ticket_png", order_id=order_id, token=token, ticket_id=ticket_id),
        pdf_url=url_for(".ticket_pdf", order_id=order_id, token=token, ticket_id=ticket_id),
        order_url=url_for(".order", order_id=order_id, token=token),
    )


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/orders/<int:order_id>/<token>/tickets/<int:ticket_id>.png")
@public
def ticket_png(order_id: int, token: str, ticket_id: int):
    card = _card(order_id, token, ticket_id)
    if not _is_valid(ticket_id, _order(order_id, token)):
        abort(410)
    return _download(qr_png(card.text), "image/png", f"ticket-{ticket_id}.png")


@bp.get("/orders/<int:order_id>/<token>/tickets/<int:ticket_id>.pdf")
@public
def ticket_pdf(order_id: int, token: str, ticket_id: int):
    card = _card(order_id, token, ticket_id)
    if not _is_valid(ticket_id, _order(order_id, token)):
        abort(410)
    return _download(tickets_pdf([card], title=f"Ticket {ticket_id}"), "application/pdf", f"ticket-{ticket_id}.pdf")


@bp.get("/orders/<int:order_id>/<token>/tickets.pdf")
@public
def order_pdf(order_id: int, token: str):
    _order(order_id, token)
    cards = ticket_cards(get_db(), order_id)
    if not cards:
        abort(404)
    return _download(
        tickets_pdf(cards, title=f"Tickets, order {order_id}"), "application/pdf", f"tickets-{order_id}.pdf"
    )
