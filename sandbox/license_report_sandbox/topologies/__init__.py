"""Kong gateway pods as the Kong charts and the Kong Gateway Operator really render them.

Our earlier fixtures described a fictional chart pod (an ``admin`` port on the
pod IP), which hid every problem of issue 13. Each builder here is written from
rendered output, never from memory or from our own code, and its module says
which (docs/kong-fidelity.md, "Pods as the charts render them", has the table):

- `kong_chart`: Kong chart 3.4.1, Kong/charts e76b8003 (``charts/kong``),
  its snapshots and ``helm template`` renders of its example values; its
  containers and env in `chart_containers`.
- `kong_ingress`: kong/ingress chart 0.24.0, Kong/charts e76b8003
  (``charts/ingress/ci/__snapshots__/gateway-discovery-values.snap``).
- `dataplanes`: the Kong Gateway Operator's DataPlane, Kong/kong-operator
  cefc38421.
- `pods`: what Kubernetes adds that no chart renders (owners, generated
  names, API-server defaults, a kubelet status).

The builders and constants are re-exported here, so a test calls
``topologies.chart_default(...)`` without knowing which module holds it.
"""

from __future__ import annotations

from license_report_sandbox.topologies.chart_containers import (
    CLUSTER_ADMIN_LISTEN,
    INGRESS_CONTROLLER_IMAGE,
    LOOPBACK_ADMIN_LISTEN,
    OSS_IMAGE,
    PROXY_LISTEN,
    STATUS_LISTEN,
    secret_ref,
)
from license_report_sandbox.topologies.dataplanes import (
    OPERATOR_DEFAULTS,
    OPERATOR_IMAGE,
    gateway_operator,
    konnect_data_plane,
)
from license_report_sandbox.topologies.kong_chart import (
    CHART,
    ENTERPRISE_IMAGE,
    LICENSE_SECRET,
    chart_default,
    chart_postgres,
    hybrid_control_plane,
    hybrid_data_plane,
)
from license_report_sandbox.topologies.kong_ingress import ingress_chart

__all__ = [
    "CHART",
    "CLUSTER_ADMIN_LISTEN",
    "ENTERPRISE_IMAGE",
    "INGRESS_CONTROLLER_IMAGE",
    "LICENSE_SECRET",
    "LOOPBACK_ADMIN_LISTEN",
    "OPERATOR_DEFAULTS",
    "OPERATOR_IMAGE",
    "OSS_IMAGE",
    "PROXY_LISTEN",
    "STATUS_LISTEN",
    "chart_default",
    "chart_postgres",
    "gateway_operator",
    "hybrid_control_plane",
    "hybrid_data_plane",
    "ingress_chart",
    "konnect_data_plane",
    "secret_ref",
]
