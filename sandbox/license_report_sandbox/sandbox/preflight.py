"""What is checked before anything starts: the options, the ports and addresses.

A taken port found only once PostgreSQL or the API server is half up would
leave the user a traceback and things to clean; found here, it is one line
naming the option and the address, and nothing has started.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import socket

from license_report_sandbox.sandbox import options

LOCALHOST = "127.0.0.1"
#: The Kong chart's status listener port (``KONG_STATUS_LISTEN 0.0.0.0:8100``).
STATUS_PORT = 8100
MAX_PODS = 1000
_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


class PreflightError(Exception):
    """Options the sandbox cannot start with: one line for the user, what is wrong and what
    to do (the command turns it into the CLI's usage exit code)."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the checks settled: the loopback address of every pod."""

    addresses: tuple[str, ...]


def _addresses(first: str, count: int) -> tuple[str, ...]:
    try:
        start = ipaddress.IPv4Address(first)
    except ValueError:
        raise PreflightError(f"--first-address {first!r} is not an IPv4 address") from None
    try:
        last = start + (count - 1)
    except ipaddress.AddressValueError:
        last = None
    if start not in _LOOPBACK:
        raise PreflightError(f"--first-address {first} is not a loopback address (127.0.0.0/8)")
    if last is None or last not in _LOOPBACK:
        raise PreflightError(
            f"--pods {count} from --first-address {first} run past the loopback range "
            "(127.0.0.0/8): choose a lower first address"
        )
    return tuple(str(start + index) for index in range(count))


def _probe(*, option: str, host: str, port: int) -> None:
    """Bind as the server will (``SO_REUSEADDR``, so a port in TIME_WAIT counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PreflightError(
                    f"{option}: {host}:{port} is already in use; "
                    "choose another port, or 0 for a free one"
                ) from None
            if error.errno == errno.EADDRNOTAVAIL:
                raise PreflightError(
                    f"{option}: address {host} is not available on this machine "
                    "(on macOS, add it first: sudo ifconfig lo0 alias " + host + ")"
                ) from None
            raise PreflightError(
                f"{option}: cannot listen on {host}:{port}: {error.strerror}"
            ) from None


def check(chosen: options.Options) -> Plan:
    if not 1 <= chosen.pods <= MAX_PODS:
        raise PreflightError(f"--pods must be between 1 and {MAX_PODS}")
    if chosen.latency < 0 or chosen.timeout <= 0 or chosen.retry_seconds < 0:
        raise PreflightError("--latency and --retry-seconds must be at least 0, --timeout above 0")
    if chosen.out.exists() and not chosen.out.is_dir():
        raise PreflightError(f"--out {chosen.out} exists and is not a directory")
    implied = options.MODE_TOPOLOGIES.get(chosen.mode) if chosen.mode else None
    if (
        chosen.topology is not None
        and chosen.mode is not None
        and chosen.mode is not options.Mode.OSS
        and chosen.topology.uses_datastore != (chosen.mode is options.Mode.EE_DB)
    ):
        raise PreflightError(
            f"--mode {chosen.mode} and --topology {chosen.topology} disagree: --mode {chosen.mode}"
            f" is --topology {implied}; leave --mode out"
        )
    if chosen.mode is options.Mode.OSS and chosen.deployment.uses_datastore:
        raise PreflightError(
            f"--mode oss with --topology {chosen.deployment}: the sandbox's Kong OSS is DB-less"
        )
    if chosen.deployment is options.Topology.HYBRID and chosen.pods < 2:
        raise PreflightError(
            "--topology hybrid needs --pods 2 or more: a control plane and data planes"
        )
    addresses = _addresses(chosen.first_address, chosen.pods * chosen.deployment.addresses_per_pod)
    # Kong's status listener, on the pod IP: only the metered pods' is served (the sampler's).
    status = STATUS_PORT if chosen.deployment is options.Topology.METERED else 0
    wanted = [
        ("--api-port", LOCALHOST, chosen.api_port),
        ("--postgres-port", LOCALHOST, chosen.postgres_port),
        *(
            (f"--admin-port (pod address {address})", address, chosen.admin_port)
            for address in addresses
        ),
        *(
            (f"--first-address (Kong's status listener on pod address {address})", address, status)
            for address in addresses
            if status
        ),
    ]
    for option, _host, port in wanted:
        if not 0 <= port <= 65535:
            raise PreflightError(f"{option.split()[0]} {port} is not a port number")
    seen: dict[tuple[str, int], str] = {}
    for option, host, port in wanted:
        if port and (host, port) in seen:
            raise PreflightError(f"{seen[host, port]} and {option} both want {host}:{port}")
        seen[host, port] = option
    for option, host, port in wanted:
        # Port 0 still checks that the address can be listened on at all.
        _probe(option=option, host=host, port=port)
    return Plan(addresses=addresses)
