"""Schemathesis hooks for tests/hub/test_api_schemathesis.py (loaded by `st run` via SCHEMATHESIS_HOOKS).

A gate signs each push body with its own Ed25519 key; without a valid
X-Device-Signature every generated push stops at 401 bad_signature. This hook
serializes the generated body itself, signs exactly those bytes with the
enrolled test device's key (base64 in SCHEMATHESIS_DEVICE_KEY) and sends them,
so the batch validation and ingest behind the signature are exercised too.
"""

from __future__ import annotations

import base64
import json
import os

import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.protocol import PUSH_DOMAIN, SIGNATURE_HEADER

PUSH_PATH = "/api/v1/sync/push"
_KEY = Ed25519PrivateKey.from_private_bytes(base64.b64decode(os.environ["SCHEMATHESIS_DEVICE_KEY"]))


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != PUSH_PATH:
        return
    try:
        raw = json.dumps(case.body).encode("utf-8")
    except TypeError:  # no JSON body (NotSet, bytes): the server refuses it as it is
        return
    kwargs["data"] = raw
    # signed even when a negative case left the header out: the refusal of a bad or missing
    # signature has its own tests (tests/hub/test_sync.py); here the batch behind it is probed
    case.headers = {**(case.headers or {})}
    case.headers[SIGNATURE_HEADER] = base64.b64encode(_KEY.sign(PUSH_DOMAIN + raw)).decode("ascii")
