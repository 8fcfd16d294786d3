"""`tickethub demo-data`: an organizer, a venue and two events to try the API with."""

from __future__ import annotations

from datetime import timedelta

import click

from hub.services import event_admin
from hub.services import events as event_service
from hub.services import users as user_service
from hub.services import venues as venue_service
from hub.services.clock import iso, utcnow

from ._app import cli_app, engine_of

DEMO_EMAIL = "organizer@demo.example"


@click.command("demo-data")
@click.option("--password", default="demo-organizer", show_default=True, help="Password of the demo organizer.")
def demo_data_command(password: str) -> None:
    """Create a demo organizer (with an API token), a 3-section venue and two events."""
    from hub.db import upgrade

    app = cli_app()
    upgrade(engine_of(app))
    app.extensions["tickethub.keys"].ensure()
    now = utcnow().replace(microsecond=0)
    with engine_of(app).connect() as conn:
        user = user_service.get_user_by_email(conn, DEMO_EMAIL) or user_service.create_user(
            conn, DEMO_EMAIL, password, "organizer"
        )
        _tid, token = user_service.create_token(conn, user["id"], "demo-data")
        click.echo(f"[1/4] organizer {DEMO_EMAIL} (password {password!r}), API token: {token}")
        venue = venue_service.create_venue(
            conn,
            {
                "name": "Demo Hall",
                "sections": [
                    {"name": "Stalls", "rows": [{"name": r, "seats": 20} for r in "ABCDEFGH"]},
                    {"name": "Balcony", "rows": [{"name": str(n), "seats": 16} for n in range(1, 5)]},
                    {"name": "Box", "rows": [{"name": "1", "seats": ["L1", "L2", "R1", "R2"]}]},
                ],
            },
            owner_id=user["id"],
        )
        click.echo(f"[2/4] venue {venue['id']} {venue['name']!r} with {venue['num_seats']} seats")
        seated = event_service.create_event(
            conn,
            {
                "title": "Demo Night",
                "artist": "The Examples",
                "location": "Demo Hall",
                "category": "concert",
                "description": "A seated demo show.",
                "starts_at": iso(now + timedelta(days=30)),
                "ticket_release_at": iso(now),
                "venue_id": venue["id"],
                "service_fee": 150,
                "ticket_types": [
                    {"name": "Stalls", "kind": "seated", "price": 4500, "sections": ["Stalls"]},
                    {"name": "Balcony", "kind": "seated", "price": 3000, "sections": ["Balcony"]},
                    {"name": "VIP box", "kind": "seated", "price": 12000, "sections": ["Box"], "zones": [1, 2]},
                    {
                        "name": "Early bird stalls",
                        "kind": "seated",
                        "price": 3500,
                        "sections": ["Stalls"],
                        "sales_start": iso(now),
                        "sales_end": iso(now + timedelta(days=7)),
                    },
                ],
            },
            organizer_id=user["id"],
        )
        click.echo(f"[3/4] seated event {seated['id']} {seated['title']!r}")
        ga = event_service.create_event(
            conn,
            {
                "title": "Demo Open Air",
                "artist": "Various",
                "location": "Demo Park",
                "category": "festival",
                "starts_at": iso(now + timedelta(days=60)),
                "ticket_release_at": iso(now),
                "ticket_types": [{"name": "Free entry", "kind": "ga", "price": 0, "capacity": 500}],
            },
            organizer_id=user["id"],
        )
        click.echo(f"[4/4] general admission event {ga['id']} {ga['title']!r}")
        # the demo's gates scan today: its doors are open now (without this, 4 h before the start)
        for event in (seated, ga):
            event_admin.set_door_settings(conn, event["id"], {"doors_open_at": iso(now - timedelta(hours=1))})
