"""The validators' JSON Schemas (hub/services/validate.py `json_schema()`) accept what the validators
accept: the OpenAPI document describes request bodies with them, so a bound is written once."""

from __future__ import annotations

import jsonschema_rs
import pytest

from hub.services.errors import Invalid
from hub.services.validate import either, email_address, integer, list_of, obj, one_of, plain_text, string

CHECKERS = {
    "integer(1, 5)": integer(1, 5),
    "integer()": integer(),
    "string(3, 1)": string(3, 1),
    "string(2)": string(2),
    "plain_text(4, 1)": plain_text(4, 1),
    "email_address()": email_address(),
    "one_of('a', 'b')": one_of("a", "b"),
    "list_of(integer(0, 1), 2, 1)": list_of(integer(0, 1), 2, 1),
    "either(integer(1, 2), list_of(string(2, 1), 2, 1))": either(integer(1, 2), list_of(string(2, 1), 2, 1)),
    "obj(required a, optional b)": obj(required={"a": integer(0)}, optional={"b": string(2)}),
}
# at and beyond the bounds, wrong types, unknown and missing fields
SAMPLES = [
    0,
    1,
    2,
    5,
    6,
    -1,
    2**63,
    True,
    1.5,
    "",
    " ",
    "a",
    "b",
    "ab",
    "abc",
    "abcd",
    "abcde",
    "a@example.org",
    [],
    [0],
    [1, 1],
    [0, 1, 0],
    [2],
    ["ab"],
    ["ab", "c"],
    ["abc"],
    {},
    {"a": 1},
    {"a": 1, "b": "xy"},
    {"a": 1, "b": "xyz"},
    {"a": 1, "c": 1},
    {"a": -1},
    {"b": "x"},
    None,
]


def _accepts(checker, value) -> bool:
    try:
        checker(value, "field")
    except Invalid:
        return False
    return True


@pytest.mark.parametrize("name", CHECKERS)
def test_a_checkers_json_schema_accepts_exactly_what_it_accepts(name):
    checker = CHECKERS[name]
    schema = checker.json_schema()
    valid = jsonschema_rs.validator_for(schema, validate_formats=True).is_valid
    differ = [value for value in SAMPLES if _accepts(checker, value) != valid(value)]
    assert differ == [], f"{name}: {schema}"


def test_the_api_documents_request_bodies_with_the_validators_schemas():
    from hub.api.holds import HOLD_SPEC
    from hub.api.openapi import openapi_document
    from hub.api.orders import ORDER_SPEC
    from hub.services.events import EVENT_SPEC
    from hub.services.venues import VENUE_SPEC

    schemas = openapi_document()["components"]["schemas"]
    assert (
        schemas["VenueIn"]["properties"]["sections"]["maxItems"]
        == VENUE_SPEC.json_schema()["properties"]["sections"]["maxItems"]
    )
    assert schemas["EventIn"]["properties"]["ticket_types"] | {"items": None} == EVENT_SPEC.json_schema()["properties"][
        "ticket_types"
    ] | {"items": None}
    assert (
        schemas["HoldIn"]["properties"]["ttl_seconds"]["maximum"]
        == HOLD_SPEC.json_schema()["properties"]["ttl_seconds"]["maximum"]
    )
    assert schemas["OrderIn"]["properties"]["buyer"] == ORDER_SPEC.json_schema()["properties"]["buyer"]
    # what only the document says is added, never a bound taken away
    assert schemas["OrderIn"]["properties"]["payment"]["properties"]["method"]["enum"] == ["box_office", "card", "free"]
