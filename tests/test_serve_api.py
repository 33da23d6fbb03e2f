"""Issue 22: `retrovue serve`'s JSON API over the CLI's use cases, on SQLite and PostgreSQL:
every endpoint, its errors (the CLI's codes with a fitting HTTP status) and its auth rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from retrovue.database.engine import DatabaseTarget, open_database
from retrovue.database.tables import Asset
from retrovue.errors import UsageError
from retrovue.web.settings import settings_for
from tests.conftest import _fresh_pg, _pg_admin_engine
from tests.serve_helpers import build_catalogue, client

API = "/api/v1"
RW = "rw-token-0123456789abcdef"
RO = "ro-token-0123456789abcdef"


@pytest.fixture
def cat(rv, db_url, engine, tmp_path):
    return build_catalogue(rv, db_url, engine, tmp_path)


@pytest.fixture
def api(cat):
    with client(cat) as c:
        yield c


def _approved(engine, asset_id: str) -> bool:
    with engine.connect() as conn:
        rows = conn.execute(select(Asset.c.id, Asset.c.approved_for_broadcast)).all()
    return {str(i): a for i, a in rows}[asset_id]


# -- reads -------------------------------------------------------------------------------------


def test_sources_and_one_source(api):
    listed = api.get(f"{API}/sources").json()
    assert [s["name"] for s in listed["sources"]] == ["Library"]
    shown = api.get(f"{API}/sources/Library").json()
    assert sorted(c["name"] for c in shown["collections"]) == ["movies", "shows"]


def test_collections_and_a_collections_counts_failures_and_histograms(api, cat):
    names = [c["name"] for c in api.get(f"{API}/collections").json()["collections"]]
    assert names == ["movies", "shows"]
    movies = api.get(f"{API}/collections/{cat.movies}").json()
    assert movies["states"] == {"new": 1, "ready": 2}
    assert [f["code"] for f in movies["failures"]] == ["PROBE_FAILED"]
    assert movies["failures"][0]["message"] == "not a media file"
    # fixed bins: 0-3 h by 9 minutes (117 min: bin 13, 170 min: bin 18), -50..-10 LUFS by 2 LU
    # (-23: bin 13, -16.5: bin 16), counted in SQL the same way on both backends
    duration = movies["histograms"]["duration_ms"]
    assert duration["low"] == 0 and duration["width"] == 9 * 60_000
    assert [i for i, n in enumerate(duration["counts"]) if n] == [13, 18]
    loudness = movies["histograms"]["loudness_lufs"]
    assert loudness["low"] == -50 and [i for i, n in enumerate(loudness["counts"]) if n] == [13, 16]


def test_assets_filter_by_state_kind_missing_collection_and_text(api, cat):
    def titles(**params):
        page = api.get(f"{API}/assets", params=params).json()
        return sorted(a["title"] for a in page["assets"])

    assert titles() == ["Alien", "Brazil", "Heat", "Show"]
    assert titles(state="ready") == ["Alien", "Heat"]
    assert titles(kind="episode") == ["Show"]
    assert titles(collection=cat.movies, q="EA") == ["Heat"]
    assert titles(q="show") == ["Show"]  # the series title counts too
    assert titles(q="%") == []  # a wildcard of LIKE matches itself only
    assert titles(missing="true") == []
    assert titles(missing="false", collection="shows") == ["Show"]


def test_assets_page_on_with_the_keyset_in_the_listing_order(api):
    everything = [a["id"] for a in api.get(f"{API}/assets").json()["assets"]]
    walked, after = [], None
    while True:
        page = api.get(
            f"{API}/assets", params={"limit": 1, "after": after} if after else {"limit": 1}
        ).json()
        walked += [a["id"] for a in page["assets"]]
        after = page["next_after"]
        if after is None:
            break
    assert walked == everything and len(walked) == 4


def test_a_page_by_collection_id_is_the_page_by_its_name(api, cat, db_url, engine, monkeypatch):
    """On PostgreSQL a page of a collection named by its id is read on the event loop
    (``observe.async_pages``); by its name it takes the thread pool's full path.  Under every
    filter, page after page, the documents are the same, the empty last page included (which the
    event loop hands to the full path to tell why it is empty), and a time written in UTC
    whatever the database's sessions' zone (the loop's are set to UTC, the pool's are not)."""
    import datetime as dt

    from sqlalchemy import update
    from sqlalchemy.engine import make_url

    from retrovue.observe.async_pages import AsyncPages

    with engine.begin() as conn:
        gone = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
        conn.execute(update(Asset).where(Asset.c.title == "Brazil").values(missing_since=gone))
    if "postgresql" in db_url:  # the server's sessions, opened by the first request below
        name = make_url(db_url).database
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET timezone TO 'America/New_York'")

    read_on_the_loop = []
    original = AsyncPages.collection_page

    async def counted(self, *args):
        page = await original(self, *args)
        read_on_the_loop.append(bool(page.assets))
        return page

    monkeypatch.setattr(AsyncPages, "collection_page", counted)

    def walk(selector: str, **params) -> list[dict]:
        pages, after = [], None
        while True:
            given = {"collection": selector, "limit": 1, "after": after, **params}
            response = api.get(f"{API}/assets", params={k: v for k, v in given.items() if v})
            assert response.status_code == 200, response.text
            pages.append(response.json())
            after = pages[-1]["next_after"]
            if after is None:
                return pages

    cases = [{}, {"state": "ready"}, {"approved": "false", "missing": "false"}, {"q": "EA"}]
    cases += [{"kind": "movie", "q": "%"}, {"missing": "true"}]
    for params in cases:
        read_on_the_loop.clear()
        by_id = walk(cat.movies, **params)
        on_the_loop = list(read_on_the_loop)
        assert by_id == walk("movies", **params), params
        if "postgresql" in db_url:
            # one read per page on the loop; only an empty one also went the full way
            assert on_the_loop == [bool(p["assets"]) for p in by_id], params
        else:
            assert read_on_the_loop == [], "SQLite reads on the thread pool"
    assert [len(walk(cat.movies, **c)) for c in cases] == [3, 2, 2, 1, 1, 1]
    missing = walk(cat.movies, missing="true")[0]["assets"]
    assert [(a["title"], a["missing_since"]) for a in missing] == [
        ("Brazil", "2026-01-02T03:04:05+00:00")
    ]


@pytest.fixture
def pg_cat(request, rv, tmp_path):
    """The catalogue on PostgreSQL only: where pages are read on the event loop."""
    pg_url = _fresh_pg(request)
    engine = open_database(DatabaseTarget(pg_url, False))
    request.addfinalizer(engine.dispose)
    return build_catalogue(rv, pg_url, engine, tmp_path), engine


@pytest.mark.postgres
def test_a_page_read_on_the_loop_outlives_its_sessions_ended_by_the_server(pg_cat):
    """Sessions the server ended (a restart, an idle timeout) are dropped by the event loop's
    pool and the page is read again on a new one: the client sees the page, not an error."""
    cat, engine = pg_cat
    with client(cat) as api:
        params = {"collection": cat.movies, "limit": 2}
        first = api.get(f"{API}/assets", params=params).json()
        with engine.connect() as conn:
            ended = conn.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).scalar_one()
            conn.commit()
        assert ended >= 1
        again = api.get(f"{API}/assets", params=params)
        assert again.status_code == 200, again.text
        assert again.json() == first


@pytest.mark.postgres
def test_a_page_read_on_the_loop_without_its_database_is_the_database_error(pg_cat):
    """Sessions ended and no new one allowed: after the one retry and the pool's wait for a
    connection, the client gets the CLI's database error (503, its code, the database named),
    not a 500 or a traceback."""
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import make_url

    from retrovue.web.app import create_app
    from retrovue.web.settings import ServeSettings

    cat, _ = pg_cat
    name = make_url(cat.db_url).database
    app = create_app(ServeSettings(db_url=cat.db_url, config_file=cat.config))
    # as a server answers: the error handler's response, not the exception re-raised to the test
    with TestClient(app, base_url="http://127.0.0.1:8765", raise_server_exceptions=False) as api:
        params = {"collection": cat.movies, "limit": 2}
        assert api.get(f"{API}/assets", params=params).status_code == 200
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
        try:
            gone = api.get(f"{API}/assets", params=params)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.dispose()
        assert gone.status_code == 503, gone.text
        assert gone.json()["code"] == "DATABASE_ERROR"
        assert name in gone.json()["message"], gone.json()
        assert "Traceback" not in gone.text


@pytest.mark.postgres
def test_pages_on_an_event_loop_other_than_the_pools_are_read_on_the_thread_pool(
    pg_cat, monkeypatch
):
    """The event loop's connections belong to the loop that opened them; a test client run
    without its lifespan serves each request on a loop of its own, which then reads on the
    thread pool, not through another loop's connections (which may work, or hang)."""
    import threading

    from retrovue.observe.async_pages import AsyncPages

    on_the_loop = []
    original = AsyncPages.collection_page

    async def counted(self, *args):
        on_the_loop.append(1)
        return await original(self, *args)

    monkeypatch.setattr(AsyncPages, "collection_page", counted)
    cat, _ = pg_cat
    api = client(cat)  # no `with`: no lifespan, a new event loop per request
    params = {"collection": cat.movies, "limit": 2}
    pages = []
    asking = threading.Thread(  # of its own, so that a hang fails the test instead
        target=lambda: pages.extend(api.get(f"{API}/assets", params=params) for _ in range(3)),
        daemon=True,
    )
    asking.start()
    asking.join(timeout=60)
    assert not asking.is_alive(), "a request hung on another event loop's connection"
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert pages[0].json() == pages[1].json() == pages[2].json()
    assert len(pages[0].json()["assets"]) == 2
    assert on_the_loop == [1], "only the first request's loop, which opened the pool, read on it"


