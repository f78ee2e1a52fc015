"""Configuration counted through one node's paged Admin API lists, for when there is no
datastore to read (DB-less control planes, Kong OSS): services, routes, consumers,
workspaces, RBAC users, plugins and a hybrid control plane's data planes."""

from __future__ import annotations

import urllib.parse
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import aiohttp
import pydantic

from license_report.api import errors
from license_report.report import admin_api, models, plugins
from license_report.sources import kong

_T = TypeVar("_T")
_Model = TypeVar("_Model", bound=pydantic.BaseModel)


async def _together(requests: Iterable[Coroutine[Any, Any, _T]]) -> list[_T]:
    """Run ``requests`` at once and return their results in order, or the first failure."""
    async with kong.first_failure() as group:
        tasks = [group.create_task(request) for request in requests]
    return [task.result() for task in tasks]


async def _pages(
    *,
    session: aiohttp.ClientSession,
    base_url: str,
    route: kong.Route,
    path: str,
    settings: kong.ClientSettings,
) -> list[admin_api.Page] | None:
    """Every page of a paged list, following ``next`` as Kong gives it; ``None`` on 404."""
    pages: list[admin_api.Page] = []
    url = kong.join(base_url, f"{path}?size={settings.page_size}")
    seen: set[str] = set()
    while True:
        body = await kong.get_body(
            session=session, url=url, route=route, settings=settings, allow_404=not pages
        )
        if body is None:
            return None
        page = kong.parse_body(body, admin_api.Page, what=f"GET {path}")
        pages.append(page)
        if not page.next:
            return pages
        if page.next in seen or len(pages) >= settings.max_pages:
            raise kong.NodeError(
                errors.Reason.BAD_RESPONSE,
                f"GET {path}: paging does not end (next={kong.short(page.next)})",
            )
        seen.add(page.next)
        if not page.next.startswith("/"):
            raise kong.NodeError(
                errors.Reason.BAD_RESPONSE, f"GET {path}: next is not a path on this node"
            )
        url = kong.join(base_url, page.next)


async def _count(
    *,
    session: aiohttp.ClientSession,
    base_url: str,
    route: kong.Route,
    path: str,
    settings: kong.ClientSettings,
    if_absent: int,
) -> int:
    pages = await _pages(
        session=session, base_url=base_url, route=route, path=path, settings=settings
    )
    return if_absent if pages is None else sum(len(page.data) for page in pages)


def _workspace_names(pages: list[admin_api.Page] | None) -> list[str]:
    names = []
    for page in pages or []:
        for item in page.data:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str):
                names.append(name)
    return names or ["default"]


def _items(
    pages: Sequence[list[admin_api.Page] | None], model: type[_Model], *, what: str
) -> list[_Model]:
    items = []
    for page in (page for listing in pages for page in listing or []):
        for item in page.data:
            try:
                items.append(model.model_validate(item))
            except pydantic.ValidationError as error:
                first = error.errors(include_input=False, include_url=False)[0]
                where = ".".join(str(part) for part in first["loc"]) or "item"
                raise kong.NodeError(
                    errors.Reason.BAD_RESPONSE, f"GET {what}: unexpected item shape at {where}"
                ) from None
    return items


async def count_entities(
    *,
    session: aiohttp.ClientSession,
    base_url: str,
    settings: kong.ClientSettings,
    data_planes: bool = False,
) -> models.EntityCounts:
    """Count configuration through one node's paged lists (used when there is no datastore).

    Kong Enterprise scopes lists to a workspace: the unprefixed path is the
    default one, so with several workspaces each is counted under its prefix.
    ``/workspaces`` and ``/rbac/users`` answer 404 on Kong OSS: 1 and 0.
    Routes and plugins are read, not only counted, for Kong 3.5's plugin
    figures. ``data_planes``: the node is a hybrid control plane, and its
    ``/clustering/data-planes`` is counted too. ``base_url`` is the node's target
    URL: a forwarded node is reached through a port-forward of its own (`reach`).
    """
    async with kong.reach(url=base_url, settings=settings, session=session) as (own, route):
        return await _count_entities(
            session=own, base_url=base_url, route=route, settings=settings, data_planes=data_planes
        )


async def _count_entities(
    *,
    session: aiohttp.ClientSession,
    base_url: str,
    route: kong.Route,
    settings: kong.ClientSettings,
    data_planes: bool,
) -> models.EntityCounts:
    workspace_pages = await _pages(
        session=session, base_url=base_url, route=route, path="/workspaces", settings=settings
    )
    workspaces = _workspace_names(workspace_pages)
    prefixes = (
        [""]
        if len(workspaces) == 1
        else [f"/{urllib.parse.quote(ws, safe='')}" for ws in workspaces]
    )

    async def listing(path: str) -> list[list[admin_api.Page] | None]:
        """Every workspace's pages of ``path`` (None where it answered 404)."""
        return await _together(
            _pages(
                session=session,
                base_url=base_url,
                route=route,
                path=prefix + path,
                settings=settings,
            )
            for prefix in prefixes
        )

    async def total(path: str, *, if_absent: int) -> int:
        return sum(
            if_absent if pages is None else sum(len(page.data) for page in pages)
            for pages in await listing(path)
        )

    async def dp_count() -> int | None:
        if not data_planes:
            return None
        return await _count(
            session=session,
            base_url=base_url,
            route=route,
            path="/clustering/data-planes",
            settings=settings,
            if_absent=0,
        )

    async with kong.first_failure() as group:
        services = group.create_task(total("/services", if_absent=0))
        route_pages = group.create_task(listing("/routes"))
        consumers = group.create_task(total("/consumers", if_absent=0))
        plugin_pages = group.create_task(listing("/plugins"))
        rbac_users = group.create_task(total("/rbac/users", if_absent=0))
        dps = group.create_task(dp_count())
    routes = _items(route_pages.result(), admin_api.Route, what="/routes")
    serviceless = {item.id for item in routes if item.service is None}
    return models.EntityCounts(
        services=services.result(),
        routes=len(routes),
        consumers=consumers.result(),
        workspaces=len(workspaces) if workspace_pages is not None else 1,
        rbac_users=rbac_users.result(),
        plugins=plugins.usage(
            _items(plugin_pages.result(), admin_api.Plugin, what="/plugins"),
            serviceless_routes=serviceless,
        ),
        data_planes=dps.result(),
    )
