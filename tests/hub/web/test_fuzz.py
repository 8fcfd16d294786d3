"""Outside input never crashes the pages: fuzzed layout text, query strings and form posts."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hub.services.errors import Invalid
from hub.services.layouts import parse_layout
from hub.services.promos import normal_code

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
FIXTURE_OK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_layout_parser_accepts_or_explains(text):
    try:
        sections = parse_layout(text)
    except Invalid as exc:
        assert exc.code == "invalid_layout" and exc.message
    else:
        assert sections and all(section["rows"] for section in sections)


@given(TEXT)
@settings(max_examples=200, deadline=None)
def test_promo_code_normaliser_accepts_or_explains(text):
    try:
        code = normal_code(text)
    except Invalid as exc:
        assert exc.code == "invalid_promo_code"
    else:
        assert code == code.upper() and 2 <= len(code) <= 40


@given(
    params=st.dictionaries(
        st.sampled_from(["q", "category", "location", "date_from", "date_to", "sort", "page"]), TEXT, max_size=5
    ),
    month=TEXT,
)
@example(params={"q": "\x00"}, month="2026-\x00")
@FIXTURE_OK
def test_list_and_calendar_query_strings_never_fail(client, params, month):
    listing = client.get("/", query_string=params)
    assert listing.status_code == (400 if any("\x00" in v for v in params.values()) else 200)
    calendar = client.get("/calendar", query_string={"month": month})
    assert calendar.status_code == (400 if "\x00" in month else 200)


@given(
    form=st.dictionaries(
        st.sampled_from(["mode", "seat", "count", "section", "ticket_type_id", "quantity"]),
        st.one_of(TEXT, st.lists(TEXT, max_size=3)),
        max_size=6,
    )
)
@example(form={"mode": "seats", "seat": ["²", "99999999999999999999"]})
@example(form={"mode": "ga", "quantity": ["1", "a\x00"]})
@FIXTURE_OK
def test_hold_form_never_fails(browser_client, event, form):
    browser_client.get(f"/events/{event['id']}")
    response = browser_client.post(f"/events/{event['id']}/hold", form)
    assert response.status_code in (302, 400)
