"""The HTTP face of the emulated API server: kmock's scaffold plus this package's store.

`Emulator` is a `kmock.KubernetesScaffold` (kmock's stateless Kubernetes-shaped
handler: request log, reaction DSL, ``Status`` error bodies) with one reaction
of its own, just above kmock's fallbacks, that answers every request from the
`store.Store`: discovery, lists, watches, reads and writes. Reactions a test
declares (``emulator["list v1/pods"] << 500``) still win over it, which is how
tests inject API failures.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
import kmock
import yaml
from aiohttp import web

from license_report_sandbox.kubeapi import (
    discovery,
    errors,
    openapi,
    patching,
    portforward,
    selectors,
    store,
    tables,
)
from license_report_sandbox.kubeapi.resources import Body, Kind

#: kmock 0.8 cannot parse the paths of the namespaces resource itself (``/api/v1/namespaces``
#: raises inside its parser; ``/api/v1/namespaces/x`` reads as namespace ``x`` of no resource).
#: Before kmock sees them they become ``/api/v1/namespaces/-/namespaces/...``, which it parses
#: into resource ``v1/namespaces``; the ``-`` is then ignored, namespaces being cluster-wide.
_NAMESPACE_PATH = re.compile(
    r"^/api/v1/namespaces(?:/(?P<name>[^/]+)(?P<sub>/(?:status|finalize))?)?/?$"
)
_SENTINEL = "-"

_PUBLIC_PATHS = frozenset({"/version", *discovery.HEALTH_PATHS})


def kmock_path(path: str) -> str:
    """The path to give kmock's parser (see `_NAMESPACE_PATH`)."""
    match = _NAMESPACE_PATH.match(path)
    if match is None:
        return path
    return "/api/v1/namespaces/-/namespaces" + (
        f"/{match['name']}{match['sub'] or ''}" if match["name"] else ""
    )


def public_path(path: str) -> bool:
    """Paths a real API server answers without credentials."""
    return path in _PUBLIC_PATHS


def _header(request: kmock.Request, name: str) -> str:
    for key, value in request.headers.items():
        if key.lower() == name:
            return str(value)
    return ""


def _continued(params: Mapping[str, str]) -> tuple[int, str | None]:
    """The ``continue`` token's offset and the snapshot it pages (None: the list as it is)."""
    token = params.get("continue")
    if not token:
        return 0, None
    try:
        fields = json.loads(base64.urlsafe_b64decode(token))
        snapshot = fields.get("snapshot")
        return int(fields["offset"]), None if snapshot is None else str(snapshot)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise errors.bad_request(f"continue key is not valid: {token!r}") from None


#: Paged lists whose next page is still to be asked: a few clients at a time page here.
MAX_SNAPSHOTS = 64


def _page(
    items: list[Body], params: Mapping[str, str], *, snapshot: str | None = None
) -> tuple[list[Body], str | None, int]:
    """``limit`` and ``continue``: one page of ``items``, and the token for the next (an
    offset into ``items``, and ``snapshot``, the name `Emulator` keeps them under)."""
    offset, _ = _continued(params)
    try:
        limit = int(params.get("limit") or 0)
    except ValueError:
        raise errors.bad_request(f"invalid limit: {params.get('limit')!r}") from None
    if limit <= 0:
        return items[offset:], None, 0
    page = items[offset : offset + limit]
    remaining = len(items) - offset - len(page)
    if remaining <= 0:
        return page, None, 0
    fields: dict[str, Any] = {"offset": offset + limit}
    if snapshot is not None:
        fields["snapshot"] = snapshot
    token = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()
    return page, token, remaining


def _respond(status: int, payload: kmock.Payload) -> kmock.Payload:
    """A response with its status; every one has the same headers, since kmock merges a
    callable's response headers into its reaction for good (a stray header would stick)."""
    # kmock 0.8 exports Response at run time but leaves it out of its __all__.
    response: kmock.Payload = kmock.Response(  # type: ignore[attr-defined]
        status=status, payload=payload, headers={"Content-Type": "application/json"}
    )
    return response


