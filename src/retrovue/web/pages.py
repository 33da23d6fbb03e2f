"""The server-rendered pages: dashboard, collection, asset, runs, plan, and the forms that write
(each checks its CSRF token, then calls the same use case as the API, then redirects back)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from retrovue.app import activity, admin
from retrovue.app.approval import set_approval
from retrovue.app.asset_read import show_asset
from retrovue.app.context import Context
from retrovue.errors import RetrovueError, UsageError
from retrovue.render.assets import enrichment_records, show_document
from retrovue.render.values import iso
from retrovue.web import security, svg
from retrovue.web.api import AssetQuery, asset_page, enriched
from retrovue.web.server import request_context

Ctx = Annotated[Context, Depends(request_context)]


def render(request: Request, ctx: Context, name: str, status: int = 200, **values) -> Response:
    """A page, scrubbed as a whole of the secrets this request learnt."""
    template = request.app.state.server.templates.get_template(name)
    values.update(request=request, csrf=request.state.csrf, iso=iso)
    return HTMLResponse(ctx.scrub(template.render(values)), status_code=status)


async def _form(request: Request) -> dict:
    """The posted form, once its CSRF token matches the session's (double submit)."""
    form = await request.form()
    security.check_csrf(request.cookies.get(security.CSRF_COOKIE), form.get(security.CSRF_FIELD))
    return {k: form.getlist(k) for k in form.keys()}


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _collection_url(selector: str, **query) -> str:
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return f"/collections/{selector}" + (f"?{urlencode(kept)}" if kept else "")


def page_router() -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, ctx: Ctx) -> Response:
        config = request.app.state.server.settings.config_file
        return render(request, ctx, "dashboard.html", overview=activity.overview(ctx, config))

    @pages.get("/collections/{selector}", response_class=HTMLResponse)
    def collection(
        request: Request, ctx: Ctx, selector: str, query: Annotated[AssetQuery, Query()]
    ) -> Response:
        view = activity.collection_view(ctx, selector)
        cid = str(view.detail.entry.collection.id)
        query = query.model_copy(update={"collection": cid, "source": None})
        listing, items = asset_page(ctx, query)
        return render(
            request,
            ctx,
            "collection.html",
            view=view,
            cid=cid,
            query=query,
            items=items,
            listing=listing,
            next_url=_collection_url(
                cid,
                **{
                    **query.model_dump(exclude={"collection", "source", "limit"}),
                    "after": str(listing.assets.next_after),
                },
            )
            if listing.assets.next_after
            else None,
            duration_svg=svg.histogram_svg(view.duration, "Duration", svg.minutes),
            loudness_svg=svg.histogram_svg(view.loudness, "Loudness", svg.lufs),
        )

    @pages.get("/assets/{selector}", response_class=HTMLResponse)
    def asset(request: Request, ctx: Ctx, selector: str) -> Response:
        detail = show_asset(ctx, selector)
        document = show_document(detail)
        facts = {
            k: v
            for k, v in document.items()
            if k not in ("status", "collection", "metadata", "enrichers")
        }
        return render(
            request,
            ctx,
            "asset.html",
            detail=detail,
            facts=facts,
            enrichers=enrichment_records(detail.asset.metadata),
        )

    @pages.get("/runs", response_class=HTMLResponse)
    def runs(
        request: Request,
        ctx: Ctx,
        collection: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> Response:
        scoped = activity.list_runs(ctx, collection or None)
        return render(request, ctx, "runs.html", scoped=scoped)

    @pages.get("/plan", response_class=HTMLResponse)
    def plan(request: Request, ctx: Ctx) -> Response:
        """What `retrovue plan --detail` prints, for the server's config file."""
        from retrovue.app import declarative
        from retrovue.plan.builder import PlanOptions
        from retrovue.render.text import render_text

        config = request.app.state.server.settings.config_file
        try:
            text = render_text(declarative.plan(ctx, config, PlanOptions(detail=True)).plan)
            error = None
        except RetrovueError as exc:
            text, error = None, exc
        return render(request, ctx, "plan.html", text=text, error=error)

    @pages.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        template = request.app.state.server.templates.get_template("login.html")
        return HTMLResponse(template.render(request=request, csrf=request.state.csrf))

    @pages.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        token = (form.get("token") or [""])[0]
        security.role_of(request.app.state.server.settings, token)  # raises unless it is one
        response = _back("/")
        response.set_cookie(security.TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    # -- forms that write ------------------------------------------------------------------

    @pages.post("/assets/{selector}/approval")
    async def asset_approval(request: Request, ctx: Ctx, selector: str) -> Response:
        form = await _form(request)
        approved = _approved(form)
        detail = await run_in_threadpool(show_asset, ctx, selector)
        await run_in_threadpool(set_approval, ctx, [str(detail.asset.id)], approved)
        return _back(f"/assets/{detail.asset.id}")

    @pages.post("/collections/{selector}/approval")
    async def collection_approval(request: Request, ctx: Ctx, selector: str) -> Response:
        form = await _form(request)
        approved = _approved(form)
        ids = form.get("asset_ids", [])
        await run_in_threadpool(set_approval, ctx, ids, approved, collection=selector)
        return _back(
            _collection_url(
                selector, **{k: (form.get(k) or [None])[0] for k in ("state", "kind", "q", "after")}
            )
        )

    @pages.post("/collections/{selector}/{what}")
    async def collection_work(request: Request, ctx: Ctx, selector: str, what: str) -> Response:
        await _form(request)
        if what == "ingest":
            from retrovue.app.collection_ingest import IngestRequest, ingest_collection

            await run_in_threadpool(ingest_collection, ctx, IngestRequest(selector))
        elif what in ("enrich", "retry-failed"):
            await run_in_threadpool(enriched, ctx, selector, False, what == "retry-failed")
        else:
            raise UsageError(f"Unknown action {what[:40]!r}")
        return _back(_collection_url(selector))

    @pages.post("/locks/release")
    async def release(request: Request, ctx: Ctx) -> Response:
        form = await _form(request)
        source = (form.get("source") or [None])[0] or None
        scope = await run_in_threadpool(admin.lock_scope, ctx, source)
        await run_in_threadpool(admin.release_lock, ctx, False, scope)
        return _back("/")

    return pages


def _approved(form: dict) -> bool:
    action = (form.get("action") or [""])[0]
    if action not in ("approve", "unapprove"):
        raise UsageError("Say approve or unapprove")
    return action == "approve"
