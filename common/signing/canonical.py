"""Signed JSON documents (keyrings, revocation lists).

A document is signed over its canonical JSON form without the ``signature``
member: UTF-8, keys sorted, no insignificant white space, prefixed by a domain
string so that no signature can be replayed as another kind of document.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any


def canonical_bytes(document: dict[str, Any], domain: bytes) -> bytes:
    body = {k: v for k, v in document.items() if k != "signature"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return domain + text.encode("utf-8")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def read_json_document(path: Path, error: type[Exception]) -> Any:
    """Parse a JSON file; raise ``error`` with a readable message when it can't be."""
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise error(f"{path} is not JSON") from None