def test_the_thread_pool_is_sized_to_the_database(api, db_url):
    """SQLite reads run in the process and take the GIL back row by row: two threads, not the
    eight a PostgreSQL server's waits on the network use (set once the first request opened the
    database)."""
    import anyio.to_thread

    from retrovue.web.server import DB_THREADS, SQLITE_THREADS

    assert api.get(f"{API}/sources").status_code == 200

    async def size() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    assert api.portal.call(size) == (SQLITE_THREADS if "sqlite" in db_url else DB_THREADS)
    assert (SQLITE_THREADS, DB_THREADS) == (2, 8)


def test_an_after_of_another_collection_is_refused_not_a_page(api, cat):
    response = api.get(f"{API}/assets", params={"collection": cat.movies, "after": cat.ids["Show"]})
    assert response.status_code == 400
    assert response.json()["code"] == "USAGE_ERROR"


def test_an_asset_with_its_probed_facts(api, cat):
    shown = api.get(f"{API}/assets/{cat.ids['Heat']}").json()
    assert shown["duration_ms"] == 170 * 60_000 and shown["loudness_lufs"] == -23.0
    assert shown["collection"]["name"] == "movies"


def test_runs_failures_locks_and_status(api, cat):
    runs = api.get(f"{API}/runs").json()["runs"]
    assert {r["collection"]["name"] for r in runs} == {"movies", "shows"}
    assert [
        r["status"] for r in api.get(f"{API}/runs", params={"collection": "shows"}).json()["runs"]
    ] == ["ok"]
    failures = api.get(f"{API}/failures", params={"collection": "shows"}).json()
    assert failures["failures"] == []
    assert len(api.get(f"{API}/failures").json()["failures"]) == 1
    assert api.get(f"{API}/locks").json()["locked"] is False
    overview = api.get(f"{API}/overview").json()
    movies = next(c for c in overview["sources"][0]["collections"] if c["name"] == "movies")
    assert movies["assets"] == 3 and movies["failed"] == 1 and movies["last_run"]["status"] == "ok"


