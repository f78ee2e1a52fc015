"""``license-report run``: the operator.

Cluster-wide by default, or limited to namespaces (``--namespace``, repeat).
Several replicas coordinate through kopf peering (``--peering``; the chart
installs the peering CRDs); ``--standalone`` runs without it. kopf's liveness
endpoint answers on ``--liveness``, Prometheus metrics on ``--metrics-address``
(plain HTTP, ``/metrics``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import secrets
from typing import TYPE_CHECKING, Any

from license_report.api import defaults

# kopf, the handlers and the Kubernetes client are imported by the functions that
# run the operator, not here: every ``license-report`` invocation loads this module
# for its flags, ``collect`` and ``--help`` included.
if TYPE_CHECKING:
    import asyncio
    import threading

    from license_report.handlers import context as operator_context

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
#: Beside kopf's liveness endpoint (8080), as controller-runtime operators pair them.
DEFAULT_METRICS_ADDRESS = "0.0.0.0:8081"


@dataclasses.dataclass(frozen=True)
class Address:
    host: str | None  # None: every interface
    port: int


def parse_metrics_address(text: str) -> Address | None:
    """``HOST:PORT`` (``[::]:8081`` for IPv6, ``:8081`` for every interface); '' disables."""
    if not text:
        return None
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    host = host.removeprefix("[").removesuffix("]")
    return Address(host=host or None, port=int(port))


def _own_namespace() -> str:
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE) as file:
            return file.read().strip()
    except OSError:
        return "default"


def register(commands: Any) -> None:
    cmd: argparse.ArgumentParser = commands.add_parser(
        "run", help="run the operator", description=__doc__
    )
    cmd.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="kubeconfig file (default: in-cluster service account, else $KUBECONFIG)",
    )
    cmd.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="watch only this namespace (repeat); default: every namespace",
    )
    cmd.add_argument(
        "--operator-namespace",
        help="where the operator keeps its hash-key Secret (default: its own namespace)",
    )
    cmd.add_argument(
        "--hash-key-secret",
        default=defaults.HASH_KEY_SECRET,
        help="name of the installation hash-key Secret (created once when missing)",
    )
    cmd.add_argument(
        "--retry-seconds",
        type=float,
        default=defaults.RETRY_SECONDS,
        help="how long transient problems are retried before a request is Failed",
    )
    cmd.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="kopf's liveness endpoint URL ('' to disable)",
    )
    cmd.add_argument(
        "--metrics-address",
        type=parse_metrics_address,
        default=DEFAULT_METRICS_ADDRESS,
        metavar="HOST:PORT",
        help="where Prometheus metrics are served over HTTP at /metrics "
        "('' to disable; default: %(default)s)",
    )
    peering = cmd.add_mutually_exclusive_group()
    peering.add_argument(
        "--peering", default=None, metavar="NAME", help="kopf peering object, for several replicas"
    )
    peering.add_argument("--standalone", action="store_true", help="no peering (a single replica)")
    cmd.add_argument(
        "--priority",
        type=int,
        default=None,
        help="kopf peering priority (default: random, so that replicas never tie; "
        "kopf pauses every operator of equal priority)",
    )
    cmd.add_argument(
        "--log-level",
        default=os.environ.get("LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    cmd.add_argument(
        "--log-format", default=os.environ.get("LOG_FORMAT", "plain"), choices=["plain", "json"]
    )
    cmd.set_defaults(handler=main)


def configure_logging(*, level: str, fmt: str) -> None:
    import kopf

    kopf.configure(
        debug=level == "DEBUG",
        verbose=level in ("DEBUG", "INFO"),
        quiet=level in ("WARNING", "ERROR"),
        log_format=kopf.LogFormat.JSON if fmt == "json" else kopf.LogFormat.PLAIN,
    )


async def operate(
    *,
    context: operator_context.Context,
    peering: str | None = None,
    priority: int | None = None,
    liveness: str | None = None,
    metrics_address: Address | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    """The operator's main loop: the same for ``license-report run``, the sandbox and the tests."""
    import asyncio

    import kopf

    from license_report.handlers import context as operator_context  # registers the handlers
    from license_report.handlers import metrics

    async with contextlib.AsyncExitStack() as serving:
        if metrics_address is not None:
            port = await serving.enter_async_context(
                metrics.serve(context.metrics, host=metrics_address.host, port=metrics_address.port)
            )
            logging.getLogger(__name__).info(
                "metrics at http://%s:%d%s", metrics_address.host or "*", port, metrics.PATH
            )
        await kopf.operator(
            clusterwide=not context.namespaces,
            namespaces=list(context.namespaces),
            standalone=peering is None,
            peering_name=peering,
            priority=priority,
            liveness_endpoint=liveness or None,
            memo=operator_context.memo(context),
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    # kopf has closed its connections; let them finish closing before the
    # caller closes the loop (else they are torn down with ResourceWarnings).
    await asyncio.sleep(0.25)


def main(args: argparse.Namespace) -> int:
    from license_report.cli import loop
    from license_report.handlers import context as operator_context
    from license_report.handlers import metrics
    from license_report.reconcile import kube, run

    configure_logging(level=args.log_level, fmt=args.log_format)
    clients = kube.Clients.from_kubeconfig(args.kubeconfig)
    settings = run.OperatorSettings(
        namespace=_own_namespace() if args.operator_namespace is None else args.operator_namespace,
        hash_key_secret=args.hash_key_secret,
        retry_seconds=args.retry_seconds,
    )
    logging.getLogger(__name__).info(
        "watching %s", ", ".join(args.namespace) if args.namespace else "every namespace"
    )
    try:
        loop.run(
            operate(
                context=operator_context.Context(
                    clients=clients, settings=settings, namespaces=tuple(args.namespace)
                ),
                peering=None if args.standalone else args.peering,
                # A tie in priority makes kopf pause every replica, itself included.
                priority=args.priority if args.priority is not None else secrets.randbelow(2**31),
                liveness=args.liveness,
                metrics_address=args.metrics_address,
            )
        )
    except metrics.ServeError as error:
        logging.getLogger(__name__).error("%s (--metrics-address)", error)
        return 1
    return 0
