"""The door page: a full-screen verdict panel served on localhost (Flask + waitress)."""

from .app import create_door_app
from .live import Broadcaster, PreviewBuffer
from .serve import DoorServer

__all__ = ["Broadcaster", "DoorServer", "PreviewBuffer", "create_door_app"]
