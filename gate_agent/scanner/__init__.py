"""The gate's scanning layer: frame sources, QR decoders and scan debouncing.

with open_source("camera:0", resolution=(1280, 720)) as source:
    decoder, debouncer = make_decoder("zxing"), ScanDebouncer(cooldown_s=2.0)
    for frame in source.frames():
        texts = [frame.text] if frame.text is not None else decoder.decode(frame.image)
        for text in texts:
            if debouncer.accept(text, frame.mono):
                ...  # a new scan
"""

from gate_agent.scanner.debounce import ScanDebouncer
from gate_agent.scanner.decoders import (
    DECODER_NAMES,
    DEFAULT_EXTRA_PASSES_BUDGET_MS,
    Decoder,
    DecoderUnavailable,
    PyzbarDecoder,
    ZxingDecoder,
    bytes_to_text,
    make_decoder,
    to_gray,
)
from gate_agent.scanner.frames import (
    EvdevWedgeSource,
    Frame,
    FrameSource,
    ImageFilesSource,
    KeystrokeText,
    OpenCVCameraSource,
    PicameraSource,
    SourceError,
    VideoFileSource,
    WedgeStreamSource,
    open_source,
    read_image,
)
from gate_agent.scanner.health import CameraHealth

__all__ = [
    "CameraHealth",
    "DECODER_NAMES",
    "DEFAULT_EXTRA_PASSES_BUDGET_MS",
    "Decoder",
    "DecoderUnavailable",
    "EvdevWedgeSource",
    "Frame",
    "FrameSource",
    "ImageFilesSource",
    "KeystrokeText",
    "OpenCVCameraSource",
    "PicameraSource",
    "PyzbarDecoder",
    "ScanDebouncer",
    "SourceError",
    "VideoFileSource",
    "WedgeStreamSource",
    "ZxingDecoder",
    "bytes_to_text",
    "make_decoder",
    "open_source",
    "read_image",
    "to_gray",
]
