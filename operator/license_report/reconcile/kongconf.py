"""Kong's own settings, read as Kong reads them from ``KONG_*`` env: formats and defaults.

Pure functions, no Kubernetes: `derivation` hands them a pod's env values. The
formats and defaults are Kong's (``kong/templates/kong_defaults.lua``,
``kong/conf_loader``): a listen value is ``<addr>:<port>[ <flags>]`` joined
by ``", "``, or ``off``; ``pg_host`` 127.0.0.1, ``pg_port`` 5432,
``pg_user`` and ``pg_database`` kong, ``pg_ssl`` and ``pg_ssl_verify`` off.
"""

from __future__ import annotations

import dataclasses
import ipaddress

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "kong"
PG_DATABASE = "kong"

_LOOPBACK_NAMES = frozenset({"localhost"})


class ListenError(ValueError):
    """A listen value Kong itself would refuse."""


@dataclasses.dataclass(frozen=True)
class Listener:
    """One ``admin_listen`` entry: where, which port, and whether it speaks TLS."""

    address: str  # as written, brackets removed: 0.0.0.0, ::, 127.0.0.1, ::1, localhost
    port: int
    ssl: bool

    @property
    def loopback(self) -> bool:
        """Only the pod itself can dial it (the kubelet's port-forward can: it dials inside)."""
        if self.address in _LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            return False  # a host name: taken to resolve to the pod's own address

    @property
    def scheme(self) -> str:
        return "https" if self.ssl else "http"


def parse_listen(value: str) -> list[Listener]:
    """``KONG_ADMIN_LISTEN``'s listeners, in order; ``off`` (or empty) is none."""
    if value.strip() in ("off", ""):
        return []
    listeners = []
    for entry in value.split(","):
        words = entry.split()
        if not words:
            continue  # the chart renders a trailing ", "
        where, *flags = words
        address, _, port = where.rpartition(":")
        address = address.removeprefix("[").removesuffix("]")
        if not address or not port.isdigit() or not 0 < int(port) < 65536:
            raise ListenError(f"not <address>:<port>: {where!r}")
        listeners.append(Listener(address=address, port=int(port), ssl="ssl" in flags))
    return listeners


def flag(value: str | None) -> bool:
    """A Kong boolean (``on``/``off``, ``true``/``false``); unset is off."""
    return (value or "off").strip().lower() in ("on", "true", "1", "yes")


def qualified_host(host: str, *, namespace: str) -> str:
    """``KONG_PG_HOST`` as the operator can resolve it from any namespace: a short Service
    name (no dot, not an IP, not localhost) is ``<name>.<pod namespace>.svc``, as the
    pod's own DNS search path would resolve it."""
    if "." in host or host in _LOOPBACK_NAMES:
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"{host}.{namespace}.svc"
    return host


def ssl_mode(*, ssl: str | None, verify: str | None) -> str:
    """libpq's sslmode for ``pg_ssl`` and ``pg_ssl_verify``: what Kong does, no less."""
    if not flag(ssl):
        return "disable"
    return "verify-full" if flag(verify) else "require"