def _json(status: int, payload: Body) -> kmock.Payload:
    return _respond(status, payload)


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesScaffold):
    """A Kubernetes API server in memory: kmock's scaffold answering from a `store.Store`.

    Use `serve` (in ``license_report_sandbox.kubeapi``) to run it over HTTP(S)
    with a token; or, as any kmock handler, ``kmock.Server(emulator)``.
    """

    store: store.Store = attrs.field(factory=store.Store)
    #: The pods' loopback listeners and who may port-forward (`portforward`; served by `serve`).
    pod_network: portforward.PodNetwork = attrs.field(factory=portforward.PodNetwork)
    #: Paged lists by snapshot name, kept from their first page to their last (oldest first).
    _snapshots: dict[str, list[Body]] = attrs.field(factory=dict, init=False)
    _snapshot_count: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # Just above kmock's own fallbacks (whose discovery this replaces), below test reactions.
        # No criterion: kmock decides whether a reaction sees a request by walking its whole
        # request log through the reaction's filters, and a callable criterion there costs an
        # ``inspect.signature`` per logged request (quadratic: 200 runs at once took a minute).
        (self.fallback**1) << self._serve

    @property
    def objects(self) -> kmock.ObjectsArray:
        """Every object, kmock-style: ``objects["v1/pods", "ns", "name"] >= {...}``, history."""
        return self.store.objects

    async def __call__(self, raw_request: web.BaseRequest) -> web.StreamResponse:
        path = kmock_path(raw_request.path)
        if path != raw_request.path:
            query = raw_request.rel_url.query_string
            raw_request = raw_request.clone(rel_url=path + (f"?{query}" if query else ""))
        response: web.StreamResponse = await super().__call__(raw_request)
        return response

    # --- in-process helpers -----------------------------------------------------------------

    def upsert(self, obj: Mapping[str, Any]) -> Body:
        """Create or replace an object, status included, as a controller would (no HTTP rules).

        (Not ``put``: kmock handlers have ``put(url)``, a client shortcut.)
        """
        return self.store.upsert(obj)

    async def answer(self, request: kmock.Request) -> kmock.Payload:
        """What the emulation answers ``request``: for a test's own reaction that refuses
        some requests and lets the others through, e.g. a flaky API server::

            async def flaky(request):
                if refuse_this_one(request):
                    raise kmock.KubernetesError(status=500, reason="InternalError")
                return await emulator.answer(request)

            emulator[lambda request: request.method == kmock.method.PATCH] << flaky
        """
        return await self._serve(request)

    def register_crd(self, crd: Mapping[str, Any]) -> list[Kind]:
        """Store a CustomResourceDefinition, which serves its kinds (as POSTing it would)."""
        self.upsert(crd)
        group = crd["spec"]["group"]
        plural = crd["spec"]["names"]["plural"]
        return [kind for kind in self.store.kinds() if kind.group_plural == (group, plural)]

    # --- routing ----------------------------------------------------------------------------

    async def _serve(self, request: kmock.Request) -> kmock.Payload:
        path = request.url.path
        resource = request.resource
        kinds = self.store.kinds()
        if path in discovery.HEALTH_PATHS:
            return _respond(200, b"ok")
        if path == "/version":
            return _json(200, discovery.SERVER_VERSION)
        if path == "/":
            return _json(200, discovery.root_paths(kinds))
        if path in ("/api", "/api/"):
            return _json(200, discovery.core_versions(_header(request, "host")))
        if path in ("/apis", "/apis/"):
            return _json(200, discovery.group_list(kinds))
        if path == openapi.ROOT:
            return _json(200, openapi.root(kinds))
        if path.startswith(openapi.ROOT + "/"):
            found = openapi.split(path)
            doc = None if found is None else openapi.document(kinds, *found)
            if doc is None:
                raise errors.no_such_path(path)
            return _json(200, doc)
        if resource is None:
            raise errors.no_such_path(path)
        if resource.plural is None:
            if resource.version is None:
                return _json(200, discovery.group(kinds, resource.group or ""))
            return _json(
                200, discovery.resource_list(kinds, resource.group or "", resource.version)
            )
        return await self._serve_resource(request)

    # --- resources --------------------------------------------------------------------------

    async def _serve_resource(self, request: kmock.Request) -> kmock.Payload:
        resource = request.resource
        assert resource is not None
        assert resource.plural is not None
        kind = self.store.kind(resource.group or "", resource.version or "", resource.plural)
        if kind is None:
            raise errors.no_such_path(request.url.path)
        namespace = request.namespace
        is_namespaces = (kind.group, kind.plural) == ("", "namespaces")
        if kind.namespaced and namespace == _SENTINEL:
            raise errors.no_such_path(request.url.path)
        if not kind.namespaced:
            if namespace is not None and not (is_namespaces and namespace == _SENTINEL):
                raise errors.no_such_path(request.url.path)
            namespace = None
        name = request.name
        sub = request.subresource
        if sub is not None and sub not in kind.subresources:
            raise errors.no_such_path(request.url.path)
        if sub is not None and sub != "status":
            raise errors.method_not_allowed(f"{kind.plural}/{sub}")
        method = request.method.value.upper()
        params = request.params
        dry_run = bool(params.get("dryRun"))
        validation = params.get("fieldValidation")
        watching = params.get("watch") in ("true", "1")

        if method == "GET" and watching:
            as_table = tables.wants_table(_header(request, "accept"))
            return self._watch(kind, namespace, name, params, as_table=as_table)
        if name is None:
            if method == "GET":
                return self._list(kind, namespace, params, _header(request, "accept"))
            if method == "POST":
                if kind.namespaced and namespace is None:
                    raise errors.method_not_allowed(f"POST on all-namespaces {kind.plural}")
                created = self.store.create(
                    kind,
                    namespace,
                    self._body(request),
                    dry_run=dry_run,
                    field_validation=validation,
                )
                return _json(201, created)
            if method == "DELETE":
                test = self._predicate(kind, params)
                deleted = self.store.delete_collection(
                    kind, namespace, test, options=self._delete_options(request), dry_run=dry_run
                )
                listing = {"apiVersion": kind.api_version, "kind": f"{kind.kind}List"}
                return _json(200, {**listing, "metadata": {}, "items": deleted})
            raise errors.method_not_allowed(f"{method} {kind.plural}")
        if method == "GET":
            obj = self.store.get(kind, namespace, name)
            if tables.wants_table(_header(request, "accept")):
                return _json(200, tables.table(kind, [obj], list_rv=None))
            return _json(200, obj)
        if method == "PUT":
            replaced = self.store.replace(
                kind,
                namespace,
                name,
                self._body(request),
                subresource=sub,
                dry_run=dry_run,
                field_validation=validation,
            )
            return _json(200, replaced)
        if method == "PATCH":
            content_type = _header(request, "content-type")
            body: Any
            if content_type.split(";")[0].strip() == patching.APPLY_YAML:
                try:
                    body = yaml.safe_load(request.text)
                except yaml.YAMLError as exc:
                    raise errors.bad_request(f"error decoding YAML: {exc}") from None
            else:
                body = self._body(request)
            patched, was_created = self.store.patch(
                kind,
                namespace,
                name,
                content_type,
                body,
                subresource=sub,
                dry_run=dry_run,
                field_manager=params.get("fieldManager"),
                field_validation=validation,
            )
            return _json(201 if was_created else 200, patched)
        if method == "DELETE":
            options = self._delete_options(request)
            return _json(
                200, self.store.delete(kind, namespace, name, options=options, dry_run=dry_run)
            )
        raise errors.method_not_allowed(f"{method} {kind.plural}/{name}")

    @staticmethod
    def _body(request: kmock.Request) -> Any:
        if request.data is None:
            if not request.body:
                raise errors.bad_request("the request body is empty; an object is required")
            raise errors.bad_request("couldn't get version/kind; json parse error")
        return request.data

    @staticmethod
    def _delete_options(request: kmock.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.body and isinstance(request.data, Mapping):
            options.update(request.data)
        for key in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
            if key in request.params:
                value: Any = request.params[key]
                options[key] = value == "true" if key == "orphanDependents" else value
        return options

    @staticmethod
    def _predicate(kind: Kind, params: Mapping[str, str]) -> selectors.Predicate:
        try:
            return selectors.predicate(
                labels=params.get("labelSelector"),
                fields=params.get("fieldSelector"),
                allowed_fields=kind.selectable_fields,
            )
        except selectors.SelectorError as exc:
            raise errors.bad_request(f"unable to parse requirement: {exc}") from None

    def _list(
        self, kind: Kind, namespace: str | None, params: Mapping[str, str], accept: str
    ) -> kmock.Payload:
        # A real server pages a snapshot (etcd at the first page's revision) and reads only
        # the next page's keys; selecting the whole collection again for every page made a
        # paged list quadratic (10,000 pods in pages of 500: 200,000 label tests). The pages
        # after the first come from the list the first page was cut from.
        _, continued = _continued(params)
        items = self._snapshots.pop(continued, None) if continued is not None else None
        name = continued
        if items is None or name is None:
            items = self.store.select(kind, namespace, self._predicate(kind, params))
            self._snapshot_count += 1
            name = str(self._snapshot_count)
        rv = self.store.resource_version
        metadata: dict[str, Any] = {"resourceVersion": rv}
        page, after, remaining = _page(items, params, snapshot=name)
        if after is not None:
            metadata.update({"continue": after, "remainingItemCount": remaining})
            self._snapshots[name] = items
            while len(self._snapshots) > MAX_SNAPSHOTS:
                del self._snapshots[next(iter(self._snapshots))]
        items = page
        if tables.wants_table(accept):
            return _json(200, tables.table(kind, items, list_rv=rv))
        return _json(
            200,
            {
                "apiVersion": kind.api_version,
                "kind": f"{kind.kind}List",
                "metadata": metadata,
                "items": items,
            },
        )

    def _watch(
        self,
        kind: Kind,
        namespace: str | None,
        name: str | None,
        params: Mapping[str, str],
        *,
        as_table: bool,
    ) -> kmock.Payload:
        test = self._predicate(kind, params)
        timeout_text = params.get("timeoutSeconds")
        try:
            timeout = float(timeout_text) if timeout_text else None
        except ValueError:
            raise errors.bad_request(f"invalid timeoutSeconds: {timeout_text!r}") from None
        events = self.store.watch(
            kind,
            namespace=namespace,
            name=name,
            test=test,
            since=params.get("resourceVersion"),
            timeout=timeout,
        )
        return _respond(200, self._lines(events, kind=kind, as_table=as_table))

    @staticmethod
    async def _lines(
        events: AsyncIterator[Body], *, kind: Kind, as_table: bool
    ) -> AsyncIterator[bytes]:
        """JSON lines; for ``kubectl get -w`` (it asks for tables) each object as a 1-row Table."""
        yield b""  # let kmock send the headers now: clients wait for them before any event
        async for event in events:
            if as_table and event["type"] != "ERROR":
                event = {**event, "object": tables.table(kind, [event["object"]], list_rv=None)}
            yield json.dumps(event).encode() + b"\n"
