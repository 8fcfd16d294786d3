""" "Add to calendar": an order's event as an iCalendar (.ics) file, built with the icalendar library.

One VEVENT per order (not per ticket: one evening is one calendar entry), in UTC, with the venue and
a link back to the order page. An event without an end time is given DEFAULT_LENGTH, so calendars
show a block of the evening rather than a zero-length entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event

DEFAULT_LENGTH = timedelta(hours=3)
PRODUCT_ID = "-//ticketgate//hub//EN"


def order_calendar(
    *,
    order_id: int,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None,
    location: str,
    order_url: str,
    host: str,
    now: datetime,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = Event()
    entry.add("uid", f"order-{order_id}@{host}")  # the same entry when downloaded again: calendars update it
    entry.add("dtstamp", now)
    entry.add("dtstart", starts_at)
    entry.add("dtend", ends_at or starts_at + DEFAULT_LENGTH)
    entry.add("summary", title)
    if location:
        entry.add("location", location)
    entry.add("description", f"Your tickets: {order_url}")
    entry.add("url", order_url)
    calendar.add_component(entry)
    return calendar.to_ical()
