"""`gate-agent run`: scan from a camera or other source and show verdicts at the door."""

from __future__ import annotations

import logging
import math
import signal
from pathlib import Path

import click

from ..config import SETTING, parse_exposure, setting_from_env
from ..runner import GateRunner, headless_printer
from ._common import data_dir_option, open_gate

log = logging.getLogger(__name__)
PORT = SETTING["GATE_PORT"]


@click.command("run")
@data_dir_option
@click.option("--camera", help="Camera index (e.g. 0); same as --source camera:N.")
@click.option(
    "--source", "source_spec", help="Frame source: image/video file, folder, stream URL, picamera, stdin or wedge:PATH."
)
@click.option("--decoder", type=click.Choice(["zxing", "pyzbar"]), default="zxing", show_default=True)
@click.option("--headless", is_flag=True, help="No door page: print one JSON line per verdict (default source: stdin).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the door page.")
@click.option("--port", default=PORT.default, show_default=True, envvar=PORT.variable, type=click.IntRange(0, 65535))
@click.option("--resolution", help="Camera resolution, e.g. 1280x720.")
@click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True, max=1000),
    callback=lambda _c, _p, v: _finite_fps(v),
    help="Camera frame rate (or replay rate of files).",
)
@click.option("--loop", is_flag=True, help="Replay a file or folder source forever (demos).")
@click.option(
    "--exposure",
    help="Camera exposure: 1/120 (default, or GATE_EXPOSURE), 8ms, 0.008 or auto. V4L2 and Pi cameras only.",
)
def run_command(
    data_dir: Path, camera, source_spec, decoder, headless, host, port, resolution, fps, loop, exposure
) -> None:
    """Run the gate: scan, decide offline, record, and show each verdict."""
    from ..scanner import (
        CameraHealth,
        EvdevWedgeSource,
        ScanDebouncer,
        SourceError,
        WedgeStreamSource,
        make_decoder,
        open_source,
    )

    if camera and source_spec:
        raise click.UsageError("give --camera or --source, not both")
    spec = f"camera:{camera}" if camera else source_spec or ("stdin" if headless else None)
    size = _parse_resolution(resolution)
    try:
        exposure_s = parse_exposure(exposure) if exposure is not None else setting_from_env("GATE_EXPOSURE")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--exposure") from None
    try:
        motion_fusion = setting_from_env("GATE_MOTION_FUSION")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    gate = open_gate(data_dir)
    try:
        source = open_source(spec, resolution=size, fps=fps, loop=loop, exposure=exposure_s) if spec else None
        scanner_decoder = make_decoder(decoder, motion_fusion=motion_fusion) if source is not None else None
    except (SourceError, RuntimeError, ValueError) as exc:
        gate.close()
        raise click.ClickException(str(exc)) from None
    has_camera = source is not None and not isinstance(source, (WedgeStreamSource, EvdevWedgeSource))
    try:
        gate.offline_after_s = setting_from_env("GATE_OFFLINE_AFTER_S")
        stall_s = setting_from_env("GATE_CAMERA_STALL_S")
        sound = setting_from_env("GATE_SOUND")
        signal_out = _verdict_signal()
    except (ValueError, RuntimeError) as exc:
        if source is not None:
            source.close()
        gate.close()
        raise click.ClickException(str(exc)) from None
    health = CameraHealth(stall_s, live=source.live) if has_camera else None
    # a camera or stream that stops is opened again; a file that ended has nothing more to show
    reopen = (
        (lambda: open_source(spec, resolution=size, fps=fps, loop=loop, exposure=exposure_s))
        if has_camera and source.live
        else None
    )

    preview = server = app = None
    if headless:
        gate.subscribe(headless_printer())
    else:
        from ..door import DoorServer, PreviewBuffer, create_door_app
        from ..door.app import LOOPBACK_HOSTS

        preview = PreviewBuffer()
        hosts = LOOPBACK_HOSTS if host in LOOPBACK_HOSTS else LOOPBACK_HOSTS | {host}
        if host not in LOOPBACK_HOSTS:
            log.warning("the door page is reachable from the network on %s: anyone there can submit codes", host)
        app = create_door_app(
            gate, preview=preview, has_camera=has_camera, camera=health, sound=sound, allowed_hosts=hosts
        )
        try:
            server = DoorServer(app, host, port)
        except OSError as exc:
            if source is not None:
                source.close()
            gate.close()
            raise click.ClickException(f"cannot serve the door page on {host}:{port}: {exc.strerror or exc}") from None
        click.echo(f"door page: {server.url}  ({gate.config.gate_name})")

    door = app.extensions["door"] if app is not None else None
    runner = GateRunner(
        gate,
        source,
        scanner_decoder,
        ScanDebouncer(gate.config.cooldown_s),
        preview=preview,
        health=health,
        reopen=reopen,
        on_camera_change=door.publish_state if door else None,
    )
    from ..peers.service import start_peers
    from ..sync.scheduler import start_sync

    peers = start_peers(gate)  # before sync: the first pull tells the hub where the peers reach this gate
    sync = start_sync(
        gate,
        on_change=door.publish_state if door else None,
        peer_port=peers.port if peers is not None else 0,  # 0: the hub lists no address for this gate
    )
    signal.signal(signal.SIGTERM, lambda *_: runner.stopped.set())
    if signal_out is not None:
        gate.subscribe(signal_out)
    runner.start()
    if server is not None:
        server.start()
    try:
        while not runner.stopped.wait(0.5):
            if headless and runner.source_done.is_set():
                break
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
        if sync is not None:
            sync.stop()
        if signal_out is not None:
            gate.unsubscribe(signal_out)
            signal_out.close()
        if peers is not None:
            peers.stop()
        if app is not None:
            app.extensions["door"].detach()
        if server is not None:
            server.stop()
        gate.close()


def _verdict_signal():
    """GPIO outputs for ADMIT / STOP when GATE_GPIO_*_PIN are set; else None."""
    from ..outputs import VerdictSignal, gpio_pin

    admit, stop = setting_from_env("GATE_GPIO_ADMIT_PIN"), setting_from_env("GATE_GPIO_STOP_PIN")
    if admit is None and stop is None:
        return None
    return VerdictSignal(
        gpio_pin(admit) if admit is not None else None,
        gpio_pin(stop) if stop is not None else None,
        setting_from_env("GATE_GPIO_PULSE_S"),
    )


def _finite_fps(value: float | None) -> float | None:
    if value is not None and math.isnan(value):  # FloatRange lets NaN through
        raise click.BadParameter("must be a number of frames per second", param_hint="--fps")
    return value


def _parse_resolution(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter("use WIDTHxHEIGHT, e.g. 1280x720", param_hint="--resolution") from None
    if not (0 < width <= 16384 and 0 < height <= 16384):
        raise click.BadParameter("width and height must be positive, e.g. 1280x720", param_hint="--resolution")
    return width, height