def test_status_is_the_one_the_cli_prints(api, cat, rv):
    """issue 22: /api/v1/status is `retrovue status --json` (the server's config planned)."""
    served = api.get(f"{API}/status").json()
    printed = rv("status", "-c", cat.config, "--json", db=cat.db_url).json()
    assert served == printed
    assert served["config_file"] == cat.config and served["sources"][0]["in_sync"] is not None


def test_the_plan_is_the_one_the_cli_prints(api, cat, rv):
    served = api.post(f"{API}/plan").json()
    printed = rv("plan", "-c", cat.config, "--json", db=cat.db_url).json()
    assert served == printed


def test_the_openapi_document_lists_every_endpoint(api):
    paths = api.get(f"{API}/openapi.json").json()["paths"]
    for path in (
        "/sources",
        "/collections/{selector}",
        "/assets",
        "/assets/{selector}",
        "/runs",
        "/failures",
        "/locks",
        "/overview",
        "/status",
        "/plan",
        "/assets/approve",
        "/assets/unapprove",
        "/collections/{selector}/ingest",
        "/collections/{selector}/enrich",
        "/collections/{selector}/retry-failed",
        "/locks/release",
    ):
        assert f"{API}{path}" in paths, path


# -- writes ------------------------------------------------------------------------------------


