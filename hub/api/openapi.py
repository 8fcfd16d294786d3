"""The OpenAPI 3 description of /api/v1 (tests check every route is listed).

Another area documents its routes with a module-level ``OPENAPI_PATHS`` dict
(path -> path item) in the module that defines its blueprint; the helpers
``_op``, ``_path``, ``_query``, ``_header`` and ``_resp`` here may be imported for that.
"""
from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(description: str, schema: dict | None = None, media: str = "application/json") -> dict:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {media: {"schema": schema}}
    return out


def _errors(*codes: int) -> dict:
    texts = {400: "Malformed request", 401: "Missing or bad API token", 403: "Not allowed",
             404: "Not found", 409: "Not available / state conflict", 413: "Body too large",
             422: "Invalid field", 429: "Rate limited, or the hold limit per client reached"}
    return {str(c): _resp(texts[c], ERROR) for c in codes}


def _op(summary: str, ok: dict, *errors: int, body: dict | None = None, params: list | None = None,
        auth: bool = False, tag: str = "") -> dict:
    op: dict[str, Any] = {"summary": summary, "tags": [tag] if tag else [], "responses": {**ok, **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    if auth:
        op["security"] = [{"bearer": []}]
    return op


def _path(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "integer"}}


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _header(name: str, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "header", "required": required, "schema": {"type": "string"},
            "description": description}


OBJ = {"type": "object"}
STR = {"type": "string"}
INT = {"type": "integer"}
TIME = {"type": "string", "format": "date-time"}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": STR, "message": STR}}}},
    "VenueIn": {"type": "object", "additionalProperties": False, "required": ["name", "sections"], "properties": {
        "name": STR,
        "sections": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                     "required": ["name", "rows"], "properties": {
                         "name": STR,
                         "rows": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                  "required": ["name", "seats"], "properties": {
                                      "name": STR,
                                      "seats": {"oneOf": [{"type": "integer", "minimum": 1},
                                                          {"type": "array", "items": STR}],
                                                "description": "N numbers the seats \"1\"..\"N\""}}}}}}}}},
    "TicketTypeIn": {"type": "object", "additionalProperties": False, "required": ["name", "kind", "price"],
                     "properties": {"name": STR, "kind": {"enum": ["seated", "ga"]},
                                    "price": {"type": "integer", "minimum": 0, "description": "minor units"},
                                    "capacity": {"type": "integer", "description": "ga only"},
                                    "sections": {"type": "array", "items": STR,
                                                 "description": "seated: sections it covers (empty: all)"},
                                    "sales_start": TIME, "sales_end": TIME,
                                    "zones": {"type": "array", "items": {"type": "integer", "minimum": 1,
                                                                         "maximum": 16}}}},
    "EventIn": {"type": "object", "additionalProperties": False, "required": ["title", "starts_at", "ticket_types"],
                "properties": {"title": STR, "artist": STR, "location": STR, "description": STR, "category": STR,
                               "starts_at": TIME, "ticket_release_at": TIME, "venue_id": INT,
                               "service_fee": {"type": "integer", "description": "per ticket, minor units"},
                               "ticket_types": {"type": "array",
                                                "items": {"$ref": "#/components/schemas/TicketTypeIn"}}}},
    "Event": {"type": "object", "properties": {"id": INT, "title": STR, "artist": STR, "location": STR,
                                               "description": STR, "category": STR, "starts_at": TIME,
                                               "ticket_release_at": TIME, "venue_id": INT, "organizer_id": INT,
                                               "service_fee": INT, "ticket_types": {"type": "array", "items": OBJ}}},
    "Seat": {"type": "object", "properties": {"index": INT, "section": STR, "row": STR, "seat": STR,
                                              "status": {"enum": ["available", "held", "sold"]}}},
    "HoldIn": {"type": "object", "additionalProperties": False,
               "description": "exactly one of seats, best_available, ga", "properties": {
                   "seats": {"type": "array", "items": {"type": "object", "required": ["section", "row", "seat"],
                                                        "properties": {"section": STR, "row": STR, "seat": STR}}},
                   "best_available": {"type": "object", "required": ["count"],
                                      "properties": {"count": INT, "section": STR}},
                   "ga": {"type": "object", "required": ["ticket_type", "quantity"],
                          "properties": {"ticket_type": INT, "quantity": INT}},
                   "ticket_type": {"type": "integer", "description": "seated ticket type (default: cheapest on sale)"},
                   "ttl_seconds": {"type": "integer", "description": "seconds, within the configured "
                          "bounds; by default 30-900 anonymous, 30-3600 with an API token"}}},
    "Hold": {"type": "object", "properties": {"hold_id": INT, "hold_token": STR, "kind": STR, "quantity": INT,
                                              "expires_at": TIME, "seats": {"type": "array",
                                                                            "items": {"$ref": "#/components/schemas/Seat"}}}},
    "OrderIn": {"type": "object", "additionalProperties": False,
                "required": ["hold_id", "hold_token", "buyer", "payment"], "properties": {
                    "hold_id": INT, "hold_token": STR,
                    "buyer": {"type": "object", "required": ["name", "email"], "properties": {"name": STR, "email": STR}},
                    "payment": {"type": "object", "required": ["method"],
                                "properties": {"method": {"enum": ["free", "box_office"]}}}}},
    "Ticket": {"type": "object", "properties": {"ticket_id": INT, "ticket_type_id": INT, "status": STR,
                                                "seat": {"$ref": "#/components/schemas/Seat"}, "code": STR,
                                                "qr_url": STR, "qr_svg_url": STR}},
    "Order": {"type": "object", "properties": {"id": INT, "event_id": INT, "status": STR, "total": INT,
                                               "access_token": STR, "tickets": {"type": "array",
                                                                                "items": {"$ref": "#/components/schemas/Ticket"}}}},
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _paths() -> dict:
    event_id, hold_id, order_id, ticket_id = (_path("event_id"), _path("hold_id"), _path("order_id"),
                                              _path("ticket_id"))
    order_token = _header("X-Order-Token", "the order's access_token (or ?access_token=)")
    return {
        "/api/v1/venues": {
            "post": _op("Create a venue from sections, rows and seats", {"201": _resp("Created", OBJ)},
                        400, 401, 403, 422, body=ref("VenueIn"), auth=True, tag="events"),
            "get": _op("List your venues", {"200": _resp("Venues", OBJ)}, 401, 403, auth=True, tag="events"),
        },
        "/api/v1/venues/{venue_id}": {
            "get": _op("A venue with its seat layout", {"200": _resp("Venue", OBJ)}, 401, 403, 404,
                       params=[_path("venue_id")], auth=True, tag="events")},
        "/api/v1/events": {
            "post": _op("Create an event with ticket types", {"201": _resp("Created", ref("Event"))},
                        400, 401, 403, 404, 422, body=ref("EventIn"), auth=True, tag="events"),
            "get": _op("List events (public; paginated, sortable, filterable)", {"200": _resp("Page of events", OBJ)},
                       400, 422, tag="events", params=[
                           _query("offset", INT), _query("limit", {"type": "integer", "maximum": 100}),
                           _query("sort", {"enum": ["starts_at", "-starts_at", "title", "-title"]}),
                           _query("q", STR, "text search in title, artist, description, location"),
                           _query("category", STR), _query("from", TIME), _query("to", TIME),
                           _query("mine", {"type": "boolean"}, "only your events (needs a token)")]),
        },
        "/api/v1/events/{event_id}": {
            "get": _op("One event (public)", {"200": _resp("Event", ref("Event"))}, 404, params=[event_id],
                       tag="events")},
        "/api/v1/events/{event_id}/seats": {
            "get": _op("Seat map with each seat's status and num_available", {"200": _resp("Seat map", OBJ)}, 404,
                       params=[event_id], tag="events")},
        "/api/v1/events/{event_id}/seats/{section}/{row}/{seat}": {
            "get": _op("Check one seat", {"200": _resp("Seat", ref("Seat"))}, 404, tag="events",
                       params=[event_id, _path("section", STR), _path("row", STR), _path("seat", STR)])},
        "/api/v1/events/{event_id}/seat-labels": {
            "get": _op("Seat labels; list index == the signed ticket's seat number",
                       {"200": _resp("Labels", OBJ)}, 404, params=[event_id], tag="events")},
        "/api/v1/events/{event_id}/orders": {
            "get": _op("Orders of your event", {"200": _resp("Page of orders", OBJ)}, 401, 403, 404,
                       params=[event_id, _query("offset", INT), _query("limit", INT)], auth=True, tag="orders")},
        "/api/v1/events/{event_id}/revocations": {
            "get": _op("Revoked tickets with seq > since, with a signed RevocationList document",
                       {"200": _resp("Revocations", OBJ)}, 400, 404, params=[event_id, _query("since", INT)],
                       tag="sync")},
        "/api/v1/events/{event_id}/holds": {
            "post": _op("Hold seats or GA tickets (all or nothing, expiring; rate-limited)",
                        {"201": _resp("Hold", ref("Hold"))}, 400, 404, 409, 422, 429, body=ref("HoldIn"),
                        params=[event_id], tag="holds")},
        "/api/v1/holds/{hold_id}": {
            "get": _op("A hold's state (token holder only)", {"200": _resp("Hold", OBJ)}, 403, 404,
                       params=[hold_id, _header("X-Hold-Token", "the hold_token", True)], tag="holds"),
            "delete": _op("Release a hold (token holder only)", {"204": _resp("Released")}, 403, 404, 409,
                          params=[hold_id, _header("X-Hold-Token", "the hold_token", True)], tag="holds"),
        },
        "/api/v1/orders": {
            "post": _op("Buy a live hold: the order and its tickets", {"201": _resp("Order", ref("Order"))},
                        400, 403, 404, 409, 422, body=ref("OrderIn"), tag="orders",
                        params=[_header("Idempotency-Key", "a retry for the same hold (same hold token) "
                                         "with the same key returns the first order; keys are scoped to their hold")])},
        "/api/v1/orders/{order_id}": {
            "get": _op("An order with its tickets (buyer or staff)", {"200": _resp("Order", ref("Order"))},
                       401, 403, 404, params=[order_id, order_token, _query("access_token", STR)], tag="orders")},
        "/api/v1/orders/{order_id}/refund": {
            "post": _op("Refund (paid) or cancel (pending): frees seats, revokes tickets",
                        {"200": _resp("Order", ref("Order"))}, 401, 403, 404, 409, params=[order_id], auth=True,
                        tag="orders")},
        "/api/v1/orders/{order_id}/confirm-payment": {
            "post": _op("Confirm a box-office payment; issues the tickets", {"200": _resp("Order", ref("Order"))},
                        401, 403, 404, 409, params=[order_id], auth=True, tag="orders")},
        "/api/v1/tickets/{ticket_id}": {
            "get": _op("One ticket", {"200": _resp("Ticket", ref("Ticket"))}, 401, 403, 404,
                       params=[ticket_id, order_token, _query("access_token", STR)], tag="tickets")},
        "/api/v1/tickets/{ticket_id}/qr.png": {
            "get": _op("The ticket's QR as PNG", {"200": _resp("PNG", {"type": "string", "format": "binary"},
                                                                "image/png")}, 401, 403, 404, tag="tickets",
                       params=[ticket_id, order_token, _query("access_token", STR), _query("scale", INT)])},
        "/api/v1/tickets/{ticket_id}/qr.svg": {
            "get": _op("The ticket's QR as SVG", {"200": _resp("SVG", STR, "image/svg+xml")}, 401, 403, 404,
                       params=[ticket_id, order_token, _query("access_token", STR), _query("scale", INT)],
                       tag="tickets")},
        "/api/v1/tickets/{ticket_id}/reissue": {
            "post": _op("Re-issue: a new ticket (new id and text); the old one is revoked",
                        {"201": _resp("Ticket", ref("Ticket"))}, 401, 403, 404, 409, params=[ticket_id], auth=True,
                        tag="tickets")},
        "/api/v1/keyring": {
            "get": _op("Public signing keyring (signed document) for gates", {"200": _resp("Keyring", OBJ)},
                       tag="sync")},
        "/api/v1/openapi.json": {"get": _op("This document", {"200": _resp("OpenAPI 3", OBJ)}, tag="meta")},
        "/api/v1/me": {"get": _op("The token's user", {"200": _resp("User", OBJ)}, 401, auth=True, tag="meta")},
    }


def openapi_document(extra_paths: dict | None = None) -> dict:
    """The document; `extra_paths` (OpenAPI path items) come from other areas' OPENAPI_PATHS."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "ticketgate hub API", "version": "1",
                 "description": "Sales core: events, seat holds, orders and signed tickets. Errors are "
                                "{\"error\": {\"code\", \"message\"}} with a 4xx status."},
        "paths": {**_paths(), **(extra_paths or {})},
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "tickethub tokens create --email E"}}},
    }
