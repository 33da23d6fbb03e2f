"""The JSON API under /api/v1: reads, and writes through the one executor (via app/)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from retrovue.app import activity, admin
from retrovue.app.approval import MAX_ASSETS, set_approval
from retrovue.app.asset_read import (
    AssetFilters,
    list_assets,
    page_of_collection_by_id,
    show_asset,
)
from retrovue.app.collection_read import list_collections
from retrovue.app.context import Context
from retrovue.app.source_read import list_sources, show_source
from retrovue.model.enums import AssetState
from retrovue.web import documents as doc
from retrovue.web.json_text import json_text
from retrovue.web.server import request_context

PREFIX = "/api/v1"
Ctx = Annotated[Context, Depends(request_context)]
Selector = Annotated[str, Path(min_length=1, max_length=1000)]
State = Literal[tuple(s.value for s in AssetState)]  # type: ignore[valid-type]


def respond(ctx: Context, document: dict, status: int = 200) -> Response:
    """The document, scrubbed of every secret this request learnt (as the CLI's --json)."""
    text = ctx.scrub(json_text(document))
    return Response(text, status_code=status, media_type="application/json")


class AssetQuery(BaseModel):
    collection: str | None = Field(None, max_length=1000)
    source: str | None = Field(None, max_length=1000)
    state: State | None = None
    kind: str | None = Field(None, max_length=16)
    approved: bool | None = None
    missing: bool | None = None
    q: str | None = Field(None, max_length=200, description="text in the title or series title")
    limit: int = Field(100, ge=1, le=1000)
    after: str | None = Field(None, max_length=100, description="the next_after of the last page")

    @model_validator(mode="before")
    @classmethod
    def _unset_when_empty(cls, values):
        """An empty field of the page's filter form means no filter (as an absent one)."""
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if v != ""}
        return values


def asset_filters(query: AssetQuery) -> AssetFilters:
    return AssetFilters(
        collection=query.collection,
        source=query.source,
        state=query.state,
        approved=query.approved,
        missing=query.missing,
        limit=query.limit,
        after=query.after or None,
        kind=query.kind or None,
        search=query.q or None,
    )


def asset_page(ctx: Context, query: AssetQuery) -> tuple:
    """A page of assets and its listing, read inside one read transaction."""
    with list_assets(ctx, asset_filters(query)) as listing:
        items = list(listing.assets)
    return listing, items


class Approval(BaseModel):
    asset_ids: list[str] = Field(min_length=1, max_length=MAX_ASSETS)
    collection: str | None = Field(
        None, max_length=1000, description="refuse any asset outside this collection"
    )


class Ingest(BaseModel):
    title: str | None = Field(None, max_length=1000)
    season: int | None = Field(None, ge=0, le=100_000)
    episode: int | None = Field(None, ge=0, le=100_000)
    enrich: bool = True
    allow_mass_missing: bool = False


class Enrich(BaseModel):
    force: bool = False
    retry_failed: bool = False


class PlanOptions(BaseModel):
    sources: list[str] = Field(default_factory=list, max_length=100)
    prune: bool = False
    detail: bool = False
    allow_mass_missing: bool = False


class Release(BaseModel):
    source: str | None = Field(
        None, max_length=1000, description="a source's lock (else the whole database's)"
    )
    force: bool = False


