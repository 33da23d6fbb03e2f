"""The fake Plex server's notification websocket: a minimal RFC 6455 server side, by hand.

Only what plexapi's ``AlertListener`` (through ``websocket-client``) needs: the opening
handshake (``Sec-WebSocket-Accept``), unfragmented text frames from the server, ping → pong,
and the closing handshake.  Client frames are masked (RFC 6455 §5.3); the server's are not.

The message shapes follow what real servers send, as public clients read them:

- ``timeline`` / ``TimelineEntry``: the field names (``identifier``, ``itemID``, ``sectionID``,
  ``type``, ``title``, ``state``, ``metadataState``, ``updatedAt``) from jrudio/go-plex-client
  ``websocket_client.go`` (``TimelineEntry``); the ``state`` values (0 created, 5 processed,
  9 deleted) from python-plexapi ``plexapi/alert.py`` (``AlertListener`` docstring) and
  Tautulli ``plexpy/activity_handler.py`` (``TimelineHandler.process``: ``state == 5`` "done
  processing metadata", ``sectionID > 0`` for library items, ``metadataState == "created"``);
  ``itemID`` as a string, as the C# client tests of the same stream send it.
- ``activity`` / ``ActivityNotification``: ``event``, ``uuid`` and ``Activity`` (``type``
  ``library.update.section``, ``title``, ``subtitle``, ``progress``, ``cancellable``,
  ``userID``) from go-plex-client's ``ActivityNotification`` and a TypeScript client's
  ``ActivityNotification`` type; the ``Context.librarySectionID`` of a section scan is how
  PMS names the section it scans.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time
import uuid

NOTIFICATIONS_PATH = "/:/websockets/notifications"
#: RFC 6455 §1.3: the key is concatenated with this GUID, SHA-1 hashed, base64 encoded
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()


def timeline_entry(section_key: str, rating_key: int, kind: str, attrs: dict, state: int) -> dict:
    type_number = {"movie": 1, "show": 2, "season": 3, "episode": 4}.get(kind, 1)
    return {
        "identifier": "com.plexapp.plugins.library",
        "sectionID": int(section_key),
        "itemID": str(rating_key),
        "type": type_number,
        "title": str(attrs.get("title", "")),
        "state": state,
        "metadataState": "deleted" if state == 9 else "created",
        "updatedAt": int(time.time()),
    }


def activity(section_key: str, title: str, event: str) -> dict:
    uid = str(uuid.uuid4())
    return {
        "NotificationContainer": {
            "type": "activity",
            "size": 1,
            "ActivityNotification": [
                {
                    "event": event,
                    "uuid": uid,
                    "Activity": {
                        "uuid": uid,
                        "type": "library.update.section",
                        "cancellable": False,
                        "userID": 1,
                        "title": f"Scanning {title}",
                        "subtitle": "",
                        "progress": 100 if event == "ended" else 0,
                        "Context": {"librarySectionID": str(section_key)},
                    },
                }
            ],
        }
    }


class _Connection:
    def __init__(self, sock: socket.socket, rfile) -> None:
        self.sock = sock
        self.rfile = rfile
        self._send = threading.Lock()
        self.closed = False

    def send(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        with self._send:
            self.sock.sendall(head + payload)

    def read(self) -> tuple[int, bytes] | None:
        """One frame (opcode, unmasked payload); None at the end of the stream."""
        head = self.rfile.read(2)
        if len(head) < 2:
            return None
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.rfile.read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.rfile.read(8))
        mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
        data = self.rfile.read(length)
        return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    def close(self, abrupt: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if not abrupt:
                self.send(CLOSE, struct.pack("!H", 1000))  # 1000: normal closure
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Notifications:
    """The connected listeners; ``serve`` runs in the HTTP handler's own thread."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._open: list[_Connection] = []
        self.accepted = 0  # handshakes completed, ever (a reconnect counts again)

    def serve(self, handler) -> None:
        """Complete the handshake of ``handler``'s upgrade request, then answer the client's
        frames until either side closes."""
        key = handler.headers["Sec-WebSocket-Key"]
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept_key(key))
        handler.end_headers()
        handler.wfile.flush()
        conn = _Connection(handler.connection, handler.rfile)
        with self._lock:
            self._open.append(conn)
            self.accepted += 1
            self._lock.notify_all()
        try:
            while not conn.closed:
                frame = conn.read()
                if frame is None:
                    break
                opcode, payload = frame
                if opcode == PING:
                    conn.send(PONG, payload)
                elif opcode == CLOSE:  # the client closes: answer, as §5.5.1 asks
                    conn.close()
                    break
        except (OSError, struct.error):
            pass
        finally:
            conn.closed = True
            with self._lock:
                if conn in self._open:
                    self._open.remove(conn)
                self._lock.notify_all()

    def send(self, message: dict) -> int:
        payload = json.dumps(message).encode()
        with self._lock:
            conns = list(self._open)
        sent = 0
        for conn in conns:
            try:
                conn.send(TEXT, payload)
                sent += 1
            except OSError:
                conn.close(abrupt=True)
        return sent

    def ping(self) -> None:
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            conn.send(PING, b"fake")

    def close_all(self, abrupt: bool = False) -> None:
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            conn.close(abrupt)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` listeners are connected."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._open) >= count, timeout)

    @property
    def connected(self) -> int:
        with self._lock:
            return len(self._open)
