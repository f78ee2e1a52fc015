"""Client certificates and per-node TLS: Admin APIs that require a certificate signed by their
CA (Kong Gateway Operator data planes), and nodes reached by different routes in one run."""

from __future__ import annotations

import dataclasses
import ssl

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from license_report.api import errors
from license_report.report import aggregation, models
from license_report.sources import kong
from license_report_sandbox import kong as sim
from tests.helpers.fleets import FleetFactory, targets

Reason = errors.Reason


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def requiring_client_certificates(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server that accepts only clients presenting a certificate ``ca`` signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.2",))).configure_cert(context)
    ca.configure_trust(context)
    return context


def client_certificate(ca: trustme.CA) -> kong.ClientCertificate:
    issued = ca.issue_cert("license-report-operator")
    return kong.ClientCertificate(
        cert_pem=b"".join(blob.bytes() for blob in issued.cert_chain_pems).decode(),
        key_pem=issued.private_key_pem.bytes().decode(),
    )


async def _ask(
    fleet: FleetFactory,
    nodes: list[sim.SimNode],
    settings: kong.ClientSettings,
    server: ssl.SSLContext,
    *,
    routes: dict[str, kong.Route] | None = None,
    require_client_cert: bool = True,
) -> tuple[list[aggregation.NodeObservation], list[models.Failure]]:
    async with fleet(nodes, ssl_context=server, require_client_cert=require_client_cert) as running:
        if routes is not None:
            routes = {running.url(name): route for name, route in routes.items()}
            settings = dataclasses.replace(settings, routes=routes)
        async with kong.new_session(settings) as session:
            return await kong.fetch_nodes(
                session=session, targets=targets(running), settings=settings
            )


async def test_an_admin_api_requiring_a_client_certificate_refuses_a_client_without_one(
    fleet: FleetFactory, ca: trustme.CA
) -> None:
    nodes = [sim.SimNode(name="dp", mode=sim.Mode.EE_DBLESS)]
    server = requiring_client_certificates(ca)
    pem = ca.cert_pem.bytes().decode()
    without = kong.ClientSettings(timeout=1.0, tls=kong.tls_context(ca_pem=pem))
    _, failures = await _ask(fleet, nodes, without, server)
    assert [f.reason for f in failures] == [Reason.TLS_ERROR]
    assert "requires a client certificate" in failures[0].message

    signed_elsewhere = kong.tls_context(
        ca_pem=pem, client_certificate=client_certificate(trustme.CA())
    )
    _, failures = await _ask(
        fleet, nodes, kong.ClientSettings(timeout=1.0, tls=signed_elsewhere), server
    )
    assert len(failures) == 1  # the handshake fails: a dropped connection

    presented = kong.tls_context(ca_pem=pem, client_certificate=client_certificate(ca))
    observations, failures = await _ask(
        fleet, nodes, kong.ClientSettings(timeout=1.0, tls=presented), server
    )
    assert (len(observations), failures) == (1, [])


def test_a_client_certificate_that_does_not_load_is_a_named_config_error(
    ca: trustme.CA,
) -> None:
    good = client_certificate(ca)
    other = client_certificate(trustme.CA())
    bad = [
        kong.ClientCertificate(cert_pem="not a certificate", key_pem=good.key_pem),
        kong.ClientCertificate(cert_pem=good.cert_pem, key_pem="not a key"),
        kong.ClientCertificate(cert_pem=good.cert_pem, key_pem=other.key_pem),  # not its key
    ]
    for certificate in bad:
        with pytest.raises(kong.ConfigError) as raised:
            kong.tls_context(client_certificate=certificate)
        assert raised.value.reason is Reason.INVALID_CLIENT_CERTIFICATE
        assert "BEGIN" not in raised.value.message  # no key material in the message
    kong.tls_context(client_certificate=good)


def test_an_encrypted_key_is_refused_without_prompting(ca: trustme.CA) -> None:
    good = client_certificate(ca)
    key = serialization.load_pem_private_key(good.key_pem.encode(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()
    with pytest.raises(kong.ConfigError) as raised:
        kong.tls_context(
            client_certificate=kong.ClientCertificate(cert_pem=good.cert_pem, key_pem=encrypted)
        )
    assert raised.value.reason is Reason.INVALID_CLIENT_CERTIFICATE


async def test_each_node_is_checked_by_its_own_route(fleet: FleetFactory, ca: trustme.CA) -> None:
    """A node reached otherwise (a port-forward) keeps its lenient context; the others are still
    verified by name: one lenient route does not turn checking off for every node."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("kong-admin.kong.svc").configure_cert(server)  # names neither node's IP
    nodes = [
        sim.SimNode(name="direct", mode=sim.Mode.OSS_DBLESS),
        sim.SimNode(name="forwarded", mode=sim.Mode.OSS_DBLESS),
    ]
    strict = kong.ClientSettings(
        timeout=1.0, tls=kong.tls_context(ca_pem=ca.cert_pem.bytes().decode())
    )
    lenient = kong.tls_context(insecure=True)
    observations, failures = await _ask(
        fleet,
        nodes,
        strict,
        server,
        routes={"forwarded": kong.Route(tls=lenient)},
        require_client_cert=False,
    )
    assert [o.target.name for o in observations] == ["forwarded"]
    assert [(f.pod, f.reason) for f in failures] == [("direct", Reason.TLS_ERROR)]
