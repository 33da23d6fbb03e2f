"""Secret scrubbing: every output path funnels text through here.

Sensitive values are collected from the config and the importers' ``param_spec()`` and registered
in a ``Redactor``; anything printed, logged or saved passes through ``scrub``.  Tokens are also
masked when they appear as ``X-Plex-Token=...`` in URLs, even when we never learnt the value.
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

_URL_TOKEN = re.compile(r"(?i)(x-plex-token|token|password|passwd)=([^&\s'\"]+)")
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
        # each pattern needs its "=" or "@": a text without one (most JSON pages) skips the
        # case-insensitive scan, which costs ~7 ms on a 40 kB page
        if "=" in text:
            text = _URL_TOKEN.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
        if "@" in text:
            text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
        return text


def redact_url(url: str) -> str:
    """Mask the password of a database URL."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", url)
