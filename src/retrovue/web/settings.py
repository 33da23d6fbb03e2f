"""What a server is started with: its database, config file, address and tokens."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from retrovue.errors import UsageError

DEFAULT_BIND = "127.0.0.1:8765"


@dataclass(frozen=True)
class ServeSettings:
    db_url: str | None = None
    test_db: bool = False
    config_file: str | None = None  # what POST /api/v1/plan plans (else $RETROVUE_CONFIG, …)
    host: str = "127.0.0.1"
    port: int = 8765
    #: the read-write and the read-only token; None: none of that kind
    token: str | None = None
    readonly_token: str | None = None

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def needs_token(self) -> bool:
        """Every request must carry a token: always off loopback, and on it once one is set."""
        return not self.loopback or self.token is not None or self.readonly_token is not None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_bind(bind: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8765`` for IPv6) as its host and port."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"Invalid value for '--bind': {bind!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def tokens(env: dict | os._Environ, token_file: str | None) -> tuple[str | None, str | None]:
    """(read-write, read-only) tokens: RETROVUE_API_TOKEN and RETROVUE_API_TOKEN_READONLY, or a
    file of ``KEY=VALUE`` lines with those keys (a token of a single line is the read-write one)."""
    found = {
        "RETROVUE_API_TOKEN": env.get("RETROVUE_API_TOKEN") or None,
        "RETROVUE_API_TOKEN_READONLY": env.get("RETROVUE_API_TOKEN_READONLY") or None,
    }
    if token_file is not None:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"Cannot read --token-file {token_file}: {exc.strerror}") from None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) == 1 and "=" not in lines[0]:
            found["RETROVUE_API_TOKEN"] = lines[0]
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and key.strip() in found:
                found[key.strip()] = value.strip() or None
    for name, value in found.items():
        if value is not None and len(value) < 16:
            raise UsageError(f"{name} is too short: a token needs at least 16 characters")
    return found["RETROVUE_API_TOKEN"], found["RETROVUE_API_TOKEN_READONLY"]


def settings_for(
    bind: str,
    *,
    db_url: str | None,
    test_db: bool,
    config_file: str | None,
    token_file: str | None,
    env,
) -> ServeSettings:
    host, port = parse_bind(bind)
    token, readonly = tokens(env, token_file)
    settings = ServeSettings(db_url, test_db, config_file, host, port, token, readonly)
    if not settings.loopback and token is None and readonly is None:
        raise UsageError(
            f"Refusing to serve on {host}, which is not a loopback address, without a token",
            hint="Set RETROVUE_API_TOKEN (and/or RETROVUE_API_TOKEN_READONLY) or give "
            "--token-file; or bind to 127.0.0.1.",
        )
    return settings