def test_approve_one_and_many_then_unapprove(api, cat, engine):
    heat, alien = cat.ids["Heat"], cat.ids["Alien"]
    done = api.post(f"{API}/assets/approve", json={"asset_ids": [heat]})
    assert done.status_code == 200 and done.json()["approved"] is True
    assert _approved(engine, heat) and not _approved(engine, alien)
    api.post(f"{API}/assets/approve", json={"asset_ids": [heat, alien]})
    assert _approved(engine, alien)
    api.post(f"{API}/assets/unapprove", json={"asset_ids": [heat]})
    assert not _approved(engine, heat) and _approved(engine, alien)
    assert api.get(f"{API}/assets", params={"approved": "true"}).json()["total"] == 1


def test_approving_an_asset_not_ready_is_refused_and_writes_nothing(api, cat, engine):
    response = api.post(
        f"{API}/assets/approve", json={"asset_ids": [cat.ids["Heat"], cat.ids["Brazil"]]}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "NOT_APPROVABLE"
    assert not _approved(engine, cat.ids["Heat"])  # the one unit rolled back whole


def test_an_asset_of_another_collection_is_not_approved_through_a_crafted_scope(api, cat, engine):
    response = api.post(
        f"{API}/assets/approve",
        json={"asset_ids": [cat.ids["Heat"]], "collection": cat.shows},
    )
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert not _approved(engine, cat.ids["Heat"])


@pytest.mark.parametrize(
    ("ids", "status", "code"),
    [
        (["not-a-uuid"], 400, "USAGE_ERROR"),
        (["00000000-0000-0000-0000-000000000000"], 404, "NOT_FOUND"),
        ([], 400, "USAGE_ERROR"),
    ],
)
def test_approval_errors_carry_the_cli_codes(api, ids, status, code):
    response = api.post(f"{API}/assets/approve", json={"asset_ids": ids})
    assert response.status_code == status and response.json()["code"] == code


def test_ingest_enrich_and_retry_a_collection(api, cat):
    before = len(api.get(f"{API}/runs", params={"collection": "movies"}).json()["runs"])
    ingested = api.post(f"{API}/collections/{cat.movies}/ingest", json={"enrich": False})
    assert ingested.status_code == 200, ingested.text
    after = len(api.get(f"{API}/runs", params={"collection": "movies"}).json()["runs"])
    assert after == before + 1
    enriched = api.post(f"{API}/collections/movies/enrich")
    assert enriched.status_code == 200 and enriched.json()["collection_name"] == "movies"
    retried = api.post(f"{API}/collections/movies/retry-failed")
    assert retried.status_code == 200 and retried.json()["retry_failed"] is True


def test_releasing_a_free_lock_releases_nothing(api):
    released = api.post(f"{API}/locks/release", json={})
    assert released.status_code == 200 and released.json()["released"] is False


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/collections/nope", 404, "NOT_FOUND"),
        ("get", "/sources/nope", 404, "NOT_FOUND"),
        ("get", "/assets/nope", 404, "NOT_FOUND"),
        ("get", "/assets?state=bogus", 400, "USAGE_ERROR"),
        ("get", "/assets?limit=0", 400, "USAGE_ERROR"),
        ("post", "/collections/nope/ingest", 404, "NOT_FOUND"),
        ("get", "/nowhere", 404, "NOT_FOUND"),
    ],
)
def test_errors_are_the_cli_error_document_with_a_fitting_status(api, method, path, status, code):
    response = getattr(api, method)(f"{API}{path}")
    assert response.status_code == status
    body = response.json()
    assert body["status"] == "error" and body["code"] == code


