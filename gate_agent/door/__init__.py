"""The door page: a full-screen verdict panel served on localhost (Flask + waitress)."""
from .app import create_door_app
from .live import Broadcaster, PreviewBuffer

__all__ = ["Broadcaster", "PreviewBuffer", "create_door_app"]
