"""The Services page: the catalog as `reseller services list` shows it; an admin takes a
service off sale or puts it back (`catalog.overrides`, audited) and syncs it from the
providers now."""

from __future__ import annotations

from typing import Any, NoReturn

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from reseller import errors, money
from reseller.catalog import listing, overrides
from reseller.catalog import sync as catalog_sync
from reseller.console import keys, pages

routes = web.RouteTableDef()


@routes.get("/services")
@aiohttp_jinja2.template("services.html")
async def page(request: web.Request) -> dict[str, Any]:
    lines = await listing.lines(request.app[keys.POOL])
    return await pages.context(
        request,
        currency=request.app[keys.CONFIG].current.api.currency,
        services=lines,
        amount=money.format_amount,
    )


@routes.post("/services/{id:\\d+}/disable")
async def disable(request: web.Request) -> NoReturn:
    service_id = _id(request)
    reason = str((await request.post()).get("reason", "")).strip()

    async def work() -> str:
        await overrides.disable(
            request.app[keys.POOL], service_id, by=pages.actor(request, reason or None)
        )
        return (
            f"service {service_id}: disabled by operator ({reason}); every sync and reload"
            " keeps it off sale until it is enabled again"
        )

    await pages.act(request, "/services", work())


@routes.post("/services/{id:\\d+}/enable")
async def enable(request: web.Request) -> NoReturn:
    service_id = _id(request)

    async def work() -> str:
        rebuilt = await overrides.enable(
            request.app[keys.POOL],
            request.app[keys.CONFIG].current,
            service_id,
            by=pages.actor(request),
        )
        now = overrides.state(rebuilt, service_id)
        changes = (line.strip() for line in catalog_sync.change_lines(rebuilt.changes))
        return f"service {service_id}: no longer disabled by operator; {now}; {'; '.join(changes)}"

    await pages.act(request, "/services", work())


@routes.post("/services/sync")
async def sync(request: web.Request) -> web.StreamResponse:
    """The report is the page shown (too long for a message): a reload only shows the catalog."""
    app = request.app
    try:
        report = await catalog_sync.sync(
            app[keys.POOL],
            app[keys.CONFIG].current,
            app[keys.UPSTREAMS],
            refuse_to_empty=True,
            by=pages.actor(request),
        )
    except errors.CatalogWouldEmpty as exc:
        pages.flash(await get_session(request), "error", f"{exc.message}; nothing changed")
        raise web.HTTPSeeOther("/services") from None
    return aiohttp_jinja2.render_template(
        "services_sync.html",
        request,
        await pages.context(request, lines=catalog_sync.report_lines(report), failed=report.failed),
    )


def _id(request: web.Request) -> int:
    service_id = int(request.match_info["id"])
    if service_id >= 2**31:
        raise web.HTTPNotFound()
    return service_id
