"""The OpenAPI 3 description of /api/v1: one table of every route (tests check each is listed).

Request bodies are the JSON Schemas of the validators that check them (``SPEC.json_schema()``,
hub/services/validate.py), so their bounds live in one place; `annotated` adds what only the
document says (descriptions, the payment methods). Responses are described here.
"""

from __future__ import annotations

import copy
from typing import Any

from common import protocol
from common.protocol import (
    DEVICE_TIME_HEADER,
    DIRECTIONS,
    LAST_RTT_HEADER,
    PEER_PORT_HEADER,
    REENTRY_POLICIES,
    SIGNATURE_HEADER,
)

from ..services import payments
from ..services import sync as sync_service
from ..services.devices import CHANGE_SPEC, DEVICE_SPEC
from ..services.event_status import STATUSES
from ..services.events import EVENT_CHANGES, EVENT_SPEC, TICKET_TYPE_CHANGES, TICKET_TYPE_SPEC
from ..services.promos import PROMO_CHANGES, PROMO_SPEC
from ..services.stripe_card import StripeCard
from ..services.venues import VENUE_SPEC
from ..services.webhooks import ENDPOINT_CHANGE_SPEC, ENDPOINT_SPEC
from .event_admin import CANCEL_SPEC
from .holds import HOLD_SEATS_SPEC, HOLD_SPEC
from .orders import ORDER_SPEC, REFUND_SPEC
from .queue import ADMISSION_HEADER, TICKET_HEADER

ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(description: str, schema: dict | None = None, media: str = "application/json") -> dict:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    return out


def _errors(*codes: int) -> dict:
    texts = {
        400: "Malformed request",
        401: "Missing or bad API token",
        403: "Not allowed",
        404: "Not found",
        409: "Not available / state conflict",
        413: "Body too large",
        422: "Invalid field",
        429: "Rate limited, or the hold limit per client reached",
        502: "The payment provider (Stripe) could not be reached or refused; nothing was charged",
    }
    return {str(c): _resp(texts[c], ERROR) for c in codes}


def _op(
    summary: str,
    ok: dict,
    *errors: int,
    body: dict | None = None,
    params: list | None = None,
    auth: bool = False,
    tag: str = "",
) -> dict:
    op: dict[str, Any] = {"summary": summary, "tags": [tag] if tag else [], "responses": {**ok, **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    if auth:
        op["security"] = [{"bearer": []}]
    return op


def _optional_body(op: dict) -> dict:
    op["requestBody"]["required"] = False
    return op


def _path(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "integer"}}


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _header(name: str, description: str, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "schema": {"type": "string"},
        "description": description,
    }


OBJ = {"type": "object"}
STR = {"type": "string"}
INT = {"type": "integer"}
TIME = {"type": "string", "format": "date-time"}
BOOL = {"type": "boolean"}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict, description: str = "") -> dict:
    """`schema` or null (OpenAPI 3.0 ignores keywords beside a $ref, hence the allOf)."""
    out = {"allOf": [schema]} if "$ref" in schema else dict(schema)
    out["nullable"] = True
    if description:
        out["description"] = description
    return out


def _record(fields: dict, optional: dict | None = None) -> dict:
    """A response object that always has `fields` (more may be added later, so others are allowed)."""
    return {"type": "object", "required": sorted(fields), "properties": {**fields, **(optional or {})}}


def annotated(schema: dict, notes: dict[str, str | dict]) -> dict:
    """A copy of a validator's schema with what only the document says: a description (text) or more
    keywords (a dict) at each dotted field path ("ticket_types.price" steps through the array; "" is
    the body itself). A path the validator no longer has fails here, when the document is built."""
    out = copy.deepcopy(schema)
    for path, note in notes.items():
        node = out
        for name in filter(None, path.split(".")):
            while node.get("type") == "array":
                node = node["items"]
            node = node["properties"][name]
        node.update({"description": note} if isinstance(note, str) else note)
    return out


# What a queue ticket is told (services.waiting_room.queue_status)
QUEUE_STATUS = {
    "event_id": INT,
    "status": {"enum": ["waiting", "admitted", "off"]},
    "position": _nullable(INT, "null until the places of the early arrivals are drawn at the release"),
    "ahead": _nullable(INT),
    "estimated_wait_seconds": _nullable(INT, "null: not known (before the release, paused)"),
    "release_at": TIME,
    "released": BOOL,
    "poll_after_seconds": _nullable(INT, "ask again after this long; null: admitted or off"),
}


def _page(item: str) -> dict:
    return _record({"items": {"type": "array", "items": ref(item)}, "total": INT, "offset": INT, "limit": INT})


SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "object", "required": ["code", "message"], "properties": {"code": STR, "message": STR}}
        },
    },
    # Request bodies: the validators' own schemas (their bounds, so generated requests are accepted)
    "VenueIn": annotated(VENUE_SPEC.json_schema(), {"sections.rows.seats": 'N numbers the seats "1".."N"'}),
    "EventIn": annotated(
        EVENT_SPEC.json_schema(),
        {
            "venue_id": "needed by seated ticket types",
            "service_fee": "per ticket, minor units",
            "ticket_types.price": "minor units",
            "ticket_types.capacity": "ga only (required there)",
            "ticket_types.sections": "seated: sections it covers (empty: all)",
            "currency": "ISO 4217 code (default EUR); every amount of the event is minor units of it",
            "status": "draft (only its organizer sees it) or published (the default)",
        },
    ),
    "EventChanges": annotated(
        EVENT_CHANGES.json_schema(),
        {
            "": "any of the event's details, checked as when it is created",
            "currency": "changes only while the event has no orders (409 currency_locked)",
        },
    ),
    "TicketTypeIn": annotated(
        TICKET_TYPE_SPEC.json_schema(),
        {"price": "minor units of the event's currency", "capacity": "ga only (required there)"},
    ),
    "TicketTypeChanges": annotated(
        TICKET_TYPE_CHANGES.json_schema(),
        {
            "": "the kind stays; a new price applies to new holds",
            "sales_start": {"nullable": True, "description": "null clears it: on sale with the event"},
            "sales_end": {"nullable": True, "description": "null clears it: no end"},
            "capacity": "ga only; never below what is sold (409 capacity_below_sold)",
            "sections": "seated only: the sections it covers (empty: all); their seats not yet on sale join",
            "zones": "gate zones of tickets issued from now on (empty: all)",
            "hidden": "true: not offered and not sold, tickets already sold stay valid",
        },
    ),
    "PromoIn": annotated(
        PROMO_SPEC.json_schema(),
        {"value": "percent (1-100) or minor units of the event's currency", "code": "2-40 letters, digits, - or _"},
    ),
    "PromoChanges": annotated(PROMO_CHANGES.json_schema(), {"": "the code and its kind stay"}),
    "Promo": _record(
        {
            "id": INT,
            "event_id": INT,
            "code": STR,
            "kind": {"enum": ["percent", "fixed"]},
            "value": INT,
            "max_uses": _nullable(INT, "null: unlimited"),
            "used": INT,
            "valid_from": _nullable(TIME),
            "valid_until": _nullable(TIME),
            "created_at": TIME,
        }
    ),
    "CancelIn": annotated(CANCEL_SPEC.json_schema(), {"confirm": "the event's exact title"}),
    "CancellationPreview": _record(
        {
            "event_id": INT,
            "title": STR,
            "cancelled_at": _nullable(TIME),
            "currency": STR,
            "paid_orders": INT,
            "refund_total": {"type": "integer", "description": "minor units"},
            "pending_orders": INT,
            "valid_tickets": INT,
            "consequences": STR,
        }
    ),
    "Cancellation": _record(
        {
            "event": ref("Event"),
            "refunded": {"type": "array", "items": INT, "description": "orders refunded by this call"},
            "cancelled": {"type": "array", "items": INT, "description": "pending orders cancelled by this call"},
        }
    ),
    "Event": _record(
        {
            "id": INT,
            "title": STR,
            "artist": STR,
            "location": STR,
            "description": STR,
            "category": STR,
            "starts_at": TIME,
            "ticket_release_at": TIME,
            "venue_id": _nullable(INT, "null: general admission only"),
            "organizer_id": _nullable(INT),
            "service_fee": INT,
            "waiting_room": {"type": "boolean", "description": "holds need a queue admission"},
            "admit_per_minute": {"type": "integer", "description": "the waiting room's admission rate"},
            "payment_deadlines": {
                "type": "object",
                "additionalProperties": INT,
                "description": "minutes an unpaid order of a payment method is kept; others: the hub's setting",
            },
            "currency": {"type": "string", "description": "ISO 4217; amounts are minor units of it"},
            "status": {
                "enum": list(STATUSES),
                "description": "draft: only its organizer sees it; paused: listed, no new holds; "
                "cancelled: listed as cancelled, nothing sold (set by POST .../cancel)",
            },
            "cancelled_at": _nullable(TIME, "when the event was cancelled (status cancelled)"),
            "doors_open_at": _nullable(TIME, "gates admit from then (null: 4 h before starts_at)"),
            "ends_at": _nullable(TIME, "gates admit until then (null: 12 h after starts_at)"),
            "timezone": _nullable(STR, "IANA zone the door shows times in (null: the gate's)"),
        },
        optional={
            "ticket_types": {
                "type": "array",
                "items": ref("TicketType"),
                "description": "in GET /events/{id} and POST /events",
            }
        },
    ),
    "TicketType": _record(
        {
            "id": INT,
            "name": STR,
            "kind": {"enum": ["seated", "ga"]},
            "price": INT,
            "sales_start": _nullable(TIME),
            "sales_end": _nullable(TIME),
            "zones": {"type": "array", "items": INT},
            "valid_from": _nullable(TIME, "admits from then at the door (null: the event's window)"),
            "valid_until": _nullable(TIME, "admits until then at the door (null: the event's window)"),
            "hidden": {"type": "boolean", "description": "hidden by the organizer: not offered, not sold"},
        },
        optional={"capacity": INT, "sold": INT, "sections": {"type": "array", "items": STR}},
    ),
    "EventPage": _page("Event"),
    "VenueSummary": _record({"id": INT, "name": STR, "owner_id": _nullable(INT), "num_seats": INT}),
    "Venue": _record(
        {
            "id": INT,
            "name": STR,
            "owner_id": _nullable(INT),
            "num_seats": INT,
            "sections": {
                "type": "array",
                "items": _record(
                    {
                        "name": STR,
                        "rows": {
                            "type": "array",
                            "items": _record({"name": STR, "seats": {"type": "array", "items": STR}}),
                        },
                    }
                ),
            },
        }
    ),
    "Seat": _record(
        {"index": INT, "section": STR, "row": STR, "seat": STR, "status": {"enum": ["available", "held", "sold"]}}
    ),
    "SeatMap": _record(
        {
            "event_id": INT,
            "num_available": INT,
            "num_seats": INT,
            "seats": {"type": "array", "items": {"$ref": "#/components/schemas/Seat"}},
        }
    ),
    # the compact seat map (services.seatmap): layout once, then a status string and changes by version
    "SeatLayout": _record(
        {
            "event_id": INT,
            "layout": STR,
            "num_seats": INT,
            "size": INT,
            "ticket_types": {
                "type": "array",
                "items": _record({"id": INT, "name": STR, "price": INT, "sections": {"type": "array", "items": STR}}),
            },
            "sections": {
                "type": "array",
                "items": _record(
                    {
                        "name": STR,
                        "rows": {
                            "type": "array",
                            "items": _record(
                                {"name": STR, "seats": {"type": "array", "items": STR}},
                                {"first": INT, "indexes": {"type": "array", "items": INT}},
                            ),
                        },
                    }
                ),
            },
        }
    ),
    "SeatStatus": _record(
        {
            "event_id": INT,
            "version": STR,
            "layout": STR,
            "num_seats": INT,
            "num_available": INT,
            "status": {
                "type": "string",
                "pattern": "^[ahs-]*$",
                "description": "one character per seat index: a available, h held, s sold, - not sold at this event",
            },
        }
    ),
    "SeatChanges": _record(
        {"event_id": INT, "since": STR, "version": STR, "layout": STR},
        {
            "changes": {
                "type": "array",
                "items": {"type": "array", "items": {}},
                "description": "[index, status character] of each seat that changed",
            },
            "reload": {"type": "boolean", "description": "true: load the whole status again"},
        },
    ),
    "HoldIn": annotated(
        HOLD_SPEC.json_schema(),
        {
            "": {
                "oneOf": [{"required": ["seats"]}, {"required": ["best_available"]}, {"required": ["ga"]}],
                "description": "exactly one of seats, best_available, ga",
            },
            "ticket_type": "seated ticket type (default: cheapest on sale)",
            "ttl_seconds": "seconds, within the configured bounds; by default 30-900 anonymous, 30-3600 with an API token",
        },
    ),
    "HoldSeatsIn": annotated(
        HOLD_SEATS_SPEC.json_schema(),
        {"seats.ticket_type": "seated ticket type for this seat (default: cheapest on sale)"},
    ),
    "HeldSeat": _record({"index": INT, "section": STR, "row": STR, "seat": STR, "ticket_type_id": INT}),
    "Hold": _record(
        {
            "hold_id": INT,
            "hold_token": STR,
            "kind": {"enum": ["seats", "ga"]},
            "quantity": INT,
            "expires_at": TIME,
            "seats": {"type": "array", "items": ref("HeldSeat")},
        },
        optional={"ticket_type_id": INT},
    ),
    "HoldState": _record(
        {
            "hold_id": INT,
            "event_id": INT,
            "kind": {"enum": ["seats", "ga"]},
            "quantity": INT,
            "status": {"enum": ["active", "released", "expired", "purchased"]},
            "expires_at": TIME,
            "seats": {"type": "array", "items": OBJ},
        }
    ),
    "OrderIn": annotated(
        ORDER_SPEC.json_schema(),
        {
            "payment.method": {
                "enum": sorted([*payments.PROVIDERS, StripeCard.name]),
                "description": "`card` only on a hub with Stripe keys (else 422 `unknown_payment_method`): "
                "the order is pending until Stripe confirms the payment, see docs/payments.md",
            }
        },
    ),
    "RefundIn": annotated(
        REFUND_SPEC.json_schema(),
        {"amount": "minor units to give back of a paid card order (default: all that is left)"},
    ),
    "TicketSeat": _record({"section": STR, "row": STR, "seat": STR, "index": INT}),
    "Ticket": _record(
        {
            "ticket_id": INT,
            "order_id": INT,
            "event_id": INT,
            "ticket_type_id": INT,
            "ticket_type": STR,
            "status": {"enum": ["valid", "revoked"]},
            "code": STR,
            "kid": STR,
            "seat": _nullable(ref("TicketSeat"), "null: general admission"),
            "issued_at": TIME,
            "revoked_at": _nullable(TIME),
            "replaces_id": _nullable(INT),
        },
        optional={
            "qr_url": {"type": "string", "description": "not in GET /events/{id}/orders"},
            "qr_svg_url": {"type": "string", "description": "not in GET /events/{id}/orders"},
        },
    ),
    "Order": _record(
        {
            "id": INT,
            "event_id": INT,
            "hold_id": INT,
            "status": {"enum": ["pending", "paid", "expired", "refunded", "cancelled"]},
            "buyer": _record({"name": STR, "email": STR}),
            "payment": _record(
                {
                    "method": STR,
                    "status": {"enum": ["pending", "paid"]},
                    "refunded": {**INT, "description": "minor units the payment provider confirmed it gave back"},
                    "error": _nullable(STR, "why the last card payment attempt failed; null: none failed"),
                },
                optional={
                    "client_secret": {
                        **STR,
                        "description": "a pending card order: the Stripe PaymentIntent's client secret, "
                        "for Stripe.js or a mobile SDK (in the purchase's answer)",
                    },
                    "publishable_key": {**STR, "description": "a pending card order: the Stripe key to use it with"},
                },
            ),
            "subtotal": INT,
            "fees": INT,
            "total": INT,
            "currency": STR,
            "access_token": STR,
            "created_at": TIME,
            "paid_at": _nullable(TIME),
            "payment_due_at": _nullable(TIME, "an unpaid order expires at this time (docs/payments.md)"),
            "tickets": {"type": "array", "items": ref("Ticket")},
        }
    ),
    "OrderPage": _page("Order"),
    "QueueState": _record(
        {
            "event_id": INT,
            "waiting_room": BOOL,
            "release_at": TIME,
            "released": BOOL,
            "admit_per_minute": INT,
            "entries": INT,
            "admitted": INT,
            "waiting": INT,
        }
    ),
    "QueueStatus": _record(QUEUE_STATUS),
    "QueueJoined": _record(
        {"queue_ticket": {"type": "string", "description": "send it in X-Queue-Ticket"}, **QUEUE_STATUS}
    ),
    "Admission": _record(
        {
            "admission_token": {"type": "string", "description": "send it in X-Admission-Token with holds"},
            "expires_at": TIME,
            "position": INT,
        }
    ),
    "User": _record(
        {
            "id": INT,
            "email": STR,
            "role": STR,
            "staff_of": _nullable(INT, "door staff and co-organizers: the organizer they work for"),
        }
    ),
}


