"""The emulated cluster's state: what a real API server does to objects, without HTTP.

Objects live in a `kmock.ObjectsArray` (so tests can assert on them, with their
history, the kmock way), keyed by the storage version's resource. On top of it
this module keeps the server's rules:

- server-set metadata: ``uid``, ``resourceVersion`` (one global counter, bumped
  by every write and never by a no-op write, as etcd does), ``generation``
  (1 on create, +1 when anything but metadata, and status where a status
  subresource exists, changes), ``creationTimestamp``;
- optimistic concurrency (409 Conflict on a stale ``resourceVersion``);
- the status subresource: writes to the object keep ``.status``, writes to
  ``/status`` change nothing else;
- finalizers: DELETE only sets ``deletionTimestamp`` while finalizers remain,
  and the write that removes the last one removes the object;
- garbage collection: removing an object deletes the objects whose
  ``ownerReferences`` name its uid (only the reference goes when another owner
  still exists); ``propagationPolicy: Orphan`` strips the references instead.
  Foreground deletion is treated as background;
- namespaces: every object's namespace exists (created on first use, as if
  someone had applied it) and ``default`` always does; deleting a namespace
  deletes what is in it;
- CustomResourceDefinitions: storing one serves its kinds, deleting it stops
  serving them and deletes their objects; their objects are pruned and
  defaulted by the version's structural schema on every write (`schemas`), and
  ``fieldValidation=Strict`` refuses unknown fields instead of pruning them;
- every write goes to the `changes.ChangeLog` that watches follow.

Everything here is synchronous and runs on the event loop's thread, so each
write is atomic with respect to readers and watchers without locks.
"""

from __future__ import annotations

import copy
import datetime
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import kmock

from license_report_sandbox.kubeapi import (
    changes,
    errors,
    patching,
    resources,
    rules,
    schemas,
    selectors,
)
from license_report_sandbox.kubeapi.resources import Body, Kind

#: `Store._update`'s "replace status too" mode, for `Store.upsert` only (no HTTP path has it).
_WHOLE = "*"

Key = tuple[kmock.resource, str | None, str]
_meta = rules.meta


def _decode(kind: Kind, obj: Body, *, field_validation: str | None) -> None:
    """What decoding a custom resource does to it: prune and default by its schema, in place.

    ``fieldValidation=Strict`` makes an unknown field an error (Warn, the default, and
    Ignore prune it; a real server's Warn also sends a ``Warning`` header, not done here).
    """
    if kind.schema is None:
        return
    dropped = schemas.apply(obj, kind.schema)
    if dropped and field_validation == "Strict":
        unknown = ", ".join(f'unknown field "{path}"' for path in dropped)
        raise errors.bad_request(
            f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}:'
            f" strict decoding error: {unknown}"
        )


