"""Digests of observed state and of secrets: saved plans record them, apply compares them.

One length and one canonical form everywhere, so two fingerprints of the same thing always agree.
Whatever may hold a secret (a secret itself, a stored source row with its config) is digested
with the database's key (HMAC): a bare hash of a token could be checked offline against guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from retrovue.model.time import as_utc

PREFIX = "sha256:"
KEYED_PREFIX = "hmac-sha256:"
HEX_DIGITS = 32


def digest_text(text: str) -> str:
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:HEX_DIGITS]


def keyed_digest_text(key: bytes, text: str) -> str:
    mac = hmac.new(key, text.encode("utf-8"), hashlib.sha256)
    return KEYED_PREFIX + mac.hexdigest()[:HEX_DIGITS]


def digest_value(value: Any) -> str:
    """A digest of JSON-like data, independent of key order and of the backend's datetimes."""
    return digest_text(canonical_json(value))


def keyed_digest_value(key: bytes, value: Any) -> str:
    return keyed_digest_text(key, canonical_json(value))


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_plain, separators=(",", ":"))


class AssetDigest:
    """A digest of a collection's stored assets (the columns a plan compares), fed rows
    ``(source_uri, id, change_token, canonical_uri, missing)`` in ``source_uri`` order a batch at
    a time (``observe.db`` reads them so, and never holds them all)."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def update(self, rows: Iterable[tuple]) -> None:
        update = self._digest.update
        for uri, _id, token, canonical, missing in rows:
            update(f"{uri}\0{token}\0{canonical}\0{missing}\n".encode())

    def hexdigest(self) -> str:
        return PREFIX + self._digest.hexdigest()[:HEX_DIGITS]


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return str(value)
