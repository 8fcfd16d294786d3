"""The organizer's back office in real Chromium, on a phone (390x844) and a desktop: the sales
dashboard is the first page and readable on a phone; a draft event is invisible to buyers until
the organizer publishes it; pausing sales asks first; the event page's element ids are unique."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest

from hub.services import holds, orders, users
from tests.hub.web.live import serve_hub
from tests.hub.web.support import make_event, smtp_server

pytestmark = pytest.mark.browser
PASSWORD = "correct horse"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with (
        smtp_server() as (smtp_host, smtp_port, mailbox),
        serve_hub(
            tmp_path_factory.mktemp("organizer"), SMTP_HOST=smtp_host, SMTP_PORT=smtp_port, SMTP_FROM="t@hub.test"
        ) as (app, base_url),
    ):
        app.config["PUBLIC_URL"] = base_url  # invitation links lead back to this server
        # every test here logs the organizer in from 127.0.0.1, more than the default 10 a minute
        app.config["LOGIN_RATE_LIMIT"] = "100000 per minute"
        signer = app.extensions["tickethub.keys"].current()
        with app.extensions["tickethub.engine"].connect() as conn:
            organizer = users.create_user(conn, "org@example.org", PASSWORD, "organizer")
            sold = make_event(
                conn,
                organizer["id"],
                title="Sold Some",
                price=2000,
                fee=0,
                rows=2,
                seats=10,
                starts_in=timedelta(hours=20),
            )  # tonight: on the door page
            paid_days = []
            for seats in (["1", "2"], ["3"]):
                held = holds.hold_seats(conn, sold["id"], [("A", "1", s) for s in seats])
                order = orders.purchase(
                    conn,
                    held["hold_id"],
                    held["hold_token"],
                    {"name": "Ann", "email": "a@example.org"},
                    "box_office",
                    signer,
                )
                paid = orders.confirm_payment(conn, order["id"], signer)
                paid_days += [paid["paid_at"][:10]] * len(seats)
        yield {
            "base": base_url,
            "app": app,
            "organizer": organizer,
            "sold": sold,
            "paid_days": paid_days,
            "mailbox": mailbox.messages,
        }


def _login(context, base: str):
    page = context.new_page()
    page.goto(f"{base}/account/login")
    page.fill("#email", "org@example.org")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/manage$"))
    return page


@pytest.mark.parametrize("screen", SCREENS)
def test_sales_dashboard_is_the_first_page_and_readable(browser, hub, screen):
    context = browser.new_context(**SCREENS[screen])
    page = _login(context, hub["base"])  # logging in lands on the dashboard
    today = page.get_attribute("#sales-chart", "data-today")
    assert page.text_content("#sold-total").strip() == "3"
    assert page.text_content("#sold-today").strip() == str(hub["paid_days"].count(today))
    assert "€60.00" in page.text_content("#sales-figures")  # services.money format_money
    row = page.locator("#event-sales tr", has_text="Sold Some")
    assert re.search(r"\b17\s+of 20\b", row.locator("td").nth(3).inner_text()), "20 seats, 3 sold: 17 left"
    bars = page.locator("#sales-chart li")
    assert bars.count() == 14
    last = bars.nth(13)
    assert last.locator(".count").inner_text() == str(hub["paid_days"].count(today))
    width = SCREENS[screen]["viewport"]["width"]
    for i in range(bars.count()):
        label = bars.nth(i).locator(".day")
        box = label.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        size = float(label.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
        assert size >= 12, f"chart label {size}px"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()


@pytest.mark.parametrize("screen", SCREENS)
def test_a_draft_is_hidden_until_published_and_pausing_asks_first(browser, hub, screen):
    app = hub["app"]
    with app.extensions["tickethub.engine"].connect() as conn:
        draft = make_event(conn, hub["organizer"]["id"], title=f"Premiere {screen}", status="draft")
    buyer = browser.new_context(**SCREENS[screen]).new_page()
    buyer.goto(f"{hub['base']}/events/{draft['id']}")
    assert "no page" in buyer.text_content("main").lower() or "no event" in buyer.text_content("main").lower()
    buyer.goto(f"{hub['base']}/")
    assert f"Premiere {screen}" not in buyer.text_content("main")

    context = browser.new_context(**SCREENS[screen])
    page = _login(context, hub["base"])
    page.goto(f"{hub['base']}/manage/events/{draft['id']}")
    assert page.text_content("#event-status") == "Draft"
    assert "only you see it" in page.text_content("#status-form")
    page.click("#status-form button:has-text('Publish')")
    page.wait_for_selector("text=Event published")
    assert page.text_content("#event-status") == "Published"

    buyer.goto(f"{hub['base']}/")
    assert f"Premiere {screen}" in buyer.text_content("main")
    buyer.goto(f"{hub['base']}/events/{draft['id']}")
    buyer.wait_for_selector("#seatmap[aria-busy=false]")

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("#status-form button:has-text('Pause sales')")
    assert questions and "Pause sales?" in questions[0]
    assert page.text_content("#event-status") == "Published", "dismissed: nothing changed"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#status-form button:has-text('Pause sales')")
    page.wait_for_selector("text=Sales paused: the event stays listed")
    assert page.text_content("#event-status") == "Sales paused"

    buyer.goto(f"{hub['base']}/events/{draft['id']}")
    assert "Sales for this event are paused" in buyer.text_content("#sale-state")
    assert buyer.locator("#seatmap").count() == 0 or buyer.locator("button.seat").count() == 0
    context.close()
    buyer.context.close()


def test_manage_event_page_ids_are_unique(browser, hub):
    context = browser.new_context(**DESKTOP)
    page = _login(context, hub["base"])
    page.goto(f"{hub['base']}/manage/events/{hub['sold']['id']}")
    repeated = page.evaluate(
        """() => { const seen = {}; for (const e of document.querySelectorAll('[id]')) seen[e.id] = (seen[e.id] || 0) + 1;
                   return Object.keys(seen).filter(k => seen[k] > 1); }"""
    )
    assert repeated == []
    # each label still names its own field
    assert page.locator("label[for=type-kind]").inner_text() == "Kind"
    assert page.locator("#type-kind option").all_inner_texts() == ["Seated", "General admission"]
    assert page.locator("#promo-kind option").all_inner_texts() == ["Percent off", "Amount off"]
    context.close()


@pytest.mark.parametrize("screen", SCREENS)
def test_organizer_invites_door_staff_who_accept_by_the_mailed_link(browser, hub, screen):
    email = f"door-{screen}@example.org"
    context = browser.new_context(**SCREENS[screen])
    page = _login(context, hub["base"])
    page.click("header nav >> text=Door")  # the organizer's own door pages are one tap away
    page.wait_for_url(re.compile(r"/door$"))
    page.goto(f"{hub['base']}/manage")
    page.click("text=Staff")
    page.fill("#invite-email", email)
    page.select_option("#invite-role", label="Door staff")
    page.click("#invite-form button[type=submit]")
    page.wait_for_selector(f"text=Invitation sent to {email}")
    assert email in page.text_content("#pending-invites")
    message = next(m for m in reversed(hub["mailbox"]) if m["To"] == email)
    link = re.search(
        r"^(http\S+/invite/\S+)$", message.get_body(("plain",)).get_content().replace("\r\n", "\n"), re.M
    ).group(1)
    assert link.startswith(hub["base"] + "/invite/")

    invitee = browser.new_context(**SCREENS[screen]).new_page()
    invitee.goto(link)
    assert "org@example.org" in invitee.text_content("#invite") and "door staff" in invitee.text_content("#invite")
    invitee.fill("#password", "a long password")
    invitee.fill("#confirm", "a long password")
    invitee.click("text=Accept and create account")
    invitee.wait_for_url(re.compile(r"/door$"))
    assert "you now work as door staff for org@example.org" in invitee.text_content("main")
    assert "Sold Some" in invitee.text_content("main")
    assert invitee.locator("header nav >> text=Manage").count() == 0
    width = SCREENS[screen]["viewport"]["width"]
    assert invitee.evaluate("document.documentElement.scrollWidth") <= width
    invitee.goto(link)
    assert "already accepted" in invitee.text_content("main")
    invitee.context.close()
    context.close()


@pytest.mark.parametrize("screen", SCREENS)
def test_ticket_types_are_edited_on_the_event_page(browser, hub, screen):
    with hub["app"].extensions["tickethub.engine"].connect() as conn:
        event = make_event(conn, hub["organizer"]["id"], title=f"Types {screen}", ga_capacity=30)
    seated, standing = (t["id"] for t in event["ticket_types"])
    context = browser.new_context(**SCREENS[screen])
    page = _login(context, hub["base"])
    page.goto(f"{hub['base']}/manage/events/{event['id']}")
    sold = page.locator(f"#ticket-types tr[data-type-id='{standing}'] .type-sold")
    assert sold.inner_text() == "0 of 30"
    page.click("summary:has-text('Edit Standing')")
    page.fill(f"#t{standing}-name", "Early bird standing")
    page.fill(f"#t{standing}-capacity", "40")
    page.fill(f"#t{standing}-sales_end", "2031-01-01T00:00")
    page.click("button:has-text('Save Standing')")
    page.wait_for_selector("text=Ticket type Early bird standing saved.")
    row = page.locator(f"#ticket-types tr[data-type-id='{standing}']")
    assert row.locator(".type-name").inner_text() == "Early bird standing"
    assert row.locator(".type-sold").inner_text() == "0 of 40"
    assert "Fri 31 Dec 2030" in row.inner_text() or "Wed 1 Jan 2031" in row.inner_text()
    assert page.locator(f"#t{seated}-capacity").count() == 0, "seated types have no capacity field"

    page.click("summary:has-text('Edit Seat')")
    page.check(f"#t{seated}-hidden")
    page.click("button:has-text('Save Seat')")
    page.wait_for_selector("text=Ticket type Seat saved.")
    assert "Hidden" in page.locator(f"#ticket-types tr[data-type-id='{seated}']").inner_text()
    buyer = browser.new_context(**SCREENS[screen]).new_page()
    buyer.goto(f"{hub['base']}/events/{event['id']}")
    prices = buyer.text_content(".prices")
    assert "Early bird standing" in prices and "Seat" not in prices
    buyer.context.close()

    # the add form: capacity only for standing tickets, sections only for seated ones
    page.select_option("#type-kind", "seated")
    assert page.locator("#type-capacity").is_hidden() and page.locator("#type-sections").is_visible()
    page.select_option("#type-kind", "ga")
    assert page.locator("#type-capacity").is_visible() and page.locator("#type-sections").is_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= SCREENS[screen]["viewport"]["width"]
    context.close()


@pytest.mark.parametrize("screen", SCREENS)
def test_new_event_form_takes_any_number_of_ticket_types(browser, hub, screen):
    context = browser.new_context(**SCREENS[screen])
    page = _login(context, hub["base"])
    page.goto(f"{hub['base']}/manage/events/new")
    assert page.locator("fieldset.ticket-type").count() == 1
    page.fill("#title", f"Many types {screen}")
    page.fill("#starts_at", "2031-05-01T19:30")
    for i in range(1, 4):
        page.click("text=Add another ticket type")
        page.wait_for_selector(f"#ticket_types-{i}-name")
    assert page.locator("fieldset.ticket-type").count() == 4
    assert page.input_value("#title") == f"Many types {screen}", "what was typed stays"
    for i in range(4):
        page.fill(f"#ticket_types-{i}-name", f"Tier {i + 1}")
        page.select_option(f"#ticket_types-{i}-kind", "ga")
        page.fill(f"#ticket_types-{i}-price", str(10 + i))
        assert page.locator(f"#ticket_types-{i}-capacity").is_visible()
        assert page.locator(f"#ticket_types-{i}-sections").is_hidden()
        page.fill(f"#ticket_types-{i}-capacity", "50")
    page.click("#event-form button:has-text('Create event')")
    page.wait_for_selector("text=created as a draft")
    assert page.locator("#ticket-types .type-name").all_inner_texts() == ["Tier 1", "Tier 2", "Tier 3", "Tier 4"]
    context.close()


def test_order_actions_are_on_a_phone_screen(browser, hub):
    context = browser.new_context(**PHONE)
    page = _login(context, hub["base"])
    page.goto(f"{hub['base']}/manage/events/{hub['sold']['id']}/orders")
    buttons = page.locator("table.orders .row-actions button")
    assert buttons.count() >= 2
    for i in range(buttons.count()):
        button = buttons.nth(i)
        box = button.bounding_box()  # where it is without scrolling the table sideways
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"{button.inner_text()} is off-screen at {box}"
        assert box["height"] >= 24
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


@pytest.mark.parametrize("screen", SCREENS)
def test_door_list_download_names_each_buyer(browser, hub, screen):
    context = browser.new_context(**SCREENS[screen], accept_downloads=True)
    page = _login(context, hub["base"])
    page.goto(f"{hub['base']}/manage/events/{hub['sold']['id']}/report")
    with page.expect_download() as download:
        page.click("text=Door list CSV")
    text = Path(download.value.path()).read_text("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["buyer_name", "buyer_email"]
    assert [(r[0], r[1], r[6]) for r in rows[1:]] == [("Ann", "a@example.org", s) for s in ("1", "2", "3")]
    context.close()


@pytest.mark.parametrize("screen", SCREENS)
def test_deleting_a_promo_code_asks_first(browser, hub, screen):
    from hub.services import promos

    with hub["app"].extensions["tickethub.engine"].connect() as conn:
        event = make_event(conn, hub["organizer"]["id"], title=f"Promo {screen}")
        promos.create_promo(conn, event["id"], "SPRING10", "percent", 10)
    context = browser.new_context(**SCREENS[screen])
    page = _login(context, hub["base"])
    page.goto(f"{hub['base']}/manage/events/{event['id']}")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("tr:has-text('SPRING10') >> text=Delete")
    assert questions == ["Delete promo code SPRING10? Buyers can no longer use it."]
    assert page.locator("tr:has-text('SPRING10')").count() == 1, "dismissed: still there"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("tr:has-text('SPRING10') >> text=Delete")
    page.wait_for_selector("text=Promo code deleted.")
    assert page.locator("tr:has-text('SPRING10')").count() == 0
    context.close()
