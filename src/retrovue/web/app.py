"""``create_app(settings)``: the server's FastAPI application, made anew each call (nothing of it
lives at module level, so two servers in one process share nothing)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib import resources

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from retrovue.errors import RetrovueError, UsageError
from retrovue.redact import Redactor
from retrovue.render.errors import error_document, error_json
from retrovue.web import security
from retrovue.web.errors import http_status
from retrovue.web.json_text import json_text
from retrovue.web.server import Server
from retrovue.web.settings import ServeSettings

API = "/api/v1"
#: reachable without a token: the sign-in page and the stylesheet it uses
_OPEN = ("/login", "/static/")
#: posts that write nothing (a plan only reads), so a read-only token may send them
_READING_POSTS = frozenset({f"{API}/plan"})


def create_app(settings: ServeSettings) -> FastAPI:
    server = Server(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # this event loop's thread pool, as large as the engine's pool (``Server.threads``: set
        # again once the first request has opened the database and its backend is known)
        anyio.to_thread.current_default_thread_limiter().total_tokens = server.threads
        yield
        await server.aclose()

    app = FastAPI(
        title="retrovue",
        version="1",
        description="The catalogue retrovue keeps: sources, collections, assets, runs; "
        "approve assets, ingest, enrich.  Errors carry the CLI's codes.",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN, which the CSP forbids
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.server = server
    app.add_middleware(Guard, settings=settings)
    _handle_errors(app)
    from retrovue.web.api import api_router, listing_route
    from retrovue.web.pages import page_router

    app.router.routes.append(listing_route())  # first: it answers before api_router's
    app.include_router(api_router())
    app.include_router(page_router())
    static = resources.files("retrovue.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


class Guard:
    """Admits or refuses each request (``_admit``) and gives every response the security headers
    and, to a browser without one yet, its CSRF cookie.  A plain ASGI middleware: Starlette's
    ``BaseHTTPMiddleware`` (``@app.middleware``) copies each response through a stream of its
    own and a task, ~1 ms of a 4 ms API request."""

    def __init__(self, app, settings: ServeSettings):
        self.app, self.settings = app, settings
        self.headers = [(k.lower().encode(), v.encode()) for k, v in security.HEADERS.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        csrf = request.cookies.get(security.CSRF_COOKIE)
        request.state.csrf = csrf or security.new_csrf_token()
        extra = list(self.headers)
        if csrf is None:
            extra.append((b"set-cookie", security.csrf_cookie(request.state.csrf).encode()))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                given = {name.lower() for name, _value in message.get("headers", ())}
                added = [(k, v) for k, v in extra if k == b"set-cookie" or k not in given]
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        try:
            _admit(request, self.settings)
        except RetrovueError as exc:
            await error_response(request, exc)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _admit(request: Request, settings: ServeSettings) -> None:
    """Raises unless the request may go on: host, token, role, and a write's origin."""
    security.check_host(settings, request.headers.get("host"))
    path = request.url.path
    if path.startswith(_OPEN):
        return
    token = security.presented_token(request.headers, request.cookies)
    request.state.role = security.role_of(settings, token)
    if request.method in security.SAFE_METHODS:
        return
    if path not in _READING_POSTS:
        security.require_write(request.state.role)
    security.check_origin(request.headers.get("origin"), request.headers.get("host"))
    if path.startswith(API) and request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/json", ""):
            raise UsageError("The API takes only application/json bodies")
        if kind == "" and int(request.headers.get("content-length") or 0) > 0:
            raise UsageError("The API takes only application/json bodies")


def _scrub(request: Request):
    ctx = getattr(request.state, "ctx", None)
    return ctx.scrub if ctx is not None else Redactor().scrub


def error_response(request: Request, exc: RetrovueError) -> Response:
    status = http_status(exc)
    scrub = _scrub(request)
    if request.url.path.startswith(API) or "text/html" not in request.headers.get("accept", ""):
        body = scrub(json_text(error_json(exc, scrub)))
        return Response(body, status_code=status, media_type="application/json")
    templates = request.app.state.server.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {"code": exc.code, "message": scrub(exc.message), "hint": scrub(exc.hint or "")},
        status_code=status,
    )


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(RetrovueError)
    async def typed(request: Request, exc: RetrovueError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()[:5]
        )
        return error_response(request, UsageError(f"Invalid request: {problems}"))

    @app.exception_handler(HTTPException)
    async def http(request: Request, exc: HTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        body = json_text(error_document(code, str(exc.detail)))
        return Response(body, status_code=exc.status_code, media_type="application/json")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        ctx = getattr(request.state, "ctx", None)
        typed_error = ctx.typed_error(exc) if ctx is not None else None
        if typed_error is not None:
            return error_response(request, typed_error)
        message = _scrub(request)(f"unexpected error: {type(exc).__name__}: {exc}")
        body = json_text(error_document("INTERNAL_ERROR", message))
        return Response(body, status_code=500, media_type="application/json")