def test_a_write_takes_only_json(api, cat, engine):
    response = api.post(
        f"{API}/assets/approve",
        content=f"asset_ids={cat.ids['Heat']}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert not _approved(engine, cat.ids["Heat"])


# -- security ----------------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(api):
    for path in (f"{API}/sources", "/", f"{API}/nowhere"):
        headers = api.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"


def test_tokens_read_only_and_read_write(cat, engine):
    with client(cat, token=RW, readonly_token=RO) as c:
        assert c.get(f"{API}/sources").status_code == 401
        assert c.get(f"{API}/sources").json()["code"] == "UNAUTHORIZED"
        wrong = c.get(f"{API}/sources", headers={"authorization": "Bearer " + "x" * 24})
        assert wrong.status_code == 401
        ro = {"authorization": f"Bearer {RO}"}
        assert c.get(f"{API}/sources", headers=ro).status_code == 200
        body = {"asset_ids": [cat.ids["Heat"]]}
        refused = c.post(f"{API}/assets/approve", json=body, headers=ro)
        assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
        assert not _approved(engine, cat.ids["Heat"])
        assert c.post(f"{API}/plan", headers=ro).status_code == 200  # a plan only reads
        rw = {"authorization": f"Bearer {RW}"}
        assert c.post(f"{API}/assets/approve", json=body, headers=rw).status_code == 200
        assert _approved(engine, cat.ids["Heat"])


def test_off_loopback_a_token_is_required_to_start(tmp_path):
    with pytest.raises(UsageError, match="not a loopback address"):
        settings_for(
            "0.0.0.0:8765", db_url=None, test_db=False, config_file=None, token_file=None, env={}
        )
    token_file = tmp_path / "tokens"
    token_file.write_text(f"RETROVUE_API_TOKEN={RW}\nRETROVUE_API_TOKEN_READONLY={RO}\n")
    settings = settings_for(
        "0.0.0.0:8765",
        db_url=None,
        test_db=False,
        config_file=None,
        token_file=str(token_file),
        env={},
    )
    assert (settings.token, settings.readonly_token, settings.needs_token) == (RW, RO, True)
    env = {"RETROVUE_API_TOKEN": RW}
    assert (
        settings_for(
            "[::1]:9000", db_url=None, test_db=False, config_file=None, token_file=None, env=env
        ).port
        == 9000
    )


def test_without_a_token_only_a_loopback_host_is_served(cat):
    """A page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding) reaches nothing."""
    with client(cat) as c:
        response = c.get(f"{API}/sources", headers={"host": "evil.example:8765"})
        assert response.status_code == 403


def test_a_cross_origin_write_is_refused(api, cat, engine):
    response = api.post(
        f"{API}/assets/approve",
        json={"asset_ids": [cat.ids["Heat"]]},
        headers={"origin": "http://evil.example"},
    )
    assert response.status_code == 403
    assert not _approved(engine, cat.ids["Heat"])
    same = api.post(
        f"{API}/assets/approve",
        json={"asset_ids": [cat.ids["Heat"]]},
        headers={"origin": "http://127.0.0.1:8765"},
    )
    assert same.status_code == 200


def test_error_bodies_are_json_documents(api):
    body = api.get(f"{API}/assets/nope").text
    assert json.loads(body)["message"] == "Asset 'nope' not found"


def test_the_serve_command_refuses_a_public_address_without_a_token(rv):
    result = rv("serve", "--bind", "0.0.0.0:8765")
    assert result.code == 1
    assert "not a loopback address" in result.err and "RETROVUE_API_TOKEN" in result.err
    assert rv("serve", "--bind", "nonsense").code == 1


def test_a_stale_lock_is_shown_and_released(api, engine):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from retrovue.database.tables import ApplyLock
    from retrovue.execute.lock import HEARTBEAT_NAME, LOCK_NAME

    old = datetime.now(UTC) - timedelta(hours=1)
    row = {
        "holder": "ci",
        "host": "gone-container",
        "pid": 1,
        "command": "apply",
        "started_at": old,
    }
    with engine.begin() as conn:  # left by a process on a host since gone, its heartbeat stopped
        conn.execute(insert(ApplyLock).values(name=LOCK_NAME, **row))
        conn.execute(insert(ApplyLock).values(name=HEARTBEAT_NAME, **row))
    shown = api.get(f"{API}/locks").json()
    assert shown["locked"] is True and shown["lock"]["stale"] is True
    assert "Release</button>" in api.get("/").text
    released = api.post(f"{API}/locks/release", json={})
    assert released.status_code == 200 and released.json()["released"] is True
    assert api.get(f"{API}/locks").json()["locked"] is False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers_of(pid: int) -> list[int]:
    """The serving workers of a ``serve --workers`` process (multiprocessing's spawned children;
    its resource tracker is not one)."""
    from pathlib import Path

    children = [
        int(p)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for p in (task / "children").read_text().split()
    ]
    return [p for p in children if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]


def _tcp_of(pid: int, port: int, state: str) -> set[str]:
    """The sockets on ``port`` in ``state`` (01 established, 0A listening) that process ``pid``
    holds, by inode (Linux /proc)."""
    import os

    fds = f"/proc/{pid}/fd"
    held = {os.readlink(f"{fds}/{fd}") for fd in os.listdir(fds)}
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == state and f"socket:[{fields[9]}]" in held:
            found.add(fields[9])
    return found


def _wait_serving(server, url: str, **kw):
    import time

    import requests

    deadline = time.monotonic() + 60
    while True:
        try:
            return requests.get(url, timeout=5, **kw)
        except requests.ConnectionError:
            assert server.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.2)


