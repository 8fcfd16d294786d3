"""`tickethub serve`: the hub on waitress, a multi-threaded production WSGI server.

With --workers N > 1 the listening socket is opened once and N forked
processes serve it (pre-fork), each with its own app, engine and threads; the
sales core stays race-safe across processes (see tests/hub/test_race.py).

Each process keeps the buy path (holds, orders, checkout) on its own --buy-threads,
answers 503 + Retry-After once more than MAX_QUEUED_REQUESTS wait for a thread, and
skips requests whose client has gone (hub/serving.py).
"""

from __future__ import annotations

import logging
import os
import signal
import socket

import click

from hub.services.live import SERVER_THREADS, stream_limit

from ._app import cli_app, engine_of

log = logging.getLogger(__name__)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--threads",
    default=SERVER_THREADS,
    show_default=True,
    type=click.IntRange(1, 512),
    help="Worker threads per process for everything but the buy path (each request holds one while it runs).",
)
@click.option(
    "--buy-threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 512),
    help="Worker threads per process for the buy path only (holds, orders, checkout), so readers can never take them.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port. Rate limits are per process unless "
    "TICKETHUB_RATELIMIT_STORAGE_URI points at a shared store.",
)
@click.option(
    "--stream-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the seat-map stream server (server-sent events to any number of viewers, beside "
    "the hub on the same host); 0: none. Default: SEATMAP_STREAM_PORT (0).",
)
@click.option("--no-upgrade", is_flag=True, help="Do not apply pending migrations first.")
def serve_command(
    host: str, port: int, threads: int, buy_threads: int, workers: int, stream_port: int | None, no_upgrade: bool
) -> None:
    """Serve the hub (JSON API and pages) with waitress; sweeps expired holds and mails event reminders in the background."""
    from hub.db import upgrade

    _check_address(host, port)
    app = _with_public_url(cli_app(), host, port, announce=True)
    stream_port = app.config["SEATMAP_STREAM_PORT"] if stream_port is None else stream_port
    if stream_port:
        _check_address(host, stream_port)
    if not no_upgrade:
        upgrade(engine_of(app))
    key = app.extensions["tickethub.keys"].ensure()
    server_settings = _server_settings(app, threads, buy_threads)
    streams = _limit_streams(app, threads)
    if streams >= threads:
        log.warning(
            "MAX_STREAMS=%d with %d threads: open live streams can take every thread and stop sales and gate sync",
            streams,
            threads,
        )
    click.echo(
        f"tickethub serving on http://{host}:{port} ({workers} process(es) x {threads} threads "
        f"+ {buy_threads} for the buy path, up to {streams} live stream(s) each, signing key {key.kid})"
    )
    # opened once, before any fork: every worker serves streams on the same port
    server_settings["stream_socket"] = socket.create_server((host, stream_port), backlog=2048) if stream_port else None
    if stream_port:
        click.echo(f"seat-map streams on http://{host}:{stream_port}/api/v1/events/<id>/seatmap/stream")
        _allow_open_files(server_settings["connection_limit"] + int(app.config["SEATMAP_STREAM_MAX_CLIENTS"]))
    if workers == 1:
        _serve(app, server_settings, host=host, port=port, background_jobs=True)
        return
    engine_of(app).dispose()  # each worker opens its own connections
    listener = socket.create_server((host, port), backlog=2048)
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:  # worker: a fresh app after the fork
            code = 0
            try:
                _serve(
                    _with_public_url(cli_app(), host, port),
                    server_settings,
                    sockets=[listener],
                    background_jobs=index == 0,
                )
            except BaseException:  # noqa: BLE001 - log and leave the worker with a failure code
                log.exception("worker %d failed", index)
                code = 1
            os._exit(code)
        children.append(pid)
    listener.close()
    if server_settings["stream_socket"] is not None:
        server_settings["stream_socket"].close()
    _supervise(children)


def _with_public_url(app, host: str, port: int, announce: bool = False):
    """Without PUBLIC_URL, links in mails point at the address served on (and the operator is told)."""
    from hub.deployment import assume_public_url

    assumed = assume_public_url(app, host, port)
    if announce and assumed:
        click.echo(
            f"warning: PUBLIC_URL is not set; links in mails point at {assumed}. Set "
            "TICKETHUB_PUBLIC_URL to the address buyers use (docs/deployment.md).",
            err=True,
        )
    elif announce:
        click.echo(f"links in mails point at {app.config['PUBLIC_URL']} (PUBLIC_URL)")
    return app


def _check_address(host: str, port: int) -> None:
    """A busy port or an unknown host is a one-line error before anything starts."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        socket.create_server((host, port), family=family).close()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None


def _limit_streams(app, threads: int) -> int:
    """Cap the live streams of ``app`` (each holds one of the ``threads``): MAX_STREAMS, or a
    quarter of the threads. Returns the cap; a bad MAX_STREAMS is a one-line error."""
    try:
        limit = stream_limit(int(app.config["MAX_STREAMS"]), threads)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    app.config["MAX_STREAMS"] = limit
    return limit


def _server_settings(app, threads: int, buy_threads: int) -> dict:
    """The waitress set-up from the options and settings; a bad setting is a one-line error."""
    settings = {"threads": threads, "buy_threads": buy_threads}
    for key, least in (("CONNECTION_LIMIT", 1), ("MAX_QUEUED_REQUESTS", 0), ("OVERLOAD_RETRY_SECONDS", 1)):
        value = int(app.config[key])
        if value < least:
            raise click.ClickException(f"{key} must be {least} or more, not {value}")
        settings[key.lower()] = value
    _allow_open_files(settings["connection_limit"])
    return settings


def _allow_open_files(connections: int) -> None:
    """Raise this process's open-file limit to fit CONNECTION_LIMIT (plus database, log and key
    files), as far as the hard limit allows; warn when it does not fit."""
    import resource

    wanted = connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning(
            "CONNECTION_LIMIT=%d needs about %d open files; this process may open only %d", connections, wanted, soft
        )


def _serve(app, settings: dict, background_jobs: bool, **where) -> None:
    from hub.scheduler import start_background_jobs
    from hub.serving import serve
    from hub.streaming import start_stream_server

    settings = dict(settings)
    stream_socket = settings.pop("stream_socket", None)
    _limit_streams(app, settings["threads"])  # a worker's fresh app, too
    if background_jobs:  # only one process runs them: reminders must go out once
        start_background_jobs(app)
    if stream_socket is not None:
        start_stream_server(app, stream_socket)
    serve(app, **settings, **where)


def _supervise(children: list[int]) -> None:
    """Wait for the workers; stop them all on SIGTERM/SIGINT or when one of them dies."""
    stopping = False

    def stop(_signum=None, _frame=None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.remove(pid)
        if not stopping:
            failed = True
            log.error("worker %d exited (status %d); stopping the others", pid, status)
            stop()
    if failed:
        raise SystemExit(1)