class Store:
    """Objects, kinds and the change log of one emulated cluster."""

    def __init__(
        self,
        *,
        objects: kmock.ObjectsArray | None = None,
        now: Callable[[], datetime.datetime] = rules.utcnow,
        history: int = 10_000,
    ) -> None:
        self.objects = objects if objects is not None else kmock.ObjectsArray()
        self.changes = changes.ChangeLog(history=history)
        self._now = now
        self._kinds: dict[tuple[str, str, str], Kind] = {}
        self._crd_kinds: dict[str, list[Kind]] = {}
        self._rv = 0
        for kind in resources.BUILTINS:
            self.register(kind)
        self._ensure_namespace(rules.DEFAULT_NAMESPACE)

    # --- kinds ------------------------------------------------------------------------------

    def register(self, kind: Kind) -> None:
        self._kinds[kind.group, kind.version, kind.plural] = kind

    def unregister(self, group: str, plural: str) -> None:
        for key in [k for k in self._kinds if (k[0], k[2]) == (group, plural)]:
            del self._kinds[key]

    def kinds(self) -> list[Kind]:
        return list(self._kinds.values())

    def kind(self, group: str, version: str, plural: str) -> Kind | None:
        return self._kinds.get((group, version, plural))

    def kind_of(self, api_version: str, kind_name: str) -> Kind | None:
        """The kind an object body declares (``apiVersion`` + ``kind``)."""
        group, _, version = api_version.rpartition("/")
        for kind in self._kinds.values():
            if (kind.group, kind.version, kind.kind) == (group, version, kind_name):
                return kind
        return None

    def _storage_kind(self, group_plural: tuple[str, str]) -> Kind | None:
        for kind in self._kinds.values():
            if kind.group_plural == group_plural and kind.version == kind.stored_in:
                return kind
        return None

    # --- reading ----------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def _key(self, kind: Kind, namespace: str | None, name: str) -> Key:
        resource = kmock.resource(kind.group, kind.stored_in, kind.plural)
        return resource, namespace if kind.namespaced else None, name

    def _current(self, key: Key) -> Body | None:
        if key not in self.objects:
            return None
        obj = self.objects[key]
        return None if obj.deleted else obj.raw

    def _live(self) -> Iterator[tuple[Key, Body]]:
        for key, obj in list(self.objects.items()):
            if not obj.deleted:
                yield key, obj.raw

    def get(self, kind: Kind, namespace: str | None, name: str) -> Body:
        obj = self._current(self._key(kind, namespace, name))
        if obj is None:
            raise errors.not_found(kind, name)
        return resources.as_version(kind, obj)

    def select(
        self, kind: Kind, namespace: str | None, test: selectors.Predicate | None = None
    ) -> list[Body]:
        """Matching objects in etcd's order (namespace, then name)."""
        found = []
        for (resource, ns, name), obj in self._live():
            if (resource.group, resource.plural) != kind.group_plural:
                continue
            if namespace is not None and ns != namespace:
                continue
            if test is None or test(obj):
                found.append(((ns or "", name), resources.as_version(kind, obj)))
        return [obj for _, obj in sorted(found, key=lambda pair: pair[0])]

    def watch(
        self,
        kind: Kind,
        *,
        namespace: str | None,
        name: str | None,
        test: selectors.Predicate | None,
        since: str | None,
        timeout: float | None,
    ) -> AsyncIterator[Body]:
        """Watch events (``{"type", "object"}``) for one kind, as a stream of dicts.

        Without a ``resourceVersion`` (or with "0") the stream starts with an
        ADDED event per existing object; with one it replays later changes
        only. Validation errors raise here, before the stream starts, so that
        they become HTTP errors rather than stream events.
        """

        def wanted(obj: Mapping[str, Any]) -> bool:
            meta = _meta(obj)
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            if name is not None and meta.get("name") != name:
                return False
            return test is None or test(obj)

        initial: list[Body] = []
        if since in (None, "", "0"):
            existing = self.select(kind, namespace, wanted)
            initial = [{"type": "ADDED", "object": obj} for obj in existing]
            cursor = self._rv
        else:
            try:
                cursor = int(str(since))
            except ValueError:
                raise errors.bad_request(f"invalid resourceVersion: {since!r}") from None
        return self.changes.stream(
            kind, wanted=wanted, initial=initial, cursor=cursor, timeout=timeout
        )

    def close(self) -> None:
        """End every watch (the server is going away)."""
        self.changes.close()

    # --- writing ----------------------------------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _record(self, kind: Kind, type_: changes.EventType, old: Body | None, new: Body) -> None:
        rv = int(_meta(new)["resourceVersion"])
        self.changes.record(changes.Change(rv, kind.group_plural, type_, old, new))

    def create(
        self,
        kind: Kind,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        keep_status: bool = False,
        field_validation: str | None = None,
    ) -> Body:
        """POST: a new object with server metadata; 409 if the name is taken.

        ``keep_status`` keeps a given ``.status`` where the server would drop it
        (custom resources, pods): for tests and the sandbox playing the part
        of a controller or kubelet, never for HTTP clients.
        """
        body = rules.check_body(kind, body)
        namespace = rules.namespace_for(kind, namespace, body)
        meta = _meta(body)
        name = str(meta.get("name") or "")
        if not name:
            prefix = meta.get("generateName")
            if not prefix:
                raise errors.invalid(
                    kind, "", "metadata.name", "Required value: name or generateName is required"
                )
            name = self._generate_name(kind, namespace, str(prefix))
        rules.check_name(kind, name)
        key = self._key(kind, namespace, name)
        if self._current(key) is not None:
            raise errors.already_exists(kind, name)

        obj: Body = {"apiVersion": kind.api_version, "kind": kind.kind}
        obj.update(copy.deepcopy({k: v for k, v in body.items() if k not in obj}))
        new_meta = {k: v for k, v in meta.items() if k not in rules.SERVER_FIELDS}
        new_meta["name"] = name
        new_meta.pop("namespace", None)
        if namespace is not None:
            new_meta["namespace"] = namespace
        new_meta["uid"] = str(uuid.uuid4())
        new_meta["creationTimestamp"] = rules.timestamp(self._now())
        if kind.generation:
            new_meta["generation"] = 1
        obj["metadata"] = copy.deepcopy(new_meta)
        if kind.reset_status_on_create and not keep_status:
            obj.pop("status", None)
        if "status" not in obj and kind.initial_status is not None:
            obj["status"] = copy.deepcopy(dict(kind.initial_status))
        if (kind.group, kind.plural) == ("", "namespaces"):
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        _decode(kind, obj, field_validation=field_validation)
        crd_kinds = self._crd_prepare(kind, obj)
        rules.check_size(kind, name, obj)
        if dry_run:
            return resources.as_version(kind, obj)

        if namespace is not None:
            self._ensure_namespace(namespace)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        storage = self._storage_kind(kind.group_plural) or kind
        obj["apiVersion"] = storage.api_version
        if key in self.objects:
            self.objects[key].create(obj)  # a new life after a deletion; kmock keeps the history
        else:
            self.objects[key] = obj
        self._record(kind, "ADDED", None, obj)
        self._crd_commit(obj, crd_kinds)
        return resources.as_version(kind, obj)

    def _generate_name(self, kind: Kind, namespace: str | None, prefix: str) -> str:
        for _ in range(16):
            name = rules.generated_name(prefix)
            if self._current(self._key(kind, namespace, name)) is None:
                return name
        raise errors.already_exists(kind, prefix)  # as a real server does after its retries

    def _ensure_namespace(self, name: str) -> None:
        namespaces = self._kinds["", "v1", "namespaces"]
        if self._current(self._key(namespaces, None, name)) is None:
            self.create(namespaces, None, {"metadata": {"name": name}})

    def replace(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str | None = None,
    ) -> Body:
        """PUT: replace the object (or only its status), with optimistic concurrency."""
        body = rules.check_body(kind, body)
        key = self._key(kind, namespace, name)
        old = self._current(key)
        if old is None:
            raise errors.not_found(kind, name)
        meta = _meta(body)
        if meta.get("name") != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name') or ''}) does not match the name on"
                f" the URL ({name})"
            )
        if kind.namespaced and meta.get("namespace") not in (None, "", namespace):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the"
                " request"
            )
        if not meta.get("resourceVersion") and not kind.unconditional_update:
            raise errors.invalid(
                kind,
                name,
                "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update",
            )
        return self._update(
            kind,
            key,
            old,
            body,
            subresource=subresource,
            dry_run=dry_run,
            field_validation=field_validation,
        )

    def patch(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> tuple[Body, bool]:
        """PATCH in any supported content type; returns the object and whether it was created.

        A ``metadata.resourceVersion`` in the patched result that differs from
        the stored one is a precondition and fails with 409, as in Kubernetes.
        """
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in patching.SUPPORTED:
            raise errors.unsupported_media_type(content_type)
        key = self._key(kind, namespace, name)
        old = self._current(key)
        if media == patching.APPLY_YAML:
            if not field_manager:
                raise errors.bad_request("fieldManager is required for apply requests")
            if old is None:
                if not isinstance(body, Mapping):
                    raise errors.bad_request("the body of an apply patch must be an object")
                applied = {**body, "metadata": {**_meta(body), "name": name}}
                created = self.create(
                    kind, namespace, applied, dry_run=dry_run, field_validation=field_validation
                )
                return created, True
        if old is None:
            raise errors.not_found(kind, name)
        try:
            served = resources.as_version(kind, old)
            candidate = patching.apply(media, copy.deepcopy(served), body)
        except patching.PatchError as exc:
            if exc.status == 422:
                raise errors.unprocessable(str(exc)) from None
            raise errors.bad_request(str(exc)) from None
        if not isinstance(candidate, Mapping) or not isinstance(
            candidate.get("metadata", {}), Mapping
        ):
            raise errors.unprocessable("the patched object is not a Kubernetes object")
        if _meta(candidate).get("name") != name:
            raise errors.invalid(kind, name, "metadata.name", "Invalid value: field is immutable")
        result = self._update(
            kind,
            key,
            old,
            candidate,
            subresource=subresource,
            dry_run=dry_run,
            field_validation=field_validation,
        )
        return result, False

    def _update(
        self,
        kind: Kind,
        key: Key,
        old: Body,
        candidate: Mapping[str, Any],
        *,
        subresource: str | None,
        dry_run: bool,
        field_validation: str | None = None,
    ) -> Body:
        name = key[2]
        wanted_rv = _meta(candidate).get("resourceVersion")
        if wanted_rv and wanted_rv != _meta(old).get("resourceVersion"):
            raise errors.conflict(kind, name)
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in candidate:
                new["status"] = copy.deepcopy(candidate["status"])
            else:
                new.pop("status", None)
        elif subresource in (None, _WHOLE):
            new = copy.deepcopy(dict(candidate))
            if kind.status_subresource and subresource is None:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
        else:
            raise errors.method_not_allowed(f"{kind.plural}/{subresource}")

        old_meta = _meta(old)
        meta = {k: v for k, v in _meta(new).items() if k not in ("selfLink", "managedFields")}
        for field in rules.IMMUTABLE_FIELDS:
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        meta["resourceVersion"] = old_meta.get("resourceVersion")
        added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
        if old_meta.get("deletionTimestamp") and added:
            raise errors.invalid(
                kind,
                name,
                "metadata.finalizers",
                f"Forbidden: no new finalizers can be added if the object is being deleted,"
                f" found new finalizers {sorted(added)}",
            )
        new["metadata"] = meta
        new["apiVersion"] = old["apiVersion"]
        new["kind"] = kind.kind
        _decode(kind, new, field_validation=field_validation)
        if kind.generation and rules.spec_part(kind, new) != rules.spec_part(kind, old):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        crd_kinds = self._crd_prepare(kind, new)
        rules.check_size(kind, name, new)
        if new == old:
            return resources.as_version(kind, old)  # a no-op changes nothing, not the version
        if dry_run:
            return resources.as_version(kind, new)

        meta["resourceVersion"] = self._next_rv()
        self.objects[key].history.append(new)
        self._record(kind, "MODIFIED", old, new)
        self._crd_commit(new, crd_kinds)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return resources.as_version(kind, self._remove(kind, key, new, orphan=False))
        return resources.as_version(kind, new)

    def upsert(self, body: Mapping[str, Any]) -> Body:
        """Create or replace an object as a controller would, status included (no HTTP rules).

        For tests and the sandbox: the object's ``apiVersion`` and ``kind`` say
        which resource it is; namespaced objects default to ``default``.
        """
        kind = self.kind_of(str(body.get("apiVersion", "")), str(body.get("kind", "")))
        if kind is None:
            raise LookupError(f"no served resource for {body.get('apiVersion')} {body.get('kind')}")
        meta = _meta(body)
        namespace = (meta.get("namespace") or rules.DEFAULT_NAMESPACE) if kind.namespaced else None
        key = self._key(kind, namespace, str(meta.get("name", "")))
        old = self._current(key) if meta.get("name") else None
        if old is None:
            return self.create(kind, namespace, body, keep_status=True)
        candidate = {**body, "metadata": {**meta, "resourceVersion": None}}
        return self._update(kind, key, old, candidate, subresource=_WHOLE, dry_run=False)

    # --- deleting ---------------------------------------------------------------------------

    def delete(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        *,
        options: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Body:
        """DELETE: mark (finalizers pending) or remove, then collect dependents."""
        key = self._key(kind, namespace, name)
        old = self._current(key)
        if old is None:
            raise errors.not_found(kind, name)
        if (kind.group, kind.plural) == ("", "namespaces") and name in rules.UNDELETABLE_NAMESPACES:
            raise errors.forbidden(kind, name, "this namespace may not be deleted")
        options = options or {}
        old_meta = _meta(old)
        preconditions = options.get("preconditions") or {}
        for field in ("uid", "resourceVersion"):
            expected = preconditions.get(field)
            if expected and expected != old_meta.get(field):
                raise errors.precondition_failed(
                    kind,
                    name,
                    f"Precondition failed: {field} in precondition: {expected},"
                    f" {field} in object meta: {old_meta.get(field)}",
                )
        policy = options.get("propagationPolicy")
        if policy is None:
            policy = "Orphan" if options.get("orphanDependents") else "Background"
        if policy not in ("Orphan", "Background", "Foreground"):
            raise errors.bad_request(f"propagationPolicy: Unsupported value: {policy!r}")
        if dry_run:
            return resources.as_version(kind, old)
        if old_meta.get("finalizers"):
            if old_meta.get("deletionTimestamp"):
                return resources.as_version(kind, old)
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = rules.timestamp(self._now())
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["metadata"]["resourceVersion"] = self._next_rv()
            self.objects[key].history.append(new)
            self._record(kind, "MODIFIED", old, new)
            if policy == "Orphan":
                self._orphan(str(old_meta.get("uid")))
            return resources.as_version(kind, new)
        final = self._remove(kind, key, old, orphan=policy == "Orphan")
        if kind.delete_returns_object:
            return resources.as_version(kind, final)
        return {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "group": kind.group,
                "kind": kind.plural,
                "uid": old_meta.get("uid"),
            },
        }

    def begin_graceful_deletion(
        self, kind: Kind, namespace: str | None, name: str, *, grace_seconds: int
    ) -> Body:
        """A pod's first DELETE on a real server: it stays, marked ``deletionTimestamp`` =
        now + grace (a time in the future, when the kubelet will kill it) and
        ``deletionGracePeriodSeconds`` (kubernetes release-1.34
        staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go:163-165), until the kubelet
        deletes it for good (`delete`). Our HTTP DELETE removes pods at once; this is for
        tests and the sandbox playing the Deployment controller and the kubelet."""
        key = self._key(kind, namespace, name)
        old = self._current(key)
        if old is None:
            raise errors.not_found(kind, name)
        if _meta(old).get("deletionTimestamp"):
            return resources.as_version(kind, old)
        new = copy.deepcopy(old)
        when = self._now() + datetime.timedelta(seconds=grace_seconds)
        new["metadata"]["deletionTimestamp"] = rules.timestamp(when)
        new["metadata"]["deletionGracePeriodSeconds"] = grace_seconds
        new["metadata"]["resourceVersion"] = self._next_rv()
        self.objects[key].history.append(new)
        self._record(kind, "MODIFIED", old, new)
        return resources.as_version(kind, new)

    def delete_collection(
        self,
        kind: Kind,
        namespace: str | None,
        test: selectors.Predicate | None,
        *,
        options: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> list[Body]:
        deleted = []
        for obj in self.select(kind, namespace, test):
            meta = _meta(obj)
            result = self.delete(
                kind, meta.get("namespace"), meta["name"], options=options, dry_run=dry_run
            )
            deleted.append(result if result.get("kind") == kind.kind else obj)
        return deleted

    def _remove(self, kind: Kind, key: Key, obj: Body, *, orphan: bool) -> Body:
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = self._next_rv()
        self.objects[key].delete()
        self._record(kind, "DELETED", obj, final)
        uid = str(_meta(obj).get("uid"))
        if (kind.group, kind.plural) == ("", "namespaces"):
            self._empty_namespace(key[2])
        if resources.is_crd(kind):
            self._crd_removed(obj)
        if orphan:
            self._orphan(uid)
        else:
            self._collect(uid)
        return final

    def _dependents(self, uid: str) -> list[tuple[Key, Body]]:
        return [
            (key, obj)
            for key, obj in self._live()
            if any(ref.get("uid") == uid for ref in _meta(obj).get("ownerReferences") or ())
        ]

    def _kind_for_key(self, key: Key) -> Kind | None:
        return self._storage_kind((key[0].group or "", key[0].plural or ""))

    def _without_owner(self, key: Key, obj: Body, uid: str) -> None:
        kind = self._kind_for_key(key)
        if kind is None:
            return
        refs = [ref for ref in _meta(obj).get("ownerReferences") or () if ref.get("uid") != uid]
        candidate = copy.deepcopy(obj)
        if refs:
            candidate["metadata"]["ownerReferences"] = refs
        else:
            candidate["metadata"].pop("ownerReferences", None)
        self._update(kind, key, obj, candidate, subresource=None, dry_run=False)

    def _orphan(self, uid: str) -> None:
        for key, obj in self._dependents(uid):
            self._without_owner(key, obj, uid)

    def _collect(self, uid: str) -> None:
        """The garbage collector, run at once: dependents go, unless another owner remains."""
        for key, _ in self._dependents(uid):
            current = self._current(key)  # an earlier cascade may have removed or changed it
            kind = self._kind_for_key(key)
            if current is None or kind is None:
                continue
            others = [
                ref for ref in _meta(current).get("ownerReferences") or () if ref.get("uid") != uid
            ]
            if others:  # only then look for live owners: a scan of every object per dependent
                alive = {_meta(o).get("uid") for _, o in self._live()}
                others = [ref for ref in others if ref.get("uid") in alive]
            if others:
                self._without_owner(key, current, uid)
            else:
                self.delete(kind, key[1], key[2])

    def _empty_namespace(self, namespace: str) -> None:
        for key, _ in list(self._live()):
            kind = self._kind_for_key(key)
            if key[1] == namespace and kind is not None and self._current(key) is not None:
                self.delete(kind, namespace, key[2])

    # --- custom resource definitions --------------------------------------------------------

    def _crd_prepare(self, kind: Kind, obj: Body) -> list[Kind] | None:
        """Validate a CRD about to be stored and set the status its controller would."""
        if not resources.is_crd(kind):
            return None
        try:
            kinds = resources.kinds_from_crd(obj)
        except resources.InvalidDefinition as exc:
            raise errors.invalid(kind, str(_meta(obj).get("name")), "spec", str(exc)) from None
        since = _meta(obj).get("creationTimestamp") or rules.timestamp(self._now())
        obj["status"] = resources.crd_status(obj, since=str(since))
        return kinds

    def _crd_commit(self, obj: Body, kinds: list[Kind] | None) -> None:
        if kinds is None:
            return
        name = str(_meta(obj)["name"])
        for old in self._crd_kinds.pop(name, []):
            self.unregister(old.group, old.plural)
        for kind in kinds:
            self.register(kind)
        self._crd_kinds[name] = kinds

    def _crd_removed(self, crd: Body) -> None:
        kinds = self._crd_kinds.pop(str(_meta(crd)["name"]), [])
        for kind in kinds:
            if kind.version == kind.stored_in:
                for key, _ in list(self._live()):
                    if (key[0].group, key[0].plural) == kind.group_plural:
                        self.delete(kind, key[1], key[2])
        for kind in kinds:
            self.unregister(kind.group, kind.plural)