def api_router() -> APIRouter:
    api = APIRouter(prefix=PREFIX)

    @api.get("/sources", tags=["read"])
    def sources(ctx: Ctx) -> Response:
        from retrovue.render.sources import sources_document

        return respond(ctx, sources_document(list_sources(ctx)))

    @api.get("/sources/{selector}", tags=["read"])
    def source(ctx: Ctx, selector: Selector) -> Response:
        from retrovue.render.sources import source_document

        return respond(ctx, source_document(show_source(ctx, selector)))

    @api.get("/collections", tags=["read"])
    def collections(
        ctx: Ctx, source: Annotated[str | None, Query(max_length=1000)] = None
    ) -> Response:
        from retrovue.render.collections import list_document

        return respond(ctx, list_document(list_collections(ctx, source)))

    @api.get("/collections/{selector}", tags=["read"])
    def collection(ctx: Ctx, selector: Selector) -> Response:
        return respond(ctx, doc.collection_view_document(activity.collection_view(ctx, selector)))

    @api.get("/assets", tags=["read"])
    def assets(ctx: Ctx, query: Annotated[AssetQuery, Query()]) -> Response:
        """Described here for the OpenAPI document; served by ``listing_route`` (same query
        model, same document), which the app routes first."""
        return respond(ctx, doc.page_document(*asset_page(ctx, query)))

    @api.get("/assets/{selector}", tags=["read"])
    def asset(ctx: Ctx, selector: Selector) -> Response:
        return respond(ctx, doc.asset_document(show_asset(ctx, selector)))

    @api.get("/runs", tags=["read"])
    def runs(
        ctx: Ctx,
        collection: Annotated[str | None, Query(max_length=1000)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = activity.RUNS,
    ) -> Response:
        scoped = activity.list_runs(ctx, collection, limit)
        return respond(ctx, doc.scoped_document(scoped, "runs", doc.run_json))

    @api.get("/failures", tags=["read"])
    def failures(
        ctx: Ctx,
        collection: Annotated[str | None, Query(max_length=1000)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = activity.FAILURES,
    ) -> Response:
        scoped = activity.list_failures(ctx, collection, limit)
        return respond(ctx, doc.scoped_document(scoped, "failures", doc.failure_json))

    @api.get("/locks", tags=["read"])
    def locks(ctx: Ctx) -> Response:
        from retrovue.render.locks import show_document

        return respond(ctx, show_document(admin.list_locks(ctx)))

    @api.get("/overview", tags=["read"])
    def overview(ctx: Ctx, request: Request) -> Response:
        """The dashboard's data: every source's collections with counts, failures, last run;
        the source's last reconcile, and its drift from the server's config (compared with the
        database only: no upstream is listed)."""
        config = request.app.state.server.settings.config_file
        return respond(ctx, doc.overview_document(activity.overview(ctx, config)))

    @api.get("/status", tags=["read"])
    def status(ctx: Ctx, request: Request) -> Response:
        """As `retrovue status --json` prints it; with the server's config (serve -c) each
        source is planned, reading its upstream, to tell whether it is in sync."""
        from retrovue.app.status import status as use
        from retrovue.render.status import status_document

        config = request.app.state.server.settings.config_file
        return respond(ctx, status_document(use(ctx, config)))

    @api.post("/plan", tags=["read"])
    def plan(
        ctx: Ctx, request: Request, options: Annotated[PlanOptions | None, Body()] = None
    ) -> Response:
        """The plan of the server's config file, as `retrovue plan --json` prints it."""
        from retrovue.app import declarative
        from retrovue.plan.builder import PlanOptions as Options
        from retrovue.render.json import plan_to_json

        o = options or PlanOptions()
        chosen = Options(tuple(o.sources), o.allow_mass_missing, prune=o.prune, detail=o.detail)
        config = request.app.state.server.settings.config_file
        planned = declarative.plan(ctx, config, chosen)
        return respond(ctx, plan_to_json(planned.plan))

    # -- writes --------------------------------------------------------------------------

    @api.post("/assets/approve", tags=["write"])
    def approve(ctx: Ctx, body: Approval) -> Response:
        done = set_approval(ctx, body.asset_ids, True, collection=body.collection)
        return respond(ctx, doc.approval_document(done))

    @api.post("/assets/unapprove", tags=["write"])
    def unapprove(ctx: Ctx, body: Approval) -> Response:
        done = set_approval(ctx, body.asset_ids, False, collection=body.collection)
        return respond(ctx, doc.approval_document(done))

    @api.post("/collections/{selector}/ingest", tags=["write"])
    def ingest(
        ctx: Ctx, selector: Selector, body: Annotated[Ingest | None, Body()] = None
    ) -> Response:
        from retrovue.app.collection_ingest import IngestRequest, ingest_collection
        from retrovue.render.ingest import collection_document

        b = body or Ingest()
        request = IngestRequest(
            selector, b.title, b.season, b.episode, b.allow_mass_missing, enrich=b.enrich
        )
        return respond(ctx, collection_document(ingest_collection(ctx, request).report))

    @api.post("/collections/{selector}/enrich", tags=["write"])
    def enrich(
        ctx: Ctx, selector: Selector, body: Annotated[Enrich | None, Body()] = None
    ) -> Response:
        b = body or Enrich()
        return enriched(ctx, selector, b.force, b.retry_failed)

    @api.post("/collections/{selector}/retry-failed", tags=["write"])
    def retry_failed(ctx: Ctx, selector: Selector) -> Response:
        return enriched(ctx, selector, False, True)

    @api.post("/locks/release", tags=["write"])
    def release(ctx: Ctx, body: Annotated[Release | None, Body()] = None) -> Response:
        from retrovue.render.locks import release_document

        b = body or Release()
        scope = admin.lock_scope(ctx, b.source)
        return respond(ctx, release_document(admin.release_lock(ctx, b.force, scope)))

    return api


def listing_route() -> Route:
    """``GET /api/v1/assets`` without FastAPI's per-request dependency solving: the busiest
    endpoint (a client pages through 100,000 assets), where resolving the query model field by
    field cost ~0.3 ms of a ~3 ms request.  The same ``AssetQuery`` validates the same query
    string (its errors carry FastAPI's ``query.`` locations), the same unit of work
    (``request_context``) and document answer.  On PostgreSQL a page of a collection named by
    its id is read on the event loop (``Server.pages``) and answered there: a hop to the thread
    pool and back cost more CPU than the page (two workers, 20 clients: 600-640 against
    461-517 requests/s); anything else, and an empty page (whose reason only the full path tells),
    goes to the pool as before."""
    context = asynccontextmanager(request_context)

    async def listing(request: Request) -> Response:
        try:
            query = AssetQuery.model_validate(dict(request.query_params))
        except ValidationError as exc:
            errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
            raise RequestValidationError(errors) from None
        async with context(request) as ctx:
            pages = await request.app.state.server.pages()
            if pages is not None:  # PostgreSQL: a page by collection id, read on this loop
                listing = await page_of_collection_by_id(pages, asset_filters(query))
                if listing is not None:
                    return respond(ctx, doc.page_document(listing, list(listing.assets)))
            return await run_in_threadpool(
                lambda: respond(ctx, doc.page_document(*asset_page(ctx, query)))
            )

    return Route(f"{PREFIX}/assets", listing, methods=["GET"], include_in_schema=False)


def enriched(ctx: Context, selector: str, force: bool, retry_failed: bool) -> Response:
    from retrovue.app.collection_enrich import EnrichRequest, enrich_collection
    from retrovue.render.enrichment import enrich_document, failure_details

    done = enrich_collection(ctx, EnrichRequest(selector, force, retry_failed))
    if done.error is not None:
        done.error.details = {**failure_details(done), **done.error.details}
        raise done.error
    return respond(ctx, enrich_document(done))