def test_serve_with_two_workers_serves_from_both_with_the_same_rules(cat, tmp_path):
    """`serve --workers 2`: two processes, each listening on a socket of its own at the address
    (so the kernel spreads connections: Uvicorn's shared socket gave every keep-alive client to
    one worker), each made from the command's arguments (the token read from the token file,
    never put in the environment); a worker that dies is replaced; SIGTERM stops them all."""
    import http.client
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    port = _free_port()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"RETROVUE_API_TOKEN={RW}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROVUE_API_TOKEN")}
    command = [sys.executable, "-m", "retrovue", "serve", "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*command, "--workers", "2", "--token-file", str(tokens), "--db", cat.db_url],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}{API}/collections"
    auth = {"authorization": f"Bearer {RW}"}
    try:
        refused = _wait_serving(server, base)
        assert refused.status_code == 401
        assert refused.headers["x-frame-options"] == "DENY"
        served = requests.get(base, headers=auth, timeout=5)
        assert [c["name"] for c in served.json()["collections"]] == ["movies", "shows"]
        workers = _workers_of(server.pid)
        assert len(workers) == 2
        for pid in [server.pid, *workers]:
            assert RW not in Path(f"/proc/{pid}/environ").read_text(errors="replace")
        for pid in workers:  # on Uvicorn's C parser and loop (a dependency each; see SPEED)
            mapped = Path(f"/proc/{pid}/maps").read_text()
            assert "/httptools/" in mapped and "/uvloop/" in mapped
        # each worker listens on a socket of its own, which the kernel gives connections to
        listening = [_tcp_of(pid, port, "0A") for pid in workers]
        assert [len(x) for x in listening] == [1, 1] and listening[0] != listening[1]
        # 16 keep-alive clients: each worker holds some (all on one: 2 in 65,536)
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(16)]
        for c in clients:  # connected at once, as a client pool starts (a shared socket's
            c.connect()  # first worker to wake took a burst whole)
        deadline = time.monotonic() + 10
        while sum(held := [len(_tcp_of(pid, port, "01")) for pid in workers]) < 16:
            assert time.monotonic() < deadline, f"not accepted: {held}"
            time.sleep(0.05)
        assert min(held) >= 1, held
        # and the busier worker asks clients to reconnect until each holds its share (8 and 8;
        # http.client reconnects by itself after a "Connection: close")
        deadline = time.monotonic() + 30
        while True:
            for c in clients:
                c.request("GET", f"{API}/collections", headers=auth)
                assert c.getresponse().read()
            held = [len(_tcp_of(pid, port, "01")) for pid in workers]
            if sorted(held) == [8, 8]:
                break
            assert time.monotonic() < deadline, f"connections stayed split {held}"
            time.sleep(0.06)  # the workers count their connections every 50 ms
        for c in clients:
            c.close()
        # a worker killed (after its start) is replaced, and the address still answers
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while set(_workers_of(server.pid)) & {workers[0]} or len(_workers_of(server.pid)) < 2:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.2)
        replaced = _workers_of(server.pid)
        for _ in range(6):  # new connections: some reach the replacement's socket
            assert requests.get(base, headers=auth, timeout=5).status_code == 200
        server.terminate()
        assert server.wait(20) == 0
        for pid in replaced:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(20)


