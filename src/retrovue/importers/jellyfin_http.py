"""A small typed JSON reader of the Jellyfin/Emby HTTP API over ``requests``.

Why not a client library: ``jellyfin-apiclient-python`` is built around a user session (log in,
device id, websocket) and swallows HTTP errors into ``None``; the generated OpenAPI clients cover
hundreds of endpoints to use four, and neither serves Emby.  Four GETs with typed errors are
less code than adapting either, and ``requests`` is installed already (another importer's
client library depends on it).

Every failure becomes one of the importer errors of ``retrovue.errors``, raised outside the
``except`` block (no chained traceback can carry a URL), with the server named and the API key
never in the message: it travels in a header only, and the redactor scrubs anything echoed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from retrovue.errors import (
    ImporterAuthError,
    ImporterError,
    ImporterResponseError,
    ImporterUnreachableError,
)
from retrovue.redact import Redactor

#: how much of an unexpected answer a message quotes
_SNIPPET = 120


class ApiReader:
    """GET JSON from one server; ``where`` names it in every message."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        where: str,
        verify: bool,
        timeout: float,
        redactor: Redactor,
    ):
        self.base_url = base_url
        self.where = where
        self.timeout = timeout
        self._redactor = redactor
        self._session = requests.Session()
        self._session.verify = verify
        self._session.headers.update({"Accept": "application/json", **headers})

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        what: str,
        not_found: type[ImporterError] = ImporterResponseError,
    ) -> Any:
        """The decoded JSON of ``GET base_url + path``; raises the typed importer errors."""
        try:
            response = self._session.get(
                self.base_url + path, params=dict(params or {}), timeout=self.timeout
            )
            error = self._status_error(response, what, not_found)
            if error is None:
                return self._decoded(response, what)
        except requests.RequestException as exc:
            error = self._transport_error(exc, what)
        raise error

    def _status_error(
        self, response: requests.Response, what: str, not_found: type[ImporterError]
    ) -> ImporterError | None:
        status = response.status_code
        if status < 300:
            return None
        if status in (401, 403):
            return ImporterAuthError(
                f"{self.where} rejected the API key ({status} {response.reason}) during {what}",
                hint="check the source's api_key (an API key the server's dashboard lists)",
            )
        if status == 404:
            return not_found(f"{self.where} answered 404 Not Found during {what}")
        return ImporterResponseError(
            f"{self.where} answered {status} {response.reason} during {what}"
            + self._body_note(response)
        )

    def _decoded(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:  # requests' JSONDecodeError is a ValueError
            pass
        # raised here, outside the except block: the decoder's error is no context of it
        raise ImporterResponseError(
            f"{self.where} sent an answer that is not JSON during {what}"
            + self._body_note(response)
        )

    def _body_note(self, response: requests.Response) -> str:
        """What came back instead, in a few words: an HTML page is a proxy's, usually; a JSON
        error document says nothing more than its status; anything else is quoted, shortened
        and scrubbed (repr: no control character reaches a terminal)."""
        text = response.text[:4096] if response.content else ""
        if "<html" in text.lower() or "html" in response.headers.get("Content-Type", ""):
            return " (an HTML page: a reverse proxy's login or error page?)"
        if "json" in response.headers.get("Content-Type", "") and response.status_code >= 300:
            return ""
        snippet = " ".join(text.split())[:_SNIPPET]
        return f": {self._redactor.scrub(snippet)!r}" if snippet else ""

    def _transport_error(self, exc: requests.RequestException, what: str) -> ImporterError:
        detail = self._redactor.scrub(str(exc))[:300]
        if isinstance(exc, requests.Timeout):
            return ImporterUnreachableError(
                f"{self.where} did not answer within {self.timeout:g} s during {what}"
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return ImporterUnreachableError(
                f"{self.where}: TLS error during {what}: {detail}",
                hint="see the source's verify_ssl",
            )
        if isinstance(
            exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
        ):
            return ImporterResponseError(f"{self.where} broke off its answer during {what}")
        return ImporterUnreachableError(f"{self.where} is unreachable during {what}: {detail}")
