"""The venue text form round-trips: what the venue page shows (layouts.layout_text) the venue form
accepts again (layouts.parse_layout) and means the same seats, for any labels the form can write;
and the new-venue page previews a layout before saving it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.services.errors import Invalid
from hub.services.layouts import expand, layout_text, parse_layout

LABEL = st.text(alphabet="ABCLRXYZ0123456789-", min_size=1, max_size=4)
ROW = st.fixed_dictionaries(
    {
        "name": st.text(alphabet="ABCDEFGHJK123", min_size=1, max_size=3),
        "seats": st.lists(LABEL, min_size=1, max_size=8, unique=True),
    }
)
SECTION = st.fixed_dictionaries(
    {
        "name": st.text(alphabet="Stals Bcony", min_size=1, max_size=10).map(str.strip).filter(bool),
        "rows": st.lists(ROW, min_size=1, max_size=4),
    }
)


@given(st.lists(SECTION, min_size=1, max_size=3))
def test_layout_text_is_read_back_as_the_same_seats(sections):
    assert expand(parse_layout(layout_text({"sections": sections}))) == sections


def test_the_box_the_venue_page_showed_is_accepted():
    venue = {"sections": [{"name": "Box", "rows": [{"name": "1", "seats": ["L1", "L2", "R1", "R2"]}]}]}
    assert layout_text(venue) == "Box: 1=[L1 L2 R1 R2]"  # was "Box: 1=L1-R2", which the form refused
    assert expand(parse_layout("Box: 1=[L1 L2 R1 R2]")) == venue["sections"]
    assert layout_text({"sections": [{"name": "S", "rows": [{"name": "A", "seats": ["3", "4", "5"]}]}]}) == "S: A=3-5"
    assert layout_text({"sections": [{"name": "S", "rows": [{"name": "A", "seats": ["1", "3"]}]}]}) == "S: A=[1 3]"
    with pytest.raises(Invalid, match="at least one seat"):
        parse_layout("Box: 1=[ ]")


@pytest.mark.browser
@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_new_venue_preview_shows_the_seats_before_saving(browser, tmp_path, screen):
    from hub.services import users
    from hub.services.venues import list_venues
    from tests.hub.web.live import serve_hub

    viewport = {"width": 390, "height": 844} if screen == "phone" else {"width": 1280, "height": 900}
    with serve_hub(tmp_path) as (app, base_url):
        with app.extensions["tickethub.engine"].connect() as conn:
            users.create_user(conn, "org@example.org", "correct horse", "organizer")
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(f"{base_url}/account/login")
        page.fill("#email", "org@example.org")
        page.fill("#password", "correct horse")
        page.click("#login-form button[type=submit]")
        page.goto(f"{base_url}/manage/venues/new")
        page.fill("#name", "Opera")
        page.fill("#layout", "Stalls: A=4, B=2-5\nBox: 1=[L1 L2 R1 R2]")
        page.click("text=Preview")
        page.wait_for_selector("text=Preview: 12 seats in 2 section(s), not saved yet")
        box = page.locator("#venue-map .section", has_text="Box")
        assert box.locator(".seat").all_inner_texts() == ["L1", "L2", "R1", "R2"]
        with app.extensions["tickethub.engine"].connect() as conn:
            assert list_venues(conn) == []  # nothing saved by a preview
        page.click("#venue-form button:has-text('Create venue')")
        page.wait_for_selector("text=with 12 seats created")
        shown = page.text_content("pre")
        assert "Box: 1=[L1 L2 R1 R2]" in shown
        page.goto(f"{base_url}/manage/venues/new")  # what the venue page shows is accepted again
        page.fill("#name", "Opera copy")
        page.fill("#layout", shown)
        page.click("#venue-form button:has-text('Create venue')")
        page.wait_for_selector("text=with 12 seats created")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        context.close()
