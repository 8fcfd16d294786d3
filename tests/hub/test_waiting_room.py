"""The on-sale waiting room (hub/services/waiting_room.py, hub/api/queue.py), on SQLite and PostgreSQL.

Clocks are pinned: the services take `now`, and the queue's release lies at a fixed moment.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event

from hub.services import event_admin
from hub.services import waiting_room as wr
from hub.services.clock import iso, utcnow
from hub.services.errors import Conflict, Forbidden
from tests.hub.helpers import create_event
from tests.support import wait_for

RELEASE = datetime(2031, 3, 1, 10, 0, tzinfo=UTC)
KEY = "5eed" * 8  # the draw's key (hex), fixed so the test is deterministic
TTL = 900


def _queued_event(client, headers, *, rate: int = 60, release_at: datetime = RELEASE, **fields) -> int:
    event = create_event(
        client,
        headers,
        release_at=release_at,
        starts_at=iso(release_at + timedelta(days=30)),
        waiting_room=True,
        admit_per_minute=rate,
        **fields,
    )
    assert event["waiting_room"] is True and event["admit_per_minute"] == rate
    return event["id"]


def _join(app, conn, event_id: int, now: datetime) -> int:
    ticket, state = wr.join(conn, event_id, app.config["SECRET_KEY"], now=now)
    seq = wr.ticket_number(app.config["SECRET_KEY"], event_id, ticket)
    assert seq == state.entries
    return seq


# --- fairness ---------------------------------------------------------------------------------------


def test_arrivals_before_release_get_drawn_places_and_later_arrivals_queue_in_order(app, client, organizer, engine):
    event_id = _queued_event(client, organizer)
    with engine.connect() as conn:
        early = [_join(app, conn, event_id, RELEASE - timedelta(minutes=30) + timedelta(seconds=i)) for i in range(40)]
        before = wr.queue_state(conn, event_id, now=RELEASE - timedelta(seconds=1))
        assert [wr.queue_status(before, seq, RELEASE, 400)["position"] for seq in early] == [None] * 40
        wr.queue_state(conn, event_id, now=RELEASE, shuffle_key=KEY)  # the release passes: places are drawn
        late = [_join(app, conn, event_id, RELEASE + timedelta(seconds=1 + i)) for i in range(10)]
        state = wr.queue_state(conn, event_id, now=RELEASE + timedelta(seconds=20))
    assert early == list(range(1, 41)) and state.pre_release == 40 and state.shuffle_key == KEY

    places = [wr.position(state, seq) for seq in early]
    assert sorted(places) == list(range(1, 41)), "each place once"
    assert places != list(range(1, 41)), "not in the order they arrived"
    # deterministic under the key: the same key draws the same places (in a fresh computation), another does not
    wr._draws.clear()
    assert [wr.position(state, seq) for seq in early] == places
    other = wr.QueueState(**{**state.__dict__, "shuffle_key": "0" * 32})
    assert [wr.position(other, seq) for seq in early] != places
    # after the release: first come, first served, behind every early arrival
    assert [wr.position(state, seq) for seq in late] == list(range(41, 51))


def test_arriving_first_before_the_release_is_no_advantage():
    """Over many draws the first and the last of 40 early arrivals end up, on average, in the middle."""
    firsts, lasts = [], []
    for n in range(300):
        state = wr.QueueState(
            event_id=1,
            title="t",
            on=True,
            release_at=RELEASE,
            admit_per_minute=60,
            entries=40,
            pre_release=40,
            shuffle_key=f"{n:032x}",
        )
        firsts.append(wr.position(state, 1))
        lasts.append(wr.position(state, 40))
    assert 17 <= statistics.mean(firsts) <= 24 and 17 <= statistics.mean(lasts) <= 24
    assert len(set(firsts)) > 30, "the first arrival gets every kind of place"


# --- admission at the configured rate ---------------------------------------------------------------


def test_admission_follows_the_configured_rate_and_banks_nothing_while_the_queue_is_empty(
    app, client, organizer, engine
):
    event_id = _queued_event(client, organizer, rate=60)  # one a second
    secret = app.config["SECRET_KEY"]

    def admitted(seconds: float) -> int:
        return wr.queue_state(conn, event_id, now=RELEASE + timedelta(seconds=seconds), shuffle_key=KEY).admitted

    with engine.connect() as conn:
        for i in range(30):
            _join(app, conn, event_id, RELEASE - timedelta(seconds=30 - i))
        assert admitted(-1) == 0
        assert admitted(0) == 0
        assert admitted(10.5) == 10
        state = wr.queue_state(conn, event_id, now=RELEASE + timedelta(seconds=10.5))
        eleventh = next(seq for seq in range(1, 31) if wr.position(state, seq) == 11)
        tenth = next(seq for seq in range(1, 31) if wr.position(state, seq) == 10)
        with pytest.raises(Conflict) as not_yet:
            wr.admit(conn, event_id, eleventh, secret, TTL, now=RELEASE + timedelta(seconds=10.5))
        assert not_yet.value.code == "queue_not_your_turn"
        assert wr.admit(conn, event_id, tenth, secret, TTL, now=RELEASE + timedelta(seconds=10.5))[0]["position"] == 10
        assert wr.admit(conn, event_id, eleventh, secret, TTL, now=RELEASE + timedelta(seconds=11))[0]["position"] == 11
        assert admitted(20) == 20
        event_admin.update_event(conn, event_id, {"admit_per_minute": 120})  # the organizer speeds it up
        assert admitted(24) == 28
        assert admitted(100) == 30, "never past the tickets handed out"
        assert admitted(1000) == 30
        # a quiet spell banks nothing: ten arrivals at once are let in at the rate, not all at once
        late = [_join(app, conn, event_id, RELEASE + timedelta(seconds=1000)) for _ in range(10)]
        assert [
            wr.position(wr.queue_state(conn, event_id, now=RELEASE + timedelta(seconds=1000)), s) for s in late
        ] == list(range(31, 41))
        assert admitted(1000) == 30
        assert admitted(1003) == 36
        event_admin.update_event(conn, event_id, {"admit_per_minute": 0})  # paused
        assert admitted(1100) == 36
        event_admin.update_event(conn, event_id, {"admit_per_minute": 60})
        assert admitted(1102) == 38, "the pause banked nothing either"


def test_an_admission_lasts_its_window_from_the_first_time_and_then_the_ticket_must_queue_again(
    app, client, organizer, engine
):
    event_id = _queued_event(client, organizer, rate=600)
    secret = app.config["SECRET_KEY"]
    with engine.connect() as conn:
        seq = _join(app, conn, event_id, RELEASE + timedelta(seconds=1))
        first, _ = wr.admit(conn, event_id, seq, secret, TTL, now=RELEASE + timedelta(seconds=5))
        again, _ = wr.admit(conn, event_id, seq, secret, TTL, now=RELEASE + timedelta(seconds=TTL))
        with pytest.raises(Conflict) as over:
            wr.admit(conn, event_id, seq, secret, TTL, now=RELEASE + timedelta(seconds=5 + TTL))
    assert first["expires_at"] == again["expires_at"] == iso(RELEASE + timedelta(seconds=5 + TTL))
    assert over.value.code == "queue_admission_expired"
    check = wr.admission_problem
    assert check(secret, event_id, first["admission_token"], RELEASE + timedelta(seconds=4 + TTL)) is None
    assert "expired" in check(secret, event_id, first["admission_token"], RELEASE + timedelta(seconds=5 + TTL))


# --- holds need an admission while the waiting room is on -------------------------------------------


def _admission_token(app, engine, event_id: int, *, ttl: int = TTL, now: datetime | None = None) -> str:
    now = now or utcnow()
    secret = app.config["SECRET_KEY"]
    with engine.connect() as conn:
        seq = _join(app, conn, event_id, now)
        return wr.admit(conn, event_id, seq, secret, ttl, now=now + timedelta(seconds=1))[0]["admission_token"]


def test_holds_are_refused_without_a_live_admission_of_their_event_and_accepted_with_one(
    app, client, organizer, engine
):
    released = utcnow() - timedelta(hours=1)  # the API runs on the real clock
    event_id = _queued_event(client, organizer, rate=6000, release_at=released)
    other_id = _queued_event(client, organizer, rate=6000, release_at=released)
    path = f"/api/v1/events/{event_id}/holds"
    body = {"best_available": {"count": 2}}
    expired = _admission_token(app, engine, event_id, ttl=30, now=utcnow() - timedelta(minutes=5))
    good = _admission_token(app, engine, event_id)
    payload, signature = good.rsplit(".", 1)
    tries = {
        "none": {},
        "forged": {"X-Admission-Token": payload + "." + signature[::-1]},
        "another hub's": {
            "X-Admission-Token": wr._serializer("not the secret", wr.ADMISSION_SALT).dumps(
                [event_id, 1, int(time.time()) + 600]
            )
        },
        "expired": {"X-Admission-Token": expired},
        "another event's": {"X-Admission-Token": _admission_token(app, engine, other_id)},
    }
    for name, headers in tries.items():
        refused = client.post(path, json=body, headers=headers)
        assert refused.status_code == 403, name
        assert refused.json["error"]["code"] == "queue_admission_required", name
    assert "expired" in client.post(path, json=body, headers=tries["expired"]).json["error"]["message"]
    held = client.post(path, json=body, headers={"X-Admission-Token": good})
    assert held.status_code == 201, held.json
    assert held.json["quantity"] == 2
    # off again: holds need nothing
    with engine.connect() as conn:
        event_admin.update_event(conn, event_id, {"waiting_room": False})
    assert client.post(path, json=body).status_code == 201


def test_check_admission_ignores_events_without_a_waiting_room(app, client, organizer, engine):
    event_id = create_event(client, organizer)["id"]
    with engine.connect() as conn:
        wr.check_admission(conn, event_id, None, app.config["SECRET_KEY"])  # nothing raised
        event_admin.update_event(conn, event_id, {"waiting_room": True})
        with pytest.raises(Forbidden):
            wr.check_admission(conn, event_id, None, app.config["SECRET_KEY"])


# --- the API's queue routes --------------------------------------------------------------------------


def test_one_place_per_client_asking_again_with_the_ticket_keeps_it(app, client, organizer):
    event_id = _queued_event(client, organizer, rate=0, release_at=utcnow() - timedelta(hours=1))
    path = f"/api/v1/events/{event_id}/queue"
    first = client.post(path)
    assert first.status_code == 201 and first.json["position"] == 1 and first.json["status"] == "waiting"
    assert first.headers["Cache-Control"] == "no-store"
    again = client.post(path, headers={"X-Queue-Ticket": first.json["queue_ticket"]})
    assert again.status_code == 200
    assert (again.json["queue_ticket"], again.json["position"]) == (first.json["queue_ticket"], 1)
    newcomer = client.post(path)
    assert newcomer.status_code == 201 and newcomer.json["position"] == 2 and newcomer.json["ahead"] == 1
    status = client.get(path + "/status", headers={"X-Queue-Ticket": newcomer.json["queue_ticket"]})
    assert status.status_code == 200 and status.json["position"] == 2
    assert status.json["estimated_wait_seconds"] is None, "paused: no estimate"
    public = client.get(path)
    assert public.headers["Cache-Control"] == "public, max-age=1"
    assert {k: public.json[k] for k in ("waiting_room", "entries", "waiting", "admitted")} == {
        "waiting_room": True,
        "entries": 2,
        "waiting": 2,
        "admitted": 0,
    }


def test_queue_routes_refuse_missing_forged_and_other_events_tickets_and_early_admission(app, client, organizer):
    event_id = _queued_event(client, organizer, rate=0, release_at=utcnow() - timedelta(hours=1))
    other_id = _queued_event(client, organizer, rate=0, release_at=utcnow() - timedelta(hours=1))
    ticket = client.post(f"/api/v1/events/{event_id}/queue").json["queue_ticket"]
    other = client.post(f"/api/v1/events/{other_id}/queue").json["queue_ticket"]
    for headers in (
        {},
        {"X-Queue-Ticket": ticket[:-2] + "xx"},
        {"X-Queue-Ticket": other},
        {"X-Queue-Ticket": "\u00e9" * 10},
    ):
        for method, route in (("get", "/status"), ("post", "/admission")):
            answer = getattr(client, method)(f"/api/v1/events/{event_id}/queue{route}", headers=headers)
            assert answer.status_code == 403 and answer.json["error"]["code"] == "bad_queue_ticket", (headers, route)
    early = client.post(f"/api/v1/events/{event_id}/queue/admission", headers={"X-Queue-Ticket": ticket})
    assert early.status_code == 409 and early.json["error"]["code"] == "queue_not_your_turn"
    plain = create_event(client, organizer)["id"]
    off = client.post(f"/api/v1/events/{plain}/queue")
    assert off.status_code == 409 and off.json["error"]["code"] == "waiting_room_off"
    assert client.get("/api/v1/events/999999/queue").json["error"]["code"] == "event_not_found"


def test_new_places_per_address_are_rate_limited_but_asking_again_is_not(app, client, organizer):
    app.config["QUEUE_JOIN_RATE_LIMIT"] = "2 per minute"
    event_id = _queued_event(client, organizer, rate=0, release_at=utcnow() - timedelta(hours=1))
    path = f"/api/v1/events/{event_id}/queue"
    first = client.post(path)
    assert client.post(path).status_code == 201
    third = client.post(path)
    assert third.status_code == 429 and third.json["error"]["code"] == "too_many_requests"
    assert 1 <= int(third.headers["Retry-After"]) <= 60
    assert client.post(path, headers={"X-Queue-Ticket": first.json["queue_ticket"]}).status_code == 200


def test_queue_status_requests_do_no_database_work(app, client, organizer, engine):
    event_id = _queued_event(client, organizer, rate=0, release_at=utcnow() - timedelta(hours=1))
    ticket = client.post(f"/api/v1/events/{event_id}/queue").json["queue_ticket"]
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    sa_event.listen(engine, "before_cursor_execute", listener)
    started = time.monotonic()
    try:
        for _ in range(300):
            answer = client.get(f"/api/v1/events/{event_id}/queue/status", headers={"X-Queue-Ticket": ticket})
            assert answer.status_code == 200
    finally:
        sa_event.remove(engine, "before_cursor_execute", listener)
    # at most one read of the queue per second (a handful of statements each), not one per request
    reads = 1 + int(time.monotonic() - started)
    assert len(statements) <= 6 * reads, (len(statements), reads)


# --- how often clients ask ---------------------------------------------------------------------------


def test_a_long_queue_asks_about_its_budget_per_second_near_the_front_soon_far_back_seldom():
    budget = 400
    state = wr.QueueState(
        event_id=1,
        title="t",
        on=True,
        release_at=RELEASE,
        admit_per_minute=600,
        entries=100_000,
        pre_release=0,
        shuffle_key="00",
        admitted=0,
    )
    now = RELEASE + timedelta(seconds=1)
    polls = [wr.queue_status(state, seq, now, budget)["poll_after_seconds"] for seq in range(1, 100_001)]
    assert polls[0] == wr.MIN_POLL_SECONDS and polls[-1] >= 100_000 / budget
    assert sum(1 / p for p in polls) <= 2 * budget, "the whole queue asks about its budget a second"
    pre = wr.QueueState(event_id=1, title="t", on=True, release_at=RELEASE, admit_per_minute=600, entries=100_000)
    first_questions = [
        wr.queue_status(pre, seq, RELEASE - timedelta(seconds=60), budget)["poll_after_seconds"]
        for seq in range(1, 100_001)
    ]
    assert min(first_questions) >= 60, "nobody asks again before the release"
    assert max(first_questions) - min(first_questions) >= 100_000 / budget * 0.9, "spread over the moments after it"
    checking_in = [
        wr.queue_status(pre, seq, RELEASE - timedelta(hours=1), budget)["poll_after_seconds"]
        for seq in range(1, 100_001)
    ]
    assert sum(1 / p for p in checking_in) <= 1.2 * budget, "an hour before, the queue checks in within its budget"


# --- organizer fields --------------------------------------------------------------------------------


def test_event_waiting_room_fields_are_checked_like_every_event_field(client, organizer):
    for bad in (
        {"waiting_room": "yes"},
        {"waiting_room": 1},
        {"admit_per_minute": -1},
        {"admit_per_minute": 1.5},
        {"admit_per_minute": 10**7},
    ):
        with pytest.raises(AssertionError) as refused:
            create_event(client, organizer, **bad)
        assert "invalid_field" in str(refused.value), bad
    plain = create_event(client, organizer)
    assert (plain["waiting_room"], plain["admit_per_minute"]) == (False, 600)


# --- migration 0006 -----------------------------------------------------------------------------------


def test_migration_0006_creates_what_the_schema_describes_and_goes_down_and_up(database_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import hub.schema_queue  # noqa: F401  (its tables join the metadata)
    from hub.db import alembic_config, current_revision, make_engine, upgrade
    from hub.schema import metadata

    ours = {"waiting_rooms", "waiting_room_admissions"}
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        conn.exec_driver_sql(
            "INSERT INTO events (title, artist, location, description, category, starts_at, "
            "ticket_release_at, service_fee, created_at) VALUES ('kept', '', '', '', '', "
            "'2031-01-01 20:00:00', '2031-01-01 10:00:00', 0, '2030-01-01 00:00:00')"
        )
        conn.commit()
    names = ours | {"waiting_room", "admit_per_minute"}  # tables, and columns of events

    def about_ours(diff) -> bool:
        return any(
            (part if isinstance(part, str) else getattr(part, "name", None)) in names
            or getattr(getattr(part, "table", None), "name", None) in ours
            for part in diff[1:]
        )

    flat = [d for diff in diffs for d in (diff if isinstance(diff, list) else [diff])]
    assert [d for d in flat if about_ours(d)] == []
    config = alembic_config(database_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "s001")
    assert current_revision(engine) == "s001"
    with engine.connect() as conn:
        assert not ours & set(conn.dialect.get_table_names(conn))
    upgrade(engine)
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT title, waiting_room, admit_per_minute FROM events").one()
    engine.dispose()
    assert (row[0], bool(row[1]), row[2]) == ("kept", False, 600)


# --- several hub processes ----------------------------------------------------------------------------


def test_hubs_sharing_a_database_and_instance_share_the_queue(app, app_config, client, organizer):
    """A second hub on the same database and instance folder (as `tickethub serve --workers 2` runs)
    checks the first one's tickets, counts the same queue and lets in with an admission the first
    accepts."""
    from hub import create_app

    other = create_app(app_config)
    try:
        event_id = _queued_event(client, organizer, rate=0, release_at=utcnow() - timedelta(hours=1))
        there = other.test_client()
        first = client.post(f"/api/v1/events/{event_id}/queue").json
        second = there.post(f"/api/v1/events/{event_id}/queue").json
        assert (first["position"], second["position"]) == (1, 2)
        ticket = {"X-Queue-Ticket": first["queue_ticket"]}
        assert there.get(f"/api/v1/events/{event_id}/queue/status", headers=ticket).json["position"] == 1
        with other.extensions["tickethub.engine"].connect() as conn:
            event_admin.update_event(conn, event_id, {"admit_per_minute": 60_000})
        admission = _admission_once_let_in(there, event_id, ticket)
        held = client.post(
            f"/api/v1/events/{event_id}/holds",
            json={"best_available": {"count": 1}},
            headers={"X-Admission-Token": admission["admission_token"]},
        )
        assert held.status_code == 201, held.json
    finally:
        other.extensions["tickethub.engine"].dispose()


def _admission_once_let_in(client, event_id: int, ticket: dict) -> dict:
    def admission():
        answer = client.post(f"/api/v1/events/{event_id}/queue/admission", headers=ticket)
        return answer.status_code == 200 and answer.json

    return wait_for(admission, 10, "the admission")


def test_being_let_in_takes_the_buy_lane_and_asking_the_status_the_read_lane():
    """`tickethub serve` keeps buyers apart from readers (hub/serving.py): a buyer whose turn has come
    must not wait behind a crowd asking for its place."""
    from hub.serving import BUY_PATH

    assert BUY_PATH.fullmatch("/api/v1/events/7/queue/admission") and BUY_PATH.fullmatch("/events/7/queue/enter")
    for reader in ("/api/v1/events/7/queue/status", "/api/v1/events/7/queue", "/events/7/queue"):
        assert not BUY_PATH.fullmatch(reader), reader
