"""A Kubernetes API server for tests and the sandbox: kmock made faithful where an operator looks.

Stock kmock 0.8 (``KubernetesEmulator``) falls short of a real API server in
ways an operator notices: no ``uid``, ``resourceVersion``, ``generation`` or
``creationTimestamp`` (kopf then runs a create handler twice); ``labelSelector``
ignored; ``/status`` not separated; no PUT; ``GET /api/v1/namespaces`` answers
500; create answers 200; no ``generateName``; no garbage collection. This
package is the one compatibility layer over it, built on kmock's *scaffold*
(its stateless Kubernetes-shaped handler) with the state and the server's rules
kept here:

- `store` -- objects, server metadata, optimistic concurrency, status
  subresource, finalizers, garbage collection, namespaces, CRDs;
- `rules` -- per-object rules: names, namespaces, server-owned fields, sizes
  (a ConfigMap's or Secret's data 1 MiB, any object etcd's 1.5 MiB; `serving`
  reads request bodies up to the real 3 MiB);
- `changes` -- the change log that watches replay and follow;
- `selectors` -- label (equality and set-based) and field selectors;
- `patching` -- merge, JSON, strategic-merge (approximated) patches;
- `resources` -- served kinds, the built-ins, CRD -> kinds;
- `schemas` -- structural schemas at work: custom resources pruned of
  undeclared fields and defaulted on every write, as kube-apiserver does;
- `discovery`, `openapi`, `tables` -- what kubectl and kopf read besides
  objects: API discovery, the OpenAPI v3 documents that let ``kubectl apply``
  validate server-side and ``kubectl explain`` show a CRD's schema,
  server-side tables from printer columns;
- `emulator` -- HTTP: routing to the above, list (paged by ``limit`` and
  ``continue``)/watch/get/create/replace/patch/delete;
- `serving` -- HTTPS with a trustme CA, a bearer token, kubeconfig, clients,
  and one fault hook: ``KubeAPI.cut_watches()`` ends (or drops) every open watch;
- `portforward` -- ``pods/portforward`` over WebSocket (``v4.channel.k8s.io``),
  written from the kubelet's source: the kubelet side dials a pod's loopback
  listeners (`PodNetwork.listen`, on addresses no Pod object shows) or its IP;
  ``PodNetwork.forbid`` makes RBAC deny it in a namespace;
- `builders` -- realistic Node, Pod (Kong's ports), Service, EndpointSlice, Namespace, CRD
  bodies.

Typical use::

    async with kubeapi.serve() as api:
        api.register_crd(kubeapi.make_crd(group=..., kind=..., plural=...))
        api.put(kubeapi.make_pod("kong-1", "kong", labels={...}, ip="127.0.0.2"))
        core = kubernetes.client.CoreV1Api(api.client())
        pods = await asyncio.to_thread(core.list_namespaced_pod, "kong", label_selector="app=kong")

kmock is pinned (``kmock==0.8``) because this layer relies on these of its
parts, and only these:

- ``KubernetesScaffold``, subclassed: its ``__attrs_post_init__`` hook, its
  ``fallback`` priority view (``(self.fallback ** 1)[criterion] << callable``),
  its ``__call__(aiohttp_request)`` entry point (overridden only to rewrite
  the namespaces paths, see below), ``async with`` to start it, and its
  rendering of a raised ``KubernetesError`` as a ``Status`` body (it puts a
  traceback in ``details`` when they are empty, so `errors` never leaves
  them empty);
- ``Request``'s parsed fields: ``resource``, ``namespace``, ``name``,
  ``subresource``, ``method``, ``params``, ``headers``, ``data``, ``body``,
  ``text``, ``url``;
- ``Response(status, payload, headers)`` returned from a reaction's callable
  (exported at run time though missing from kmock's ``__all__``), including
  its two quirks: the headers merge into the reaction for good (so every
  response here sends the same ones) and an async-iterator payload is
  streamed from its first chunk on (so a watch yields an empty chunk first
  to send the headers at once);
- ``ObjectsArray`` and ``Object`` as the store's storage: ``in``, ``[key]``,
  ``items()``, ``deleted``, ``raw``, ``create``, ``delete``,
  ``history.append``; and ``resource(group, version, plural)`` keys;
- kmock 0.8's path parser fails on ``/api/v1/namespaces``: those paths are
  rewritten before it runs (`emulator.kmock_path`).

What it does not do (no test here needs it): admission, validation against a
CRD's schema (tested separately against the generated openAPIV3Schema; pruning
and defaulting are done), metadata's own pruning (unknown ``metadata`` keys
stay), field ownership of server-side apply (approximated as create-or-merge),
foreground deletion (treated as background), consistent snapshots across
list pages (``limit``/``continue`` page the current state), protobuf and
CBOR, OpenAPI schemas of built-in kinds (only CRDs' are published), RBAC,
``kubectl exec``/``logs``, port-forward over SPDY
(only its WebSocket form is served). Namespaces exist as soon as something is put in
them (a real server answers 404).
"""

from __future__ import annotations

from license_report_sandbox.kubeapi.builders import (
    KONG_PORTS,
    make_crd,
    make_endpoint_slice,
    make_namespace,
    make_node,
    make_pod,
    make_service,
)
from license_report_sandbox.kubeapi.emulator import Emulator
from license_report_sandbox.kubeapi.resources import Body, Column, Kind
from license_report_sandbox.kubeapi.serving import KubeAPI, serve
from license_report_sandbox.tools import helm_path, kubectl_path

__all__ = [
    "KONG_PORTS",
    "Body",
    "Column",
    "Emulator",
    "Kind",
    "KubeAPI",
    "helm_path",
    "kubectl_path",
    "make_crd",
    "make_endpoint_slice",
    "make_namespace",
    "make_node",
    "make_pod",
    "make_service",
    "serve",
]
