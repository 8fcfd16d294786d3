"""Storefront: event list and calendar, event page with seat map, hold and checkout, orders and tickets."""

from __future__ import annotations

import calendar as calendar_module
import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

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

from common.protocol import to_utc

from ..api.errors import error_response
from ..api.seatmap_reads import flask_response
from ..api.util import payment_providers
from ..db import get_db
from ..delivery import calendar as order_calendar
from ..delivery import wallet
from ..delivery.card import seat_label
from ..delivery.images import qr_png, qr_svg
from ..delivery.notify import ticket_cards
from ..delivery.pdf import tickets_pdf
from ..deployment import external_url, public_url
from ..services import accounts, pricing, promos, seatmap, storefront
from ..services import holds as hold_service
from ..services import orders as order_service
from ..services.clock import utcnow
from ..services.errors import Forbidden, NotFound, ServiceError
from ..services.events import get_event, list_events
from ..services.money import format_money
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
        public=True,
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
    found = list_events(get_db(), limit=500, starts_from=start, starts_to=end, public=True)["items"]
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
    found = get_event(conn, event_id, public=True)  # a draft is no page at all (services.event_status)
    now = utcnow()
    seated = any(t["kind"] == "seated" for t in found["ticket_types"])
    layout = seatmap.seatmaps_for(current_app).layout(event_id) if seated else None
    stream = stream_url(current_app)
    if stream:
        g.csp_connect_src = stream  # the stream may be on another port: another origin
    cart = _cart(conn, event_id, now)
    picks = session.pop("picks", {}).get(str(event_id), []) if "picks" in session else []
    return render_template(
        "store/event.html",
        cart=cart,
        picks=picks,
        choices=_choices(conn, event_id, found["currency"], now) if layout else {},
        currency=found["currency"],  # seatmap.js writes prices and the cart bar's total in it, as format_money does
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
    """Add to the buyer's cart for the event: picked seats change the cart's seats in place (one hold,
    one countdown); best-available seats or standing tickets take a new hold that replaces the cart."""
    conn = get_db()
    refused = hold_refused(conn, event_id)  # while the waiting room is on: its admission, else the queue
    if refused is not None:
        return refused
    mode = request.form.get("mode")
    # the same policy and share of holds as the API's: per signed-in user, else per address
    common = hold_service.client_terms(current_app.config, _user_id(), request.remote_addr)
    now = utcnow()
    cart = _cart(conn, event_id, now)
    wanted: list[int] = []
    try:
        if mode == "seats":
            wanted = sorted(
                {int(i) for i in request.form.getlist("seat") if i.isascii() and i.isdigit() and len(i) < 10}
            )
            if not wanted:
                flash("Pick at least one seat on the map.", "error")
                return redirect(url_for(".event", event_id=event_id))
            by_index = seatmap.seatmaps_for(current_app).layout(event_id).by_position  # (section, row, label)
            if not set(wanted) <= set(by_index):
                raise NotFound("one of the picked seats does not exist", "unknown_seat")
            picked = [by_index[i] for i in wanted]
            seat_types = {by_index[i]: t for i in wanted if (t := request.form.get(f"type-{i}", type=int))}
            if cart is not None and cart["kind"] == "seats":
                result = hold_service.change_seats(
                    conn, cart["hold_id"], cart["token"], picked, seat_types=seat_types, **common, now=now
                )
            else:
                result = hold_service.hold_seats(conn, event_id, picked, seat_types=seat_types, **common, now=now)
        elif mode == "best":
            count = request.form.get("count", type=int) or 0
            result = hold_service.hold_best_available(
                conn, event_id, count, section=request.form.get("section") or None, **common, now=now
            )
        elif mode == "ga":
            result = hold_service.hold_ga(
                conn,
                event_id,
                request.form.get("ticket_type_id", type=int) or 0,
                request.form.get("quantity", type=int) or 0,
                **common,
                now=now,
            )
        else:
            abort(400)
    except ServiceError as exc:
        if exc.status == 404 and exc.code == "event_not_found":
            raise
        if isinstance(exc, hold_service.SeatsTaken) and wanted:  # keep the picks nobody else took
            by_label = seatmap.seatmaps_for(current_app).layout(event_id).by_label
            gone = {by_label.get(seat) for seat in exc.seats}
            session["picks"] = {str(event_id): [i for i in wanted if i not in gone]}
        if exc.code == "sold_out" and mode == "ga":  # say how many are left, as a buyer counts them
            left = hold_service.ga_available(conn, request.form.get("ticket_type_id", type=int), now)
            flash(f"Only {left} left — choose {left} or fewer." if left else "These tickets are sold out.", "error")
        else:
            flash(plain_message(exc), "error")
        return redirect(url_for(".event", event_id=event_id))
    if cart is not None and result["hold_id"] == cart["hold_id"]:
        seatmap.changed(event_id)  # seats left the cart as well as joined it: read the whole event
    else:
        seatmap.changed(event_id, hold_id=result["hold_id"])  # only its seats changed
        held = dict(session.get("holds", {}))
        held[str(result["hold_id"])] = result["hold_token"]
        session["holds"] = dict(list(held.items())[-10:])
        if cart is not None:  # the new hold replaces the cart: its seats are free again at once
            _drop_hold(conn, event_id, cart["hold_id"], cart["token"])
        session["carts"] = dict(list({**session.get("carts", {}), str(event_id): result["hold_id"]}.items())[-10:])
    return redirect(url_for(".checkout", hold_id=result["hold_id"]))


def _choices(conn, event_id: int, currency: str, now: datetime) -> dict[str, list[dict]]:
    """The ticket types a buyer may choose per section (holds.seat_type_choices), with their prices as shown."""
    return {
        section: [{**t, "label": f"{t['name']} {format_money(t['price'], currency)}"} for t in types]
        for section, types in hold_service.seat_type_choices(conn, event_id, now).items()
    }


def _cart(conn, event_id: int, now: datetime) -> dict | None:
    """The buyer's live cart (hold) for the event in this browser session: hold_id, token, kind, seat
    indexes, quantity and seconds left; None when there is none or it ran out."""
    hold_id = session.get("carts", {}).get(str(event_id))
    token = session.get("holds", {}).get(str(hold_id))
    if hold_id is None or token is None:
        return None
    try:
        found = hold_service.get_hold(conn, hold_id, token, now)
    except ServiceError:
        return None
    if found["status"] != "active":
        return None
    expires = datetime.fromisoformat(found["expires_at"].replace("Z", "+00:00"))
    return {
        "hold_id": hold_id,
        "token": token,
        "kind": found["kind"],
        "quantity": found["quantity"],
        "seats": {s["index"]: s["ticket_type_id"] for s in found["seats"]},  # seat index -> its ticket type
        "seconds_left": max(0, int((expires - now).total_seconds())),
    }


def _drop_hold(conn, event_id: int, hold_id: int, token: str) -> None:
    """Release a hold the buyer replaced (already gone: nothing to do)."""
    try:
        hold_service.release_hold(conn, hold_id, token)
    except ServiceError:
        return
    seatmap.changed(event_id)


# What a buyer reads when a hold or a purchase is refused: plain words, never the API's developer text.
PLAIN_MESSAGES = {
    "seats_unavailable": "Those seats are no longer free together. Pick seats on the map, or try fewer seats.",
    "sold_out": "There are not that many tickets left. Try fewer.",  # standing: the hold route says how many
    "not_on_sale": "These tickets are not on sale right now.",
    "not_released": "Tickets for this event are not on sale yet.",
    "invalid_quantity": "Choose how many tickets you want (at least one).",
    "duplicate_seat": "A seat was picked twice. Pick each seat once.",
    "unknown_seat": "A picked seat is not on this map any more. Pick your seats again.",
    "unknown_section": "There is no such section. Pick another.",
    "ticket_type_not_found": "That ticket type is not available. Choose another.",
    "hold_expired": "Your cart ran out of time and the seats were let go. Pick them again.",
    "hold_released": "Your cart was emptied. Pick your tickets again.",
    "hold_purchased": "You have already bought these tickets.",
    "bad_hold_token": "This cart belongs to another browser. Pick your tickets here.",
    "busy": "Many people are buying right now. Please try again.",
    "payment_required": "This order costs money: choose how to pay.",
    "unknown_payment_method": "Choose how to pay.",
}


def plain_message(exc: ServiceError) -> str:
    """The buyer's words for a refused hold or purchase: the seats someone else took by name, the limits
    as the hub states them (hold_limit_reached's message is written for buyers), else PLAIN_MESSAGES."""
    if isinstance(exc, hold_service.SeatsTaken):
        names = ", ".join(seat_label(*seat) for seat in exc.seats)
        return f"{names} {'was' if len(exc.seats) == 1 else 'were'} just taken — pick another seat."
    if exc.code == "hold_limit_reached":  # written for buyers: the limit and how to get under it
        return exc.message
    return PLAIN_MESSAGES.get(exc.code, "Sorry, that did not work. Please try again.")


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
        flash(PLAIN_MESSAGES.get(f"hold_{status}", PLAIN_MESSAGES["hold_expired"]), "error")
        return redirect(url_for(".event", event_id=held.event_id))
    event = get_event(conn, held.event_id)
    price = pricing.hold_price(conn, held, now)  # the purchase below charges this same price
    form = CheckoutForm()
    if request.method == "GET" and g.user:  # the account's profile fills in the buyer
        form.email.data = g.user["email"]
        form.name.data = g.user["name"] or None
    promo_error = None
    if form.promo_code.data:
        try:
            price = pricing.with_promo(conn, price, form.promo_code.data, now)
        except ServiceError as exc:
            promo_error = exc.message
    form.payment_method.choices = _payment_choices(price.total)
    valid = request.method == "POST" and request.form.get("action") == "buy" and form.validate()
    if promo_error:
        form.promo_code.errors = [promo_error]  # after validate(), which resets every field's errors
    if valid and not promo_error:
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
            flash(plain_message(exc), "error")
        else:
            seatmap.changed(held.event_id, hold_id=hold_id)  # the hold's seats are sold
            if g.user:
                accounts.link_order(conn, order["id"], g.user["id"])
            session["holds"] = {k: v for k, v in session.get("holds", {}).items() if k != str(hold_id)}
            return redirect(url_for(".order", order_id=order["id"], token=order["access_token"]))
    # The countdown runs from the hub's clock: a phone whose clock is off still shows the right time left.
    seconds_left = max(0, int((held.expires_at - now).total_seconds()))
    return render_template(
        "store/checkout.html",
        form=form,
        hold_id=hold_id,
        event=event,
        price=price,
        seconds_left=seconds_left,
        seated=held.kind == "seats",
    )


@bp.post("/checkout/<int:hold_id>/release")
@public
def release(hold_id: int):
    conn = get_db()
    held = hold_service.get_hold(conn, hold_id, _hold_token(hold_id))
    try:
        hold_service.release_hold(conn, hold_id, _hold_token(hold_id))
    except ServiceError as exc:
        flash(plain_message(exc), "error")
    else:
        seatmap.changed(held["event_id"])
        flash("Your cart is empty again; the tickets are free for others.", "success")
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
        pass_url=url_for(".ticket_pass", order_id=order_id, token=token, ticket_id=ticket_id)
        if valid and _pass_signer()
        else None,
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


def _pass_signer() -> wallet.PassSigner | None:
    """The configured Apple Wallet signer (WALLET_* settings), loaded once; None: passes not offered.
    A configured but unreadable certificate or key is logged and passes stay off."""
    app = current_app._get_current_object()
    if "tickethub.wallet" not in app.extensions:
        try:
            app.extensions["tickethub.wallet"] = wallet.PassSigner.from_config(app.config)
        except (OSError, ValueError) as exc:
            app.logger.error("Apple Wallet passes are off: the WALLET_* files cannot be used (%s)", exc)
            app.extensions["tickethub.wallet"] = None
    return app.extensions["tickethub.wallet"]


@bp.get("/orders/<int:order_id>/<token>/tickets/<int:ticket_id>.pkpass")
@public
def ticket_pass(order_id: int, token: str, ticket_id: int):
    signer = _pass_signer()
    card = _card(order_id, token, ticket_id)
    if signer is None:
        abort(404)
    if not _is_valid(ticket_id, _order(order_id, token)):
        abort(410)
    order_url = external_url("store.order", order_id=order_id, token=token)
    data = wallet.build_pkpass(card, signer, serial=f"ticket-{ticket_id}", order_url=order_url)
    return _download(data, wallet.MIMETYPE, f"ticket-{ticket_id}.pkpass")


@bp.get("/orders/<int:order_id>/<token>/calendar.ics")
@public
def order_ics(order_id: int, token: str):
    conn = get_db()
    found = _order(order_id, token)
    event = get_event(conn, found["event_id"])
    where = ", ".join(part for part in (storefront.venue_name(conn, event["venue_id"]), event.get("location")) if part)
    data = order_calendar.order_calendar(
        order_id=order_id,
        title=event["title"],
        starts_at=to_utc(event["starts_at"]),
        ends_at=to_utc(event.get("ends_at")),
        location=where,
        order_url=external_url("store.order", order_id=order_id, token=token),
        host=urlsplit(public_url()).hostname or "ticketgate",
        now=utcnow(),
    )
    return _download(data, "text/calendar", f"order-{order_id}.ics")
