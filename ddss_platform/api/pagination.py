"""Opaque keyset cursors: the sort key of the last row of a page, base64url-encoded JSON.

A page asks the store for rows strictly after that key in a total order, so pages neither repeat nor
skip rows, however the data changes between requests (a row that moves is seen where it is at the
time its page is read). The client treats the cursor as opaque; a cursor that does not decode, or
whose parts have the wrong types, is a 422.
"""

from __future__ import annotations

import base64
import binascii
import json

from ddss_platform.api.params import unprocessable

_VERSION = 1


def encode_cursor(key: tuple) -> str:
    raw = json.dumps([_VERSION, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, types: tuple[type, ...]) -> tuple:
    """The key inside ``cursor``; each part must be an instance of the matching entry of ``types``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, *key = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        unprocessable("cursor", "the cursor is not one this API returned")
    if version != _VERSION or len(key) != len(types):
        unprocessable("cursor", "the cursor is not one this API returned")
    parts = []
    for value, kind in zip(key, types):
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            unprocessable("cursor", "the cursor is not one this API returned")
        parts.append(value)
    return tuple(parts)
