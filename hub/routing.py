"""URL converters shared by every blueprint."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter


class DatabaseId(IntegerConverter):
    """`<int:...>` in every route: ids beyond a 64-bit database integer are simply not
    found (404), instead of overflowing the database driver (500)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)
