"""How `tickethub serve` runs the hub on waitress so that a spike cannot outlive itself.

Waitress reads requests on one event loop and queues each parsed request for a pool of
threads; the queue has no bound, and a request whose client has given up still runs. In an
on-sale spike that queue grew to hundreds of requests that nobody was waiting for, and
buyers waited behind every reader. A WSGI middleware cannot help: it runs only once a thread
has taken the request off the queue. So the decisions are made where waitress queues a
request, in its task dispatcher (``waitress.task.ThreadedTaskDispatcher.add_task``, which
receives the connection's channel with the parsed request first in ``channel.requests``):

- **Two lanes.** Requests on the buy path (``BUY_PATH``: holds, orders, checkout) have their
  own thread pool and queue, so readers can never starve buyers.
- **Bounded queues.** When a lane already has ``max_queued`` requests waiting that no idle
  thread will take, the request goes to a one-thread refuser instead, which answers
  503 + ``Retry-After`` without running the app (JSON ``{"error": {"code": "overloaded"}}``
  under /api, a short plain page elsewhere): a fast "come back shortly" instead of a slow
  answer to a client that will have given up.
- **Abandoned requests are skipped.** ``channel_request_lookahead=1`` keeps a connection
  readable while its request waits, so the loop sees the client close it; waitress's
  ``HTTPChannel.service()`` then skips the request instead of running it.

This uses waitress 3 internals (the dispatcher's ``queue``/``threads``/``active_count`` and
``create_server``'s ``_dispatcher``); tests/hub/test_overload.py runs them against a real
`tickethub serve`.
"""

from __future__ import annotations

import json
import logging
import re
import threading

from waitress.task import ThreadedTaskDispatcher

from hub.api.errors import API_PREFIX

log = logging.getLogger(__name__)

# Paths whose requests take the buy lane: API holds and orders, the storefront's hold and checkout, and
# the waiting room's step in (a buyer whose turn has come must not wait behind the queue's status requests).
BUY_PATH = re.compile(
    r"/api/v1/(events/[0-9]+/(holds|queue/admission)|holds/[0-9]+|orders(/.*)?)"
    r"|/events/[0-9]+/(hold|queue/enter)|/checkout/.*"
)

_refusing = threading.local()  # set on the refuser's thread: its requests are answered 503

# waitress warns "Task queue depth is N" for every request that waits for a busy thread: in an on-sale,
# every request. Formatting and writing that line took about 6 % of the hub's CPU during a sell-out; a
# lane whose queue is really full says so itself (Lane.add_task). Set this logger to WARNING to see them.
_queue_depth_log = logging.getLogger(__name__ + ".queue_depth")
_queue_depth_log.setLevel(logging.ERROR)


class Lane(ThreadedTaskDispatcher):
    """A waitress task dispatcher (a thread pool and its queue) that sends a request on to
    ``overflow`` once ``max_queued`` requests already wait for a thread."""

    queue_logger = _queue_depth_log

    def __init__(self, name: str, threads: int, max_queued: int, overflow: ThreadedTaskDispatcher):
        super().__init__()
        self.name = name
        self.max_queued = max_queued
        self.overflow = overflow
        self.refused = 0  # during the current overload, for the log
        self.set_thread_count(threads)

    def start_new_thread(self, target, thread_no):
        threading.Thread(target=target, name=f"{self.name}-{thread_no}", args=(thread_no,), daemon=True).start()

    def waiting(self) -> int:
        """Requests queued that no idle thread is about to take; those whose client has gone do not
        count (a thread skips them in no time)."""
        with self.lock:
            idle = len(self.threads) - self.stop_count - self.active_count
            return sum(1 for channel in self.queue if channel.connected) - idle

    def add_task(self, task) -> None:
        waiting = self.waiting()  # a race with the threads only moves the bound by a request or two
        if waiting >= self.max_queued:
            if not self.refused:
                log.warning(
                    "%s lane: %d requests wait for %d threads; answering more with 503 until it drains",
                    self.name,
                    waiting,
                    len(self.threads),
                )
            self.refused += 1
            self.overflow.add_task(task)
            return
        if self.refused:
            log.warning("%s lane: accepting requests again after refusing %d", self.name, self.refused)
            self.refused = 0
        super().add_task(task)


class Refuser(ThreadedTaskDispatcher):
    """One thread that answers each request handed to it with 503 (see ``refuse_when_overloaded``);
    a request whose client has already gone is skipped by waitress without an answer."""

    queue_logger = _queue_depth_log

    def __init__(self):
        super().__init__()
        self.set_thread_count(1)

    def start_new_thread(self, target, thread_no):
        def refuse(number):
            _refusing.active = True
            target(number)

        threading.Thread(target=refuse, name=f"refuser-{thread_no}", args=(thread_no,), daemon=True).start()


class LaneDispatcher:
    """What waitress sees as its task dispatcher: routes each request to the buy or the read lane."""

    def __init__(self, threads: int, buy_threads: int, max_queued: int = 0):
        self.refuser = Refuser()
        self.read = Lane("read", threads, max_queued or 2 * threads, self.refuser)
        self.buy = Lane("buy", buy_threads, max_queued or 2 * buy_threads, self.refuser)

    def lane_for(self, channel) -> Lane:
        request = channel.requests[0] if channel.requests else None
        if request is not None and not request.error and BUY_PATH.fullmatch(request.path or ""):
            return self.buy
        return self.read

    def add_task(self, channel) -> None:
        self.lane_for(channel).add_task(channel)

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        done = [pool.shutdown(cancel_pending, timeout) for pool in (self.read, self.buy, self.refuser)]
        return all(done)


def refuse_when_overloaded(app, retry_after: int):
    """WSGI wrapper of ``app``: on the refuser's thread answer 503 + Retry-After without running ``app``."""
    headers = [("Retry-After", str(retry_after)), ("Cache-Control", "no-store")]
    message = f"The hub is busy; please try again in {retry_after} seconds."
    api_body = json.dumps({"error": {"code": "overloaded", "message": message}}).encode()
    page_body = f"503 Service Unavailable\n\n{message}\n".encode()

    def wsgi(environ, start_response):
        if not getattr(_refusing, "active", False):
            return app(environ, start_response)
        if environ.get("PATH_INFO", "").startswith(API_PREFIX):
            body, content_type = api_body, "application/json"
        else:
            body, content_type = page_body, "text/plain; charset=utf-8"
        start_response(
            "503 Service Unavailable", [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers]
        )
        return [body]

    return wsgi


def serve(
    app,
    *,
    threads: int,
    buy_threads: int,
    max_queued_requests: int,
    connection_limit: int,
    overload_retry_seconds: int,
    **where,
) -> None:
    """Serve the WSGI ``app`` on waitress with lanes, bounded queues and skipped abandoned requests
    (``where``: ``host``/``port`` or ``sockets``). Returns when the server stops."""
    import waitress

    lanes = LaneDispatcher(threads, buy_threads, max_queued_requests)
    waitress.serve(
        refuse_when_overloaded(app, overload_retry_seconds),
        _dispatcher=lanes,
        threads=threads,
        connection_limit=connection_limit,
        asyncore_use_poll=True,  # select() cannot watch more than 1,024 connections
        channel_request_lookahead=1,  # see a client's close while its request waits
        channel_timeout=60,
        ident="tickethub",
        **where,
    )
