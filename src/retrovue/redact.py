"""Secret scrubbing: every output path funnels text through here.

Sensitive values are collected from the config and the importers' ``param_spec()`` and registered
in a ``Redactor``; anything printed, logged or saved passes through ``scrub``.  Tokens are also
masked when they appear as ``X-Plex-Token=...`` or ``api_key=...`` in URLs, as a
``MediaBrowser Token="..."`` authorization header or an ``X-Emby-Token: ...`` header line, even
when we never learnt the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# the placeholder is part of the plan wire format, which lives in the leaf model package (with
# the actions: the codec is loaded only by commands that write or read JSON plans)
# the model's own constant, from a module that loads no dataclasses (`--version` and completion
# import this; the actions module costs ~20 ms to define)
from retrovue.model.sensitive import SENSITIVE_SHOWN as SENSITIVE_SHOWN

REDACTED = "***REDACTED***"

_URL_TOKEN = re.compile(
    r"(?i)(x-plex-token|x-emby-token|token|password|passwd|api_key|apikey)=([^&\s'\"]+)"
)
#: ``Authorization: MediaBrowser Token="…"`` (and ``Emby Token="…"``): a quoted value
_HEADER_TOKEN = re.compile(r'(?i)\b(token)="([^"]*)"')
#: ``X-Emby-Token: …`` / ``X-MediaBrowser-Token: …`` / ``X-Plex-Token: …`` as a header line, or
#: as a printed headers dict (``'X-Emby-Token': '…'``)
_HEADER_LINE = re.compile(
    r"(?i)\b(x-(?:emby|mediabrowser|plex)-token)(['\"]?\s*:\s*['\"]?)([^\s,'\"}]+)"
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@/\s]+)(@)")


@dataclass
class Redactor:
    secrets: set[str] = field(default_factory=set)

    def add(self, value: object) -> None:
        if isinstance(value, str) and len(value) >= 3:
            self.secrets.add(value)

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        # the URL and Token="…" patterns need their "=", the password one its "@": a text without
        # them (most JSON pages) skips those case-insensitive scans (~7 ms on a 40 kB page)
        if "=" in text:
            text = _URL_TOKEN.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
            text = _HEADER_TOKEN.sub(lambda m: f'{m.group(1)}="{REDACTED}"', text)
        if "-token" in text.lower():
            text = _HEADER_LINE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        if "@" in text:
            text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
        return text


def redact_url(url: str) -> str:
    """Mask the password of a database URL."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", url)