def _state(pid: int) -> str:
    from pathlib import Path

    return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()


def test_a_worker_over_its_share_of_connections_asks_one_to_reconnect():
    """``FairShare.over``: more open connections than the mean (rounded up) asks one client to
    reconnect, and counts it gone at once (the next response does not ask again before the
    worker's next count)."""
    from retrovue.web.workers import FairShare

    def asks(loads: list[int], index: int) -> bool:
        return FairShare(loads, index).over()

    assert asks([13, 7], 0) and not asks([13, 7], 1)
    assert not asks([10, 10], 0)
    assert not asks([11, 10], 0)  # 21 over two: 11 is the share
    assert asks([12, 9], 0)
    assert not asks([1, 0], 0)  # one client: it has to be somewhere
    assert asks([2, 0], 0)
    assert not asks([4, 3, 3], 0) and asks([5, 3, 2], 0)
    share = FairShare([13, 7], 0)  # 13 where 10 is the share: three asked, then none
    assert [share.over() for _ in range(5)] == [True, True, True, False, False]
    share.count(11)  # counted again, 11 and 7 (two gone, not back yet): 9 is the share now
    assert [share.over() for _ in range(3)] == [True, True, False]


def test_serve_with_workers_refuses_an_address_in_use(cat):
    """Sockets that all set SO_REUSEPORT would share an address silently, with another `serve
    --workers` too: the address is probed without it first, and a taken one refused (exit 1)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "retrovue", "serve", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", "2", "--db", cat.db_url],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_workers_socket_hands_asyncio_connections_with_nagle_off():
    """Each worker's listening socket names TCP as its protocol: asyncio turns Nagle's algorithm
    off only on connections of such a socket, and with it on every response's body waited for
    the client's delayed ACK of its headers (40 ms a request)."""
    import asyncio
    import socket

    from retrovue.web.workers import _listening

    async def accepted_nodelay() -> int:
        listening = _listening("127.0.0.1", 0)
        found: asyncio.Future = asyncio.get_running_loop().create_future()

        def handle(_reader, writer) -> None:
            sock = writer.get_extra_info("socket")
            found.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=listening)
        try:
            _r, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            value = await asyncio.wait_for(found, 10)
            writer.close()
            return value
        finally:
            server.close()

    assert asyncio.run(accepted_nodelay()) != 0


def test_a_worker_that_never_served_stops_the_server_and_one_that_served_is_replaced():
    """The supervisor's rule (``_Worker.restart_or_fail``): a worker gone before Uvicorn started
    it would fail the same way again, so ``serve --workers`` stops with SERVER_FAILED (exit 1);
    one gone after it served is started anew."""
    import threading

    from retrovue.errors import ServerFailedError
    from retrovue.web.workers import FairShare, _Worker

    class Gone:  # a worker process that has exited
        exitcode = 3

        def __init__(self, **_kw):
            pass

        def start(self):
            pass

    class Spawn:
        Event = threading.Event
        Process = Gone

    worker = _Worker(Spawn(), None, None, {}, FairShare([0], 0))
    with pytest.raises(ServerFailedError) as failed:
        worker.restart_or_fail()
    assert failed.value.code == "SERVER_FAILED" and failed.value.exit_code == 1
    assert "exited with code 3 as it started" in failed.value.message
    worker.serving.set()  # it had served
    first = worker.process
    worker.restart_or_fail()
    assert worker.process is not first and not worker.serving.is_set()
