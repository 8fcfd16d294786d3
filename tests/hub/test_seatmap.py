"""Seat maps served from memory (hub/services/seatmap.py): the compact layout + status + changes, the
classic map and the seat check, all without a database query per read, cacheable, and current after
every hold, sale and release of this process. Both backends."""

from __future__ import annotations

import gzip
from datetime import timedelta

from sqlalchemy import event as sa_event
from sqlalchemy import update

from hub.schema import event_seats
from hub.services import event_admin, holds, seatmap
from hub.services.clock import utcnow
from tests.support import wait_for

from .helpers import assert_documented, buy, create_event, seat


def _urls(event_id: int) -> dict:
    base = f"/api/v1/events/{event_id}"
    return {
        "seats": f"{base}/seats",
        "status": f"{base}/seatmap/status",
        "layout": f"{base}/seatmap/layout",
        "changes": f"{base}/seatmap/changes",
        "check": f"{base}/seats/A/1/2",
    }


class StatementCounter:
    """Counts the SQL statements the app's engine sends while it is in a `with` block."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def _count(self, *_args):
        self.count += 1

    def __enter__(self):
        sa_event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc):
        sa_event.remove(self.engine, "before_cursor_execute", self._count)


def test_reads_come_from_memory_with_etag_304_and_public_caching(app, client, organizer, engine):
    app.extensions[seatmap.EXTENSION] = seatmap.SeatMaps(engine, max_age=600)  # no rebuild while counting
    event = create_event(client, organizer, rows=2, seats=3)
    urls = _urls(event["id"])
    for url in urls.values():
        assert client.get(url + ("?since=x.0" if url.endswith("changes") else "")).status_code == 200  # built once
    with StatementCounter(engine) as counter:
        answers = {name: client.get(url + ("?since=x.0" if name == "changes" else "")) for name, url in urls.items()}
    assert counter.count == 0, "a read of a built seat map touches the database"
    for name, answer in answers.items():
        assert answer.status_code == 200, name
        assert answer.headers["Cache-Control"] == "public, max-age=1, stale-while-revalidate=5", name
        again = client.get(
            urls[name] + ("?since=x.0" if name == "changes" else ""), headers={"If-None-Match": answer.headers["ETag"]}
        )
        assert again.status_code == 304 and again.data == b"", name
    assert answers["check"].json == {"index": 1, "section": "A", "row": "1", "seat": "2", "status": "available"}
    assert answers["status"].json["status"] == "aaaaaa" and answers["status"].json["num_available"] == 6
    assert answers["seats"].json["num_available"] == 6 and len(answers["seats"].json["seats"]) == 6
    assert answers["layout"].json["sections"] == [
        {
            "name": "A",
            "rows": [
                {"name": "1", "seats": ["1", "2", "3"], "first": 0},
                {"name": "2", "seats": ["1", "2", "3"], "first": 3},
            ],
        }
    ]
    for name in ("status", "layout", "changes"):
        assert_documented(client, "GET", "/api/v1/events/{event_id}/seatmap/" + name, answers[name])
    app.config["TRUSTED_HOSTS"] = ["tickets.example.org"]  # answered before Flask, held to the same Host rule
    for url in urls.values():
        assert client.get(url + "?since=x.0", headers={"Host": "evil.example"}).status_code == 400
        assert client.get(url + "?since=x.0", headers={"Host": "tickets.example.org"}).status_code == 200
    app.config["TRUSTED_HOSTS"] = None
    base = f"/api/v1/events/{event['id']}/seats"  # a seat not in the map: the database names what is unknown
    for path, code in (("/B/1/1", "unknown_section"), ("/A/9/1", "unknown_row"), ("/A/1/9", "unknown_seat")):
        answer = client.get(base + path)
        assert answer.status_code == 404 and answer.json["error"]["code"] == code


def test_every_hold_sale_and_release_shows_at_once_with_a_new_version_and_its_changes(client, organizer):
    event = create_event(client, organizer, rows=2, seats=3)
    urls = _urls(event["id"])
    first = client.get(urls["status"]).json
    hold = client.post(
        f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "2"), seat("A", "2", "3")]}
    )
    assert hold.status_code == 201
    assert client.get(urls["check"]).json["status"] == "held"  # read-your-writes: no waiting for a tick
    held = client.get(urls["status"]).json
    assert held["status"] == "ahaaah" and held["version"] != first["version"]
    changes = client.get(urls["changes"], query_string={"since": first["version"]}).json
    assert changes["changes"] == [[1, "h"], [5, "h"]] and changes["version"] == held["version"]
    assert buy(client, hold.json).status_code == 201
    sold = client.get(urls["status"]).json
    assert sold["status"] == "asaaas" and client.get(urls["seats"]).json["num_available"] == 4
    assert client.get(urls["changes"], query_string={"since": first["version"]}).json["changes"] == [[1, "s"], [5, "s"]]
    assert client.get(urls["changes"], query_string={"since": sold["version"]}).json["changes"] == []

    other = client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "1")]}).json
    assert client.get(urls["status"]).json["status"] == "hsaaas"
    assert (
        client.delete(f"/api/v1/holds/{other['hold_id']}", headers={"X-Hold-Token": other["hold_token"]}).status_code
        == 204
    )
    assert client.get(urls["status"]).json["status"] == "asaaas"


def test_a_client_too_far_behind_or_from_another_sequence_is_told_to_reload(app, client, organizer):
    app.extensions[seatmap.EXTENSION] = seatmap.SeatMaps(app.extensions["tickethub.engine"], history=2)
    event = create_event(client, organizer, rows=1, seats=20)
    urls = _urls(event["id"])
    first = client.get(urls["status"]).json["version"]
    for label in ("1", "2", "3"):
        assert (
            client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", label)]}).status_code
            == 201
        )
        now = client.get(urls["status"]).json["version"]  # each hold read: a version each
    assert client.get(urls["changes"], query_string={"since": first}).json["reload"] is True  # 3 versions, 2 kept
    epoch, n = now.rsplit(".", 1)
    assert client.get(urls["changes"], query_string={"since": f"{epoch}.{int(n) - 2}"}).json["changes"] == [
        [1, "h"],
        [2, "h"],
    ]
    for since in (f"other.{n}", f"{epoch}.{int(n) + 5}", "garbage"):
        assert client.get(urls["changes"], query_string={"since": since}).json["reload"] is True, since
    missing = client.get(urls["changes"])
    assert missing.status_code == 400 and missing.json["error"]["code"] == "invalid_parameter"
    unknown = client.get("/api/v1/events/999999/seatmap/status")
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "event_not_found"


def test_a_hold_that_runs_out_shows_free_once_the_map_is_older_than_its_max_age(app, client, organizer, engine):
    """Expiry by time changes no row: the periodic rebuild (while the map is read) picks it up."""
    app.extensions[seatmap.EXTENSION] = seatmap.SeatMaps(engine, max_age=0.2)
    event = create_event(client, organizer, rows=1, seats=2)
    with engine.connect() as conn:  # made 29.5 s ago with the shortest lifetime: it runs out in half a second
        holds.hold_seats(conn, event["id"], [("A", "1", "1")], ttl_seconds=30, now=utcnow() - timedelta(seconds=29.5))
    status = _urls(event["id"])["status"]
    assert client.get(status).json["status"] == "ha"
    wait_for(lambda: client.get(status).json["status"] == "aa", 10, "the run-out hold to show free")


def test_layout_follows_ticket_type_changes(app, client, organizer, engine):
    event = create_event(client, organizer, rows=1, seats=2)
    urls = _urls(event["id"])
    before = client.get(urls["status"]).json
    type_id = event["ticket_types"][0]["id"]
    with engine.connect() as conn:
        event_admin.update_ticket_type(conn, event["id"], type_id, {"price": 4200})
    seatmap.changed(event["id"], app)  # what the organizer's price page does after the change
    after = client.get(urls["status"]).json
    assert after["layout"] != before["layout"] and after["version"] != before["version"]
    layout = client.get(urls["layout"], query_string={"v": after["layout"]})
    assert layout.json["ticket_types"][0]["price"] == 4200
    assert layout.headers["Cache-Control"] == "public, max-age=86400, immutable"
    assert client.get(urls["changes"], query_string={"since": before["version"]}).json["reload"] is True


def test_ten_thousand_seats_small_on_the_wire_and_one_sale_is_a_small_change(client, organizer, engine):
    event = create_event(client, organizer, rows=100, seats=100)
    urls = _urls(event["id"])
    zipped = {"Accept-Encoding": "gzip"}
    classic = client.get(urls["seats"], headers=zipped)
    assert classic.headers["Content-Encoding"] == "gzip" and len(classic.data) <= 100 * 1024
    assert len(gzip.decompress(classic.data)) > 500 * 1024  # every seat spelled out, as before
    status = client.get(urls["status"], headers=zipped)
    assert len(status.data) <= 2 * 1024 and len(client.get(urls["layout"], headers=zipped).data) <= 20 * 1024
    version = client.get(urls["status"]).json["version"]
    hold = client.post(f"/api/v1/events/{event['id']}/holds", json={"best_available": {"count": 4}})
    assert buy(client, hold.json).status_code == 201
    changes = client.get(urls["changes"], query_string={"since": version}, headers=zipped)
    assert len(changes.data) <= 1024 and len(changes.json["changes"]) == 4
    with engine.begin() as conn:  # a change no hook announced (another process without Redis)...
        conn.execute(
            update(event_seats)
            .where(event_seats.c.event_id == event["id"], event_seats.c.position < 5000)
            .values(status="sold")
        )
    # ... shows within the map's max age; half the seats at once is cheaper to reload than to list
    wait_for(
        lambda: client.get(urls["changes"], query_string={"since": version}).json.get("reload"),
        10,
        "the unannounced change",
    )
    assert client.get(urls["status"]).json["num_available"] == 5000  # the 4 sold ones are among the first 5000


def test_with_redis_unreachable_a_process_serves_its_own_versions(app, client, organizer, engine):
    store = seatmap.make_seatmaps(engine, {**app.config, "REDIS_URL": "redis://127.0.0.1:1/0"})  # nothing listens
    app.extensions[seatmap.EXTENSION] = store
    try:
        event = create_event(client, organizer, rows=1, seats=3)
        urls = _urls(event["id"])
        first = client.get(urls["status"]).json
        assert first["status"] == "aaa" and first["version"].startswith(store.epoch + ".")
        assert (
            client.post(f"/api/v1/events/{event['id']}/holds", json={"seats": [seat("A", "1", "3")]}).status_code == 201
        )
        assert client.get(urls["changes"], query_string={"since": first["version"]}).json["changes"] == [[2, "h"]]
    finally:
        store.close()


def test_holds_and_sales_patch_the_map_from_their_own_seats_and_agree_with_a_whole_read(app, client, organizer, engine):
    """A hold or its order changes only its own seats: the map reads just those rows (a few instead of
    the whole event) and ends up where a read of the whole event does."""
    import random

    event = create_event(client, organizer, rows=4, seats=10)
    status_url = _urls(event["id"])["status"]
    client.get(status_url)
    patches = []

    def listen(_conn, _cursor, statement, *_args):
        if statement.lstrip().startswith("SELECT event_seats.position") and "event_seats.hold_id IN" in statement:
            patches.append(statement)  # the map reading the seats of the holds that changed

    sa_event.listen(engine, "before_cursor_execute", listen)
    rng = random.Random(12)
    held = []
    try:
        for _ in range(12):
            action = rng.choice(["hold", "hold", "buy", "release"]) if held else "hold"
            if action == "hold":
                hold = client.post(
                    f"/api/v1/events/{event['id']}/holds", json={"best_available": {"count": rng.randint(1, 3)}}
                )
                assert hold.status_code == 201
                held.append(hold.json)
            elif action == "buy":
                assert buy(client, held.pop(rng.randrange(len(held)))).status_code == 201
            else:
                gone = held.pop(rng.randrange(len(held)))
                assert (
                    client.delete(
                        f"/api/v1/holds/{gone['hold_id']}", headers={"X-Hold-Token": gone["hold_token"]}
                    ).status_code
                    == 204
                )
            whole = seatmap.read_map(engine, event["id"], None)[1].decode()
            assert client.get(status_url).json["status"] == whole, action
    finally:
        sa_event.remove(engine, "before_cursor_execute", listen)
    assert patches, "no hold or order was patched in"