def _operation(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _links(response: dict, links: dict) -> dict:
    return {**response, "links": links}


# How a created hold or order is used next (OpenAPI links; schemathesis' stateful phase follows them).
_HOLD = {"hold_id": "$response.body#/hold_id", "hold_token": "$response.body#/hold_token"}
_HOLD_HEADERS = {"path.hold_id": _HOLD["hold_id"], "header.X-Hold-Token": _HOLD["hold_token"]}
HOLD_LINKS = {
    "BuyTheHold": {"operationRef": _operation("/api/v1/orders", "post"), "requestBody": _HOLD},
    "GetTheHold": {"operationRef": _operation("/api/v1/holds/{hold_id}", "get"), "parameters": _HOLD_HEADERS},
    "ReleaseTheHold": {"operationRef": _operation("/api/v1/holds/{hold_id}", "delete"), "parameters": _HOLD_HEADERS},
}
_ORDER = {"path.order_id": "$response.body#/id"}
_FIRST_TICKET = {
    "path.ticket_id": "$response.body#/tickets/0/ticket_id",
    "header.X-Order-Token": "$response.body#/access_token",
}
ORDER_LINKS = {
    "GetTheOrder": {
        "operationRef": _operation("/api/v1/orders/{order_id}", "get"),
        "parameters": {**_ORDER, "header.X-Order-Token": "$response.body#/access_token"},
    },
    "RefundTheOrder": {"operationRef": _operation("/api/v1/orders/{order_id}/refund", "post"), "parameters": _ORDER},
    "ConfirmThePayment": {
        "operationRef": _operation("/api/v1/orders/{order_id}/confirm-payment", "post"),
        "parameters": _ORDER,
    },
    "GetTheFirstTicket": {
        "operationRef": _operation("/api/v1/tickets/{ticket_id}", "get"),
        "parameters": _FIRST_TICKET,
    },
    "ReissueTheFirstTicket": {
        "operationRef": _operation("/api/v1/tickets/{ticket_id}/reissue", "post"),
        "parameters": {"path.ticket_id": _FIRST_TICKET["path.ticket_id"]},
    },
}


def _paths() -> dict:
    event_id, hold_id, order_id, ticket_id = (
        _path("event_id"),
        _path("hold_id"),
        _path("order_id"),
        _path("ticket_id"),
    )
    order_token = _header("X-Order-Token", "the order's access_token (or ?access_token=)")
    queue_ticket = _header(TICKET_HEADER, "your queue ticket (queue_ticket)")
    return {
        "/api/v1/venues": {
            "post": _op(
                "Create a venue from sections, rows and seats",
                {"201": _resp("Created", ref("Venue"))},
                400,
                401,
                403,
                422,
                body=ref("VenueIn"),
                auth=True,
                tag="events",
            ),
            "get": _op(
                "List your venues",
                {"200": _resp("Venues", _record({"items": {"type": "array", "items": ref("VenueSummary")}}))},
                401,
                403,
                auth=True,
                tag="events",
            ),
        },
        "/api/v1/venues/{venue_id}": {
            "get": _op(
                "A venue with its seat layout",
                {"200": _resp("Venue", ref("Venue"))},
                401,
                403,
                404,
                params=[_path("venue_id")],
                auth=True,
                tag="events",
            )
        },
        "/api/v1/events": {
            "post": _op(
                "Create an event with ticket types",
                {"201": _resp("Created", ref("Event"))},
                400,
                401,
                403,
                404,
                422,
                body=ref("EventIn"),
                auth=True,
                tag="events",
            ),
            "get": _op(
                "List events (public; paginated, sortable, filterable)",
                {"200": _resp("Page of events", ref("EventPage"))},
                400,
                422,
                tag="events",
                params=[
                    _query("offset", INT),
                    _query("limit", {"type": "integer", "maximum": 100}),
                    _query("sort", {"enum": ["starts_at", "-starts_at", "title", "-title"]}),
                    _query("q", STR, "text search in title, artist, description, location"),
                    _query("category", STR),
                    _query("from", TIME),
                    _query("to", TIME),
                    _query("mine", {"type": "boolean"}, "only your events (needs a token)"),
                ],
            ),
        },
        "/api/v1/events/{event_id}": {
            "get": _op(
                "One event (public)", {"200": _resp("Event", ref("Event"))}, 404, params=[event_id], tag="events"
            ),
            "patch": _op(
                "Change your event's details (title, starts_at, fee, currency, waiting room...)",
                {"200": _resp("Event", ref("Event"))},
                400,
                401,
                403,
                404,
                409,
                422,
                body=ref("EventChanges"),
                params=[event_id],
                auth=True,
                tag="events",
            ),
        },
        "/api/v1/events/{event_id}/ticket-types": {
            "post": _op(
                "Add a ticket type to your event",
                {"201": _resp("Ticket type", ref("TicketType"))},
                400,
                401,
                403,
                404,
                422,
                body=ref("TicketTypeIn"),
                params=[event_id],
                auth=True,
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/ticket-types/{ticket_type_id}": {
            "patch": _op(
                "Change a ticket type: name, price, capacity (ga), sale window",
                {"200": _resp("Ticket type", ref("TicketType"))},
                400,
                401,
                403,
                404,
                409,
                422,
                body=ref("TicketTypeChanges"),
                params=[event_id, _path("ticket_type_id")],
                auth=True,
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/promos": {
            "get": _op(
                "Your event's promo codes",
                {"200": _resp("Promo codes", _record({"items": {"type": "array", "items": ref("Promo")}}))},
                401,
                403,
                404,
                params=[event_id],
                auth=True,
                tag="events",
            ),
            "post": _op(
                "Create a promo code (percent or fixed, usage limit, validity window)",
                {"201": _resp("Promo code", ref("Promo"))},
                400,
                401,
                403,
                404,
                409,
                422,
                body=ref("PromoIn"),
                params=[event_id],
                auth=True,
                tag="events",
            ),
        },
        "/api/v1/events/{event_id}/promos/{promo_id}": {
            "patch": _op(
                "Change a promo code's value, usage limit or validity window",
                {"200": _resp("Promo code", ref("Promo"))},
                400,
                401,
                403,
                404,
                422,
                body=ref("PromoChanges"),
                params=[event_id, _path("promo_id")],
                auth=True,
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/promos/{promo_id}/deactivate": {
            "post": _op(
                "End a promo code's validity now",
                {"200": _resp("Promo code", ref("Promo"))},
                401,
                403,
                404,
                params=[event_id, _path("promo_id")],
                auth=True,
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/cancellation": {
            "get": _op(
                "What cancelling your event would do now (step one)",
                {"200": _resp("Preview", ref("CancellationPreview"))},
                401,
                403,
                404,
                params=[event_id],
                auth=True,
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/cancel": {
            "post": _op(
                'Cancel your event (step two, {"confirm": "<exact title>"}): sales stop, paid orders are '
                "refunded, pending ones cancelled, tickets revoked (gates refuse them); without the title "
                "422 confirmation_required says what would happen. Again on a cancelled event: finishes what is open",
                {"200": _resp("Cancelled", ref("Cancellation"))},
                400,
                401,
                403,
                404,
                422,
                body=ref("CancelIn"),
                params=[event_id],
                auth=True,
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/seats": {
            "get": _op(
                "Seat map with each seat's status and num_available",
                {"200": _resp("Seat map", ref("SeatMap"))},
                404,
                params=[event_id],
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/seats/{section}/{row}/{seat}": {
            "get": _op(
                "Check one seat",
                {"200": _resp("Seat", ref("Seat"))},
                404,
                tag="events",
                params=[event_id, _path("section", STR), _path("row", STR), _path("seat", STR)],
            )
        },
        "/api/v1/events/{event_id}/seatmap/layout": {
            "get": _op(
                "Seat map layout: sections, rows, seat labels and indexes, seated ticket types (cacheable; "
                "with ?v=<layout> for a day)",
                {"200": _resp("Layout", ref("SeatLayout"))},
                404,
                params=[event_id, _query("v", STR, "the layout tag the status names")],
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/seatmap/status": {
            "get": _op(
                "Seat statuses as one character per seat index, with the version (cacheable for a second)",
                {"200": _resp("Status", ref("SeatStatus"))},
                404,
                params=[event_id],
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/seatmap/changes": {
            "get": _op(
                "Seats changed since a version, or reload: true (cacheable for a second)",
                {"200": _resp("Changes", ref("SeatChanges"))},
                400,
                404,
                tag="events",
                params=[event_id, {**_query("since", STR, "a version from the status"), "required": True}],
            )
        },
        "/api/v1/events/{event_id}/seat-labels": {
            "get": _op(
                "Seat labels; list index == the signed ticket's seat number",
                {"200": _resp("Labels", _record({"event_id": INT, "labels": {"type": "array", "items": STR}}))},
                404,
                params=[event_id],
                tag="events",
            )
        },
        "/api/v1/events/{event_id}/orders": {
            "get": _op(
                "Orders of your event",
                {"200": _resp("Page of orders", ref("OrderPage"))},
                401,
                403,
                404,
                params=[event_id, _query("offset", INT), _query("limit", INT)],
                auth=True,
                tag="orders",
            )
        },
        "/api/v1/events/{event_id}/revocations": {
            "get": _op(
                "Revoked tickets with seq > since, with a signed RevocationList document",
                {
                    "200": _resp(
                        "Revocations",
                        _record(
                            {
                                "event_id": INT,
                                "since": INT,
                                "seq": INT,
                                "document": OBJ,
                                "revocations": {
                                    "type": "array",
                                    "items": _record({"ticket_id": INT, "seq": INT, "reason": STR, "revoked_at": TIME}),
                                },
                            }
                        ),
                    )
                },
                400,
                404,
                params=[event_id, _query("since", INT)],
                tag="sync",
            )
        },
        "/api/v1/events/{event_id}/holds": {
            "post": _op(
                "Hold seats or GA tickets (all or nothing, expiring; rate-limited)",
                {"201": _links(_resp("Hold", ref("Hold")), HOLD_LINKS)},
                400,
                403,
                404,
                409,
                422,
                429,
                body=ref("HoldIn"),
                params=[
                    event_id,
                    _header(ADMISSION_HEADER, "the queue's admission token, while the event's waiting room is on"),
                ],
                tag="holds",
            )
        },
        "/api/v1/events/{event_id}/queue": {
            "get": _op(
                "The waiting room's public state: length, progress, rate (cacheable for a second)",
                {"200": _resp("Queue", ref("QueueState"))},
                404,
                params=[event_id],
                tag="queue",
            ),
            "post": _op(
                "Join the waiting room: a place at the back; sending your ticket keeps your place",
                {"201": _resp("A new place", ref("QueueJoined")), "200": _resp("Your place", ref("QueueJoined"))},
                404,
                409,
                429,
                params=[event_id, queue_ticket],
                tag="queue",
            ),
        },
        "/api/v1/events/{event_id}/queue/status": {
            "get": _op(
                "Your place, people ahead, estimated wait and when to ask again (no database work)",
                {"200": _resp("Status", ref("QueueStatus"))},
                403,
                404,
                params=[event_id, {**queue_ticket, "required": True}],
                tag="queue",
            )
        },
        "/api/v1/events/{event_id}/queue/admission": {
            "post": _op(
                "Be let in once your turn has come: the admission token for holds",
                {"200": _resp("Admission", ref("Admission"))},
                403,
                404,
                409,
                params=[event_id, {**queue_ticket, "required": True}],
                tag="queue",
            )
        },
        "/api/v1/holds/{hold_id}": {
            "get": _op(
                "A hold's state (token holder only)",
                {"200": _resp("Hold", ref("HoldState"))},
                403,
                404,
                params=[hold_id, _header("X-Hold-Token", "the hold_token", True)],
                tag="holds",
            ),
            "delete": _op(
                "Release a hold (token holder only)",
                {"204": _resp("Released")},
                403,
                404,
                409,
                params=[hold_id, _header("X-Hold-Token", "the hold_token", True)],
                tag="holds",
            ),
        },
        "/api/v1/holds/{hold_id}/seats": {
            "put": _op(
                "Change a seat hold's seats (a cart): all or nothing, same id, token and expiry (rate-limited)",
                {"200": _resp("Hold", ref("Hold"))},
                400,
                403,
                404,
                409,
                422,
                429,
                body=ref("HoldSeatsIn"),
                params=[hold_id, _header("X-Hold-Token", "the hold_token", True)],
                tag="holds",
            )
        },
        "/api/v1/orders": {
            "post": _op(
                "Buy a live hold: the order and its tickets",
                {"201": _links(_resp("Order", ref("Order")), ORDER_LINKS)},
                400,
                403,
                404,
                409,
                422,
                502,
                body=ref("OrderIn"),
                tag="orders",
                params=[
                    _header(
                        "Idempotency-Key",
                        "a retry for the same hold (same hold token) "
                        "with the same key returns the first order; keys are scoped to their hold",
                    )
                ],
            )
        },
        "/api/v1/orders/{order_id}": {
            "get": _op(
                "An order with its tickets (buyer or staff)",
                {"200": _resp("Order", ref("Order"))},
                401,
                403,
                404,
                params=[order_id, order_token, _query("access_token", STR)],
                tag="orders",
            )
        },
        "/api/v1/orders/{order_id}/refund": {
            "post": _optional_body(
                _op(
                    "Refund (paid) or cancel (pending): frees seats, revokes tickets; a card order through "
                    "Stripe, in whole or (with `amount`) in part, shown once Stripe confirms it",
                    {"200": _resp("Order", ref("Order"))},
                    400,
                    401,
                    403,
                    404,
                    409,
                    422,
                    502,
                    body=ref("RefundIn"),
                    params=[order_id],
                    auth=True,
                    tag="orders",
                )
            )
        },
        "/api/v1/orders/{order_id}/confirm-payment": {
            "post": _op(
                "Confirm a box-office payment; issues the tickets",
                {"200": _resp("Order", ref("Order"))},
                401,
                403,
                404,
                409,
                params=[order_id],
                auth=True,
                tag="orders",
            )
        },
        "/api/v1/tickets/{ticket_id}": {
            "get": _op(
                "One ticket",
                {"200": _resp("Ticket", ref("Ticket"))},
                401,
                403,
                404,
                params=[ticket_id, order_token, _query("access_token", STR)],
                tag="tickets",
            )
        },
        "/api/v1/tickets/{ticket_id}/qr.png": {
            "get": _op(
                "The ticket's QR as PNG",
                {"200": _resp("PNG", {"type": "string", "format": "binary"}, "image/png")},
                401,
                403,
                404,
                tag="tickets",
                params=[ticket_id, order_token, _query("access_token", STR), _query("scale", INT)],
            )
        },
        "/api/v1/tickets/{ticket_id}/qr.svg": {
            "get": _op(
                "The ticket's QR as SVG",
                {"200": _resp("SVG", STR, "image/svg+xml")},
                401,
                403,
                404,
                params=[ticket_id, order_token, _query("access_token", STR), _query("scale", INT)],
                tag="tickets",
            )
        },
        "/api/v1/tickets/{ticket_id}/reissue": {
            "post": _op(
                "Re-issue: a new ticket (new id and text); the old one is revoked",
                {"201": _resp("Ticket", ref("Ticket"))},
                401,
                403,
                404,
                409,
                params=[ticket_id],
                auth=True,
                tag="tickets",
            )
        },
        "/api/v1/keyring": {
            "get": _op("Public signing keyring (signed document) for gates", {"200": _resp("Keyring", OBJ)}, tag="sync")
        },
        "/api/v1/openapi.json": {"get": _op("This document", {"200": _resp("OpenAPI 3", OBJ)}, tag="meta")},
        "/api/v1/me": {"get": _op("The token's user", {"200": _resp("User", ref("User"))}, 401, auth=True, tag="meta")},
    }


def _device_paths() -> dict:
    tag = "devices"
    direction = {"enum": list(DIRECTIONS)}
    enrol_in = {
        "type": "object",
        "required": ["token", "public_key"],
        "properties": {
            "token": STR,
            "public_key": {"type": "string", "description": "base64 raw 32-byte Ed25519 public key"},
        },
    }
    schema = _record(
        {
            "id": INT,
            "name": STR,
            "event_id": INT,
            "zones": {"type": "array", "items": INT},
            "direction": direction,
            "reentry": {"enum": list(REENTRY_POLICIES)},
            "more_event_ids": {"type": "array", "items": INT},
            "status": {"enum": ["pending", "active", "revoked"]},
            "config_version": INT,
            "created_at": TIME,
            "enrolled_at": _nullable(TIME),
            "revoked_at": _nullable(TIME),
            "last_sync_at": _nullable(TIME),
            "clock_offset_s": _nullable({"type": "number"}),
            "last_rtt_ms": _nullable(INT),
            "backlog": _nullable(INT),
            "pull_cursor": _nullable(INT),
        }
    )
    token = _record({"enrolment_token": STR, "enrolment_qr_text": STR})
    device = {"200": _resp("Device", schema)}
    return {
        "/api/v1/devices": {
            "post": _op(
                "Create a gate device; returns its one-time enrolment token",
                {
                    "201": _resp(
                        "Device and token",
                        {
                            **token,
                            "required": ["device", *token["required"]],
                            "properties": {"device": schema, **token["properties"]},
                        },
                    )
                },
                400,
                401,
                403,
                404,
                422,
                body=DEVICE_SPEC.json_schema(),
                auth=True,
                tag=tag,
            ),
            "get": _op(
                "Devices with state, last sync, clock offset and backlog",
                {"200": _resp("Devices", _record({"items": {"type": "array", "items": schema}}))},
                400,
                401,
                403,
                params=[_query("event_id", {"type": "integer"})],
                auth=True,
                tag=tag,
            ),
        },
        "/api/v1/devices/{device_id}": {
            "get": _op("One device", device, 401, 403, 404, params=[_path("device_id")], auth=True, tag=tag),
            "patch": _op(
                "Rename or reassign (event, further events, zones, direction, re-entry)",
                device,
                400,
                401,
                403,
                404,
                409,
                422,
                body=CHANGE_SPEC.json_schema(),
                params=[_path("device_id")],
                auth=True,
                tag=tag,
            ),
        },
        "/api/v1/devices/{device_id}/revoke": {
            "post": _op(
                "Revoke: every later call of the device gets 401",
                device,
                401,
                403,
                404,
                params=[_path("device_id")],
                auth=True,
                tag=tag,
            ),
        },
        "/api/v1/devices/{device_id}/enrolment-token": {
            "post": _op(
                "A new one-time enrolment token",
                {"201": _resp("Token", token)},
                401,
                403,
                404,
                409,
                params=[_path("device_id")],
                auth=True,
                tag=tag,
            ),
        },
        "/api/v1/enrol": {
            "post": _op(
                "A gate redeems its enrolment token with its public key",
                {
                    "201": _resp(
                        "Credential, keyring, revocations, configuration",
                        _record(
                            {
                                "device": schema,
                                "credential": STR,
                                "hub_time": {"type": "number"},
                                "keyring": OBJ,
                                "revocations": OBJ,
                                "config": OBJ,
                            }
                        ),
                    )
                },
                400,
                401,
                422,
                body=enrol_in,
                tag=tag,
            ),
        },
    }


def _push_schemas() -> tuple[dict, dict]:
    """The push body and its acknowledgement, from the protocol's vocabulary (common/protocol.py)."""
    device_time = {"type": "number", "minimum": protocol.TIME_MIN, "maximum": protocol.TIME_MAX}
    ident = {"type": "integer", "minimum": 0, "maximum": protocol.ID_MAX}
    count = {"type": "integer", "minimum": 0, "maximum": protocol.COUNT_MAX}
    scan_id = {
        "type": "string",
        "pattern": f"^[0-9a-f]{{{protocol.SCAN_ID_HEX_DIGITS}}}$",
        "description": "random 128-bit id the gate gave the scan (the nonce)",
    }
    scan = {
        "type": "object",
        "required": ["scan_id", "seq", "wall_time", "verdict"],
        "properties": {
            "scan_id": scan_id,
            "seq": {**ident, "description": "the gate's scan sequence (monotonic)"},
            "wall_time": {
                **device_time,
                "description": "device wall time of the scan (Unix s); outside the "
                "plausible window the scan is refused (time_out_of_range) and acknowledged",
            },
            "event_id": _nullable(ident),
            "ticket_id": _nullable(ident),
            "verdict": {
                "enum": list(protocol.VERDICTS),
                "description": "another name is refused (unknown_verdict) and acknowledged",
            },
            "reason": _nullable({"type": "string", "maxLength": protocol.REASON_MAX_CHARS}),
        },
    }
    body = {
        "type": "object",
        "required": ["sent_at", "scans"],
        "additionalProperties": False,
        "description": f"at most {protocol.PUSH_MAX_BYTES} bytes (else 413)",
        "properties": {
            "sent_at": {
                **device_time,
                "description": "device wall clock when sending (Unix s); "
                "outside the plausible window: 422 clock_out_of_range",
            },
            "last_rtt_ms": _nullable(count, "round trip of the device's previous call"),
            "backlog": {**count, "description": "unsynced scans left after this batch (default 0)"},
            "scans": {"type": "array", "maxItems": protocol.PUSH_MAX_SCANS, "items": scan},
        },
    }
    refusal_codes = [
        sync_service.UNKNOWN_VERDICT,
        sync_service.TIME_OUT_OF_RANGE,
        sync_service.FOREIGN_EVENT,
        sync_service.SCAN_ID_TAKEN,
    ]
    ack = _record(
        {
            "acked": {"type": "array", "items": STR, "description": "settled: stored, or refused for good"},
            "stored": INT,
            "hub_time": {"type": "number"},
            "clock_offset_s": {"type": "number"},
            "rejected": {"type": "array", "items": _record({"scan_id": STR, "code": {"enum": refusal_codes}})},
        }
    )
    return body, ack


def _sync_paths() -> dict:
    tag = "sync"
    push_body, ack = _push_schemas()
    timing = [
        _header(DEVICE_TIME_HEADER, "device wall time at sending (Unix seconds)"),
        _header(LAST_RTT_HEADER, "round trip of the device's previous call (ms)"),
    ]
    seq = {"type": "integer", "minimum": 0}
    return {
        "/api/v1/sync/push": {
            "post": _op(
                "Push a signed batch of scans (stored once per scan_id; acknowledged by id)",
                {"200": _resp("Acknowledgement", ack)},
                400,
                401,
                413,
                422,
                body=push_body,
                auth=True,
                tag=tag,
                params=[_header(SIGNATURE_HEADER, "base64 Ed25519 signature of the body", True)],
            ),
        },
        "/api/v1/sync/pull": {
            "get": _op(
                "Other gates' admissions and exits, revocations, keyring and configuration since a cursor",
                {"200": _resp("Changes", OBJ)},
                400,
                401,
                auth=True,
                tag=tag,
                params=[
                    _query("cursor", seq),
                    _query("revocation_seq", seq),
                    _query("keyring_seq", seq),
                    _query("config_version", seq),
                    _query("roster_seq", seq),
                    _query("limit", seq),
                    *timing,
                    _header(PEER_PORT_HEADER, "port the gate's peers reach it on; 0: none; absent: unchanged"),
                ],
            ),
        },
        "/api/v1/events/{event_id}/attendance": {
            "get": _op(
                "Sold, admitted, inside, per gate, rejected by reason, duplicates",
                {"200": _resp("Attendance", OBJ)},
                401,
                403,
                404,
                params=[_path("event_id")],
                auth=True,
                tag=tag,
            ),
        },
        "/api/v1/events/{event_id}/scans": {
            "get": _op(
                "Synced scans in hub order after a hub seq (export)",
                {"200": _resp("Scans", OBJ)},
                400,
                401,
                403,
                404,
                params=[_path("event_id"), _query("since", seq), _query("limit", seq)],
                auth=True,
                tag=tag,
            ),
        },
    }


def _webhook_paths() -> dict:
    tag = "webhooks"
    kinds = {"type": "array", "items": STR}
    endpoint = _record({"id": INT, "organizer_id": INT, "url": STR, "kinds": kinds, "active": BOOL, "created_at": TIME})
    created = _record(
        {"id": INT, "organizer_id": INT, "url": STR, "kinds": kinds, "active": BOOL, "created_at": TIME, "secret": STR}
    )
    delivery = _record(
        {
            "id": INT,
            "endpoint_id": INT,
            "notification_id": INT,
            "kind": STR,
            "order_id": _nullable(INT),
            "status": {"enum": ["queued", "delivered", "failed"]},
            "attempts": INT,
            "next_attempt_at": _nullable(TIME),
            "last_attempt_at": _nullable(TIME),
            "last_status": _nullable(INT),
            "last_error": _nullable(STR),
            "delivered_at": _nullable(TIME),
            "created_at": TIME,
        }
    )
    page = _record({"items": {"type": "array", "items": delivery}, "total": INT, "offset": INT, "limit": INT})
    endpoint_id, delivery_id = _path("endpoint_id"), _path("delivery_id")
    paging = [_query("offset", {"type": "integer", "minimum": 0}), _query("limit", {"type": "integer", "minimum": 1})]
    return {
        "/api/v1/webhooks": {
            "post": _op(
                "Register a webhook endpoint for your events; the answer shows its signing secret once",
                {"201": _resp("Endpoint with its secret", created)},
                401,
                403,
                422,
                429,
                body=ENDPOINT_SPEC.json_schema(),
                auth=True,
                tag=tag,
            ),
            "get": _op(
                "Your webhook endpoints",
                {"200": _resp("Endpoints", _record({"items": {"type": "array", "items": endpoint}}))},
                401,
                403,
                auth=True,
                tag=tag,
            ),
        },
        "/api/v1/webhooks/{endpoint_id}": {
            "get": _op(
                "One webhook endpoint",
                {"200": _resp("Endpoint", endpoint)},
                401,
                403,
                404,
                params=[endpoint_id],
                auth=True,
                tag=tag,
            ),
            "patch": _op(
                "Change an endpoint's URL, kinds, or switch it on or off",
                {"200": _resp("Endpoint", endpoint)},
                401,
                403,
                404,
                422,
                body=ENDPOINT_CHANGE_SPEC.json_schema(),
                params=[endpoint_id],
                auth=True,
                tag=tag,
            ),
            "delete": _op(
                "Switch an endpoint off for good: nothing more is sent; its delivery log stays",
                {"204": _resp("Removed")},
                401,
                403,
                404,
                params=[endpoint_id],
                auth=True,
                tag=tag,
            ),
        },
        "/api/v1/webhooks/{endpoint_id}/deliveries": {
            "get": _op(
                "The endpoint's delivery log, newest first",
                {"200": _resp("Deliveries", page)},
                401,
                403,
                404,
                params=[endpoint_id, *paging],
                auth=True,
                tag=tag,
            )
        },
        "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/send-again": {
            "post": _op(
                "Queue a delivery's notification once more (same Webhook-Id)",
                {"201": _resp("The new delivery", delivery)},
                401,
                403,
                404,
                422,
                params=[endpoint_id, delivery_id],
                auth=True,
                tag=tag,
            )
        },
    }


def openapi_document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ticketgate hub API",
            "version": "1",
            "description": "Sales core: events, seat holds, orders and signed tickets. Errors are "
            '{"error": {"code", "message"}} with a 4xx status.',
        },
        "paths": {**_paths(), **_device_paths(), **_sync_paths(), **_webhook_paths()},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "tickethub tokens create --email E"}
            },
        },
    }
