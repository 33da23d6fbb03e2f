"""A Plex server's change notifications, heard through plexapi's own ``AlertListener``.

PMS pushes ``NotificationContainer`` messages over the websocket ``/:/websockets/notifications``
(``X-Plex-Token`` as for every endpoint).  Library changes arrive as ``timeline`` messages,
one ``TimelineEntry`` per item: ``identifier`` ``com.plexapp.plugins.library``, ``sectionID``
(the section, > 0 for a library item), ``itemID`` (its ratingKey), ``type``, and ``state``
— 0 created, 1…4 matching and fetching metadata, 5 processed, 9 deleted (plexapi's
``AlertListener`` docstring; Tautulli's timeline handler acts on 5).  An entry is worth a
reconcile when it is done (5) or gone (9); the rest of the stream (sessions, activities,
transcodes) says nothing the catalogue holds.

``AlertListener.run`` returns when the socket closes, whoever closed it, and reports errors
(a refused handshake, a reset) through ``callbackError`` only.  This thread runs one listener
after another with a growing delay (1 s … 60 s) and says when it is connected and when it was
lost; it never logs (the watch's loop reports, with the context's redaction) and every message
it hands over is scrubbed of the token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from retrovue.errors import ImporterError
from retrovue.importers.base import StreamState, UpstreamChange

if TYPE_CHECKING:
    from retrovue.importers.plex import PlexImporter

LIBRARY = "com.plexapp.plugins.library"
#: timeline states that mean the item is as it will stay: processed, deleted
DONE, DELETED = 5, 9
#: the reconnect delay doubles from the first to the last
FIRST_DELAY, MAX_DELAY = 1.0, 60.0
#: how often the thread looks whether a new listener's handshake is through
_OPEN_POLL = 0.02


def changes_in(container: dict, now: float) -> list[UpstreamChange]:
    """The library changes one ``NotificationContainer`` names (none for other messages)."""
    if not isinstance(container, dict) or container.get("type") != "timeline":
        return []
    changes = []
    for entry in container.get("TimelineEntry") or ():
        if not isinstance(entry, dict) or entry.get("identifier") != LIBRARY:
            continue
        state = _int(entry.get("state"))
        if state not in (DONE, DELETED):
            continue
        section = _int(entry.get("sectionID"))
        item = entry.get("itemID")
        changes.append(
            UpstreamChange(
                # PMS names no section (-1) for some items: the whole source is re-listed
                str(section) if section is not None and section > 0 else None,
                str(item) if item is not None else None,
                state == DELETED,
                now,
            )
        )
    return changes


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class PlexChangeStream:
    """One thread: an ``AlertListener`` at a time, reconnected with backoff until ``stop``."""

    def __init__(self, importer: PlexImporter) -> None:
        self._importer = importer
        self._stop = threading.Event()
        self._listener = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._emit: Callable[[UpstreamChange | StreamState], None] = lambda _x: None
        self._last_error: str | None = None

    def start(self, emit: Callable[[UpstreamChange | StreamState], None]) -> None:
        self._emit = emit
        self._thread = threading.Thread(target=self._run, name="plex notifications", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            listener = self._listener
        if listener is not None:
            _close(listener)
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        from plexapi.alert import AlertListener

        delay, heard_before = FIRST_DELAY, False
        while not self._stop.is_set():
            self._last_error = None
            try:
                server = self._importer._plex()  # one GET / per importer; reused on reconnects
            except ImporterError as exc:
                self._emit(StreamState(False, f"cannot reach the server: {exc.message}"))
            else:
                listener = AlertListener(server, self._on_message, self._on_error)
                with self._lock:
                    if self._stop.is_set():
                        return
                    self._listener = listener
                listener.start()
                opened = self._watch(listener, heard_before)
                if opened:
                    heard_before, delay = True, FIRST_DELAY
                if self._stop.is_set():
                    return
                self._emit(StreamState(False, self._lost_reason(opened)))
            self._stop.wait(delay)
            delay = min(delay * 2, MAX_DELAY)

    def _watch(self, listener, reconnected: bool) -> bool:
        """Wait for ``listener`` to end; True when its handshake went through (then said)."""
        opened = False
        while listener.is_alive():
            if self._stop.is_set():  # ``stop`` came before the listener had a socket to close
                _close(listener)
            if not opened and _is_open(listener):
                opened = True
                self._emit(StreamState(True, "notifications connected", reconnected))
            # once open, the thread sleeps in join: ``stop`` closes the socket, ending it
            listener.join(_OPEN_POLL if not opened else 1.0)
        return opened

    def _lost_reason(self, opened: bool) -> str:
        error = self._last_error or "the server closed the stream"
        if opened:
            return f"notifications lost: {error}; reconnecting"
        return f"notifications unavailable: {error}; trying again"

    def _on_message(self, container: dict) -> None:
        for change in changes_in(container, time.time()):
            self._emit(change)

    def _on_error(self, error: BaseException) -> None:
        from websocket import WebSocketBadStatusException, WebSocketConnectionClosedException

        status = getattr(error, "status_code", None)
        if isinstance(error, WebSocketConnectionClosedException):  # its status: the close code
            text = "the server closed the stream"
        elif isinstance(error, WebSocketBadStatusException) and status == 401:
            text = "the server rejected the token (401 Unauthorized)"
        elif isinstance(error, WebSocketBadStatusException):
            text = f"the server refused the websocket (HTTP {status})"
        else:  # an OSError: refused, reset, unreachable
            text = f"{type(error).__name__}: {error}"
        self._last_error = self._importer._redactor.scrub(text)[:300]


def _is_open(listener) -> bool:
    """Whether ``listener``'s handshake is through.  ``AlertListener`` gives no open callback:
    its ``WebSocketApp`` (``_ws``, which its own ``stop`` uses) holds the socket, connected once
    the server answered 101."""
    app = listener._ws
    sock = getattr(app, "sock", None) if app is not None else None
    return bool(sock is not None and getattr(sock, "connected", False))


def _close(listener) -> None:
    if listener._ws is None:  # not connecting yet: the thread closes it once it is
        return
    try:
        listener.stop()
    except Exception:  # noqa: BLE001 - a socket already gone is stopped enough
        pass
