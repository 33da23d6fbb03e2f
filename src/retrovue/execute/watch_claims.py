"""Watch claims: at most one `retrovue watch` per source, whichever machine it runs on.

The write locks (``execute/lock.py``) only make writers of one source take turns; two watches of
the same source would then both reconcile it forever, each undoing nothing but doubling the
work and the noise.  A watch therefore claims each source it watches for its whole life, and a
second watch whose sources overlap is refused at start, naming the holder.  `apply` and the
imperative commands never look at claims: they coordinate with a watch through the write locks.

The mechanism, chosen for both backends alike: a row per source in ``watch_claims`` with a lease
(``lease_until``), renewed by the running watch every third of its lease from a thread of its
own (a reconcile may run for minutes).  A claim whose lease ran out is taken over; so is one
whose holder is on this host and its pid is gone (a SIGKILLed watch's sources are free at
once).  PostgreSQL's session advisory locks would free a dead holder's claim sooner on another
machine, but SQLite has no equivalent, and one mechanism means one set of rules to test; the
row also carries what the refusal and `retrovue status` show (host, pid, since when).  The
lease assumes the hosts sharing a database agree on the time within a few seconds, as the
SQLite write lock's heartbeat does.

Each watch run has a token: a renewal only extends rows that still carry it, so a watch that
was frozen past its lease (a suspended VM, SIGSTOP) and then woke finds its claim gone and
stops watching that source instead of fighting the watch that took it over.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from retrovue.database.failures import database_error, describe
from retrovue.database.tables import WatchClaim
from retrovue.errors import WatchClaimedError
from retrovue.execute.lock import pid_alive
from retrovue.logs import get_logger
from retrovue.model.time import as_utc

log = get_logger("retrovue.watch.claims")

#: how long a claim outlives a watch that stopped renewing it (killed on another machine)
LEASE_SECONDS = 60.0


def claim_key(source_name: str) -> str:
    return source_name.casefold()


@dataclass(frozen=True)
class ClaimInfo:
    source: str
    holder: str
    host: str
    pid: int
    command: str
    started_at: datetime
    lease_until: datetime
    token: str = ""

    def describe(self) -> str:
        since = self.started_at.isoformat(timespec="seconds")
        return f"{self.holder} on {self.host} (pid {self.pid}) watching since {since}"

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "command": self.command,
            "started_at": self.started_at.isoformat(),
            "lease_until": self.lease_until.isoformat(),
        }


def _info(row) -> ClaimInfo:
    return ClaimInfo(
        row.source_name,
        row.holder,
        row.host,
        row.pid,
        row.command,
        as_utc(row.started_at),
        as_utc(row.lease_until),
        row.token,
    )


def is_live(info: ClaimInfo, now: datetime | None = None) -> bool:
    """Is the holder still watching?  Gone: its lease ran out, or its pid is gone on this host."""
    now = now or datetime.now(UTC)
    if info.lease_until < now:
        return False
    return not (info.host == socket.gethostname() and not pid_alive(info.pid))


def live_claims(engine: Engine) -> dict[str, ClaimInfo]:
    """Every live claim, by claim key (``claim_key`` of the source's name)."""
    now = datetime.now(UTC)
    with engine.connect() as conn:
        rows = conn.execute(select(WatchClaim)).all()
    return {r.source_key: i for r in rows if is_live(i := _info(r), now)}


def refusal(claimed: dict[str, ClaimInfo]) -> WatchClaimedError:
    """The error of a watch whose sources another watch holds."""
    parts = [f'source "{i.source}" by {i.describe()}' for i in claimed.values()]
    return WatchClaimedError(
        "another retrovue watch already watches " + "; ".join(parts),
        hint="give each watch its own sources (one config per NAS); `retrovue status` shows "
        "which watch holds each source, and a watch that died lets go once its lease runs out",
        context={"claims": [i.to_json() for i in claimed.values()]},
    )


class WatchClaims:
    """The claims of one watch run; ``start`` renews them in the background until ``close``."""

    def __init__(
        self,
        engine: Engine,
        command: str,
        lease: float = LEASE_SECONDS,
        on_lost: Callable[[list[str]], None] = lambda _names: None,
    ) -> None:
        self.engine = engine
        self.lease = max(lease, 1.0)
        self.on_lost = on_lost
        self.token = uuid.uuid4().hex
        try:
            holder = getpass.getuser()
        except Exception:  # noqa: BLE001 - no passwd entry in some containers
            holder = f"uid {os.getuid()}"
        self.me = {
            "token": self.token,
            "holder": holder,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "command": command[:1000],
            "started_at": datetime.now(UTC),
        }
        self._held: dict[str, str] = {}  # key -> source name
        self._mutex = threading.Lock()  # the renewal thread and the loop both touch _held
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def held(self) -> set[str]:
        with self._mutex:
            return set(self._held.values())

    def claim_all(self, names: Iterable[str]) -> None:
        """Claim every source or none: raise ``WatchClaimedError`` naming each held by another
        live watch (the watch then starts nothing)."""
        wanted = {claim_key(n): n for n in names}
        refused = self._claim(wanted)
        if refused:
            raise refusal(refused)

    def claim_each(self, names: Iterable[str]) -> dict[str, ClaimInfo]:
        """Claim each source on its own (a config reload): the ones another watch holds are
        returned, by source name; the others are ours."""
        refused: dict[str, ClaimInfo] = {}
        for name in names:
            if claim_key(name) not in self._held:
                refused.update(self._claim({claim_key(name): name}))
        return {i.source: i for i in refused.values()}

    def release(self, names: Iterable[str]) -> None:
        keys = [claim_key(n) for n in names]
        with self._mutex:
            keys = [k for k in keys if self._held.pop(k, None) is not None]
        self._delete(keys)

    def _claim(self, wanted: dict[str, str]) -> dict[str, ClaimInfo]:
        """Insert our rows for ``wanted`` (key -> name) in one transaction, taking over dead
        holders' rows; returns the live holders in the way (then nothing was claimed)."""
        if not wanted:
            return {}
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(WatchClaim).where(WatchClaim.c.source_key.in_(list(wanted)))
                ).all()
                infos = {r.source_key: _info(r) for r in rows}
                live = {k: i for k, i in infos.items() if i.token != self.token and is_live(i, now)}
                if live:
                    return live
                for key, info in infos.items():
                    # only the exact run judged dead, and still expired: a holder that renewed
                    # meanwhile keeps its claim (our insert then fails, and we refuse)
                    conn.execute(
                        delete(WatchClaim).where(
                            WatchClaim.c.source_key == key, WatchClaim.c.token == info.token
                        )
                    )
                    if info.token != self.token:
                        log.warning(
                            "took over the claim of a watch that is gone",
                            source=info.source,
                            holder=info.describe(),
                        )
                lease_until = now + timedelta(seconds=self.lease)
                conn.execute(
                    insert(WatchClaim),
                    [
                        {**self.me, "source_key": k, "source_name": n, "lease_until": lease_until}
                        for k, n in wanted.items()
                    ],
                )
        except IntegrityError:
            # another watch inserted between our look and our insert: it is the holder
            return {k: i for k, i in live_claims(self.engine).items() if k in wanted} or {
                k: self._unknown(n) for k, n in wanted.items()
            }
        except SQLAlchemyError as exc:
            raise database_error(exc, self.engine.url) from exc
        with self._mutex:
            self._held.update(wanted)
        return {}

    def _unknown(self, name: str) -> ClaimInfo:
        now = datetime.now(UTC)
        return ClaimInfo(name, "another retrovue watch", "?", 0, "?", now, now)

    def renew(self) -> list[str]:
        """Extend our leases; returns the names of sources whose claim is no longer ours
        (taken over while we could not renew), which are then dropped."""
        with self._mutex:
            held = dict(self._held)
        if not held:
            return []
        lease_until = datetime.now(UTC) + timedelta(seconds=self.lease)
        with self.engine.begin() as conn:
            conn.execute(
                update(WatchClaim)
                .where(WatchClaim.c.token == self.token, WatchClaim.c.source_key.in_(list(held)))
                .values(lease_until=lease_until)
            )
            ours = set(
                conn.execute(
                    select(WatchClaim.c.source_key).where(WatchClaim.c.token == self.token)
                ).scalars()
            )
        lost = [name for key, name in held.items() if key not in ours]
        if lost:
            with self._mutex:
                for key in held:
                    if key not in ours:
                        self._held.pop(key, None)
        return lost

    def start(self) -> WatchClaims:
        self._thread = threading.Thread(target=self._renew_loop, name="watch-claims", daemon=True)
        self._thread.start()
        return self

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                lost = self.renew()
            except Exception as exc:  # noqa: BLE001 - the database may be away: try again
                log.warning("could not renew the watch's claims", error=describe(exc))
                continue
            if lost:
                self.on_lost(lost)

    def close(self) -> None:
        """Stop renewing and let every claim go at once (a clean stop frees the sources for
        another watch without waiting for the lease)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._mutex:
            keys, self._held = list(self._held), {}
        self._delete(keys)

    def _delete(self, keys: list[str]) -> None:
        if not keys:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(WatchClaim).where(
                        WatchClaim.c.token == self.token, WatchClaim.c.source_key.in_(keys)
                    )
                )
        except Exception as exc:  # noqa: BLE001 - never replace the outcome; the lease expires
            log.warning("could not release the watch's claims", error=describe(exc))
