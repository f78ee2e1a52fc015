"""The operator end to end with ``spec.report.format: kong-3.5`` and ``spec.signing``."""

from __future__ import annotations

import base64
import io
import json
import tarfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from license_report.reconcile import kube
from license_report.report import formats, signing
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi
from tests.expected import plugin_figures, tiers
from tests.helpers import datastores
from tests.helpers.cluster import (
    Operator,
    consistent_report,
    create,
    deploy,
    gateway_spec,
    kong_pg,
    report_config_maps,
    request,
    secret,
    wait_phase,
)
from tests.helpers.fleets import FleetFactory

SIGNING_SECRET = "report-signing"
SIGNING_KEY = "ed25519.pem"


def _pem(key: ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _spec(**extra: object) -> dict[str, object]:
    return gateway_spec(
        report={"format": "kong-3.5"},
        signing={"secretRef": {"name": SIGNING_SECRET, "key": SIGNING_KEY}},
        **extra,
    )


async def test_a_signed_kong_3_5_report_of_the_seeded_datastore(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    seeded: datastores.Seeder,
) -> None:
    sample = datastores.seed_sample(seeded, nodes=3, window=12)  # kong-3.5: 12 months
    definition, expected = sample.definition, sample.totals
    shared = sim.Datastore(counters=expected, services=9)
    nodes = [
        sim.SimNode(
            name=f"kong-{i}", mode=sim.Mode.EE_DB, datastore=shared,
            version="3.5.0.2",
        )
        for i in range(3)
    ]  # fmt: skip
    key = ed25519.Ed25519PrivateKey.generate()
    database = kong_pg(api, sample.settings)
    api.put(secret(SIGNING_SECRET, {SIGNING_KEY: _pem(key)}))
    async with fleet(nodes) as running:
        deploy(api, running)
        await create(clients, request("audit", spec=_spec(datastore=database)))
        done = await wait_phase(clients, "audit", {"Succeeded"})
    _, config_map = await consistent_report(clients, "audit", run="1/")

    report_json = config_map.data["report.json"].encode()
    report = json.loads(report_json)
    assert report["counters"] == {
        "buckets": [
            {"bucket": bucket, "request_count": expected[bucket]}
            for bucket in sorted(expected, key=lambda b: (b == "UNKNOWN", b))
        ],
        "total_requests": sum(expected.values()),
    }
    by_name, lambdas, kafkas = plugin_figures(definition)
    assert report["plugins_count"] == {
        "tiers": tiers(by_name),
        "unique_route_lambdas": lambdas,
        "unique_route_kafkas": kafkas,
    }
    assert (report["services_count"], report["routes_count"], report["consumers_count"]) == (
        9,
        12,
        5,
    )
    assert report["deployment_info"] == {"type": "traditional"}
    assert report["checksum"] == formats.checksum(report)
    assert done["status"]["summary"]["requestCount"] == sum(expected.values())

    # The signature beside the report checks against the key we hold, not only the one shipped.
    signature = signing.parse_signature(config_map.data["report.json.sig"].encode())
    assert signing.verify(public_key=key.public_key(), data=report_json, signature=signature)
    shipped = signing.load_public_key(config_map.data["report.json.pub"])
    assert signing.verify(public_key=shipped, data=report_json, signature=signature)
    ((_, tar_b64),) = config_map.binary_data.items()
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(tar_b64))) as tar:
        member = tar.extractfile("response.json")
        assert member is not None
        assert member.read() == report_json  # so the signature holds for the tar's copy too


async def test_a_signing_key_that_is_not_ed25519_fails_naming_the_secret(
    api: kubeapi.KubeAPI, clients: kube.Clients, operator: Operator, fleet: FleetFactory
) -> None:
    not_a_key = (
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVzLW5vdC1hLWtleQ==\n-----END PRIVATE KEY-----\n"
    )
    api.put(secret(SIGNING_SECRET, {SIGNING_KEY: not_a_key}))
    nodes = [sim.SimNode(name="gw-0", mode=sim.Mode.EE_DBLESS)]
    async with fleet(nodes) as running:
        deploy(api, running)
        await create(clients, request("signed", spec=_spec()))
        done = await wait_phase(clients, "signed", {"Failed"})
    failed = {c["type"]: c for c in done["status"]["conditions"]}["Failed"]
    assert failed["reason"] == "InvalidSigningKey"
    message = failed["message"]
    assert f"Secret kong/{SIGNING_SECRET} key '{SIGNING_KEY}'" in message
    assert "spec.signing.secretRef" in message
    assert "c2VjcmV0LWJ5dGVzLW5vdC1hLWtleQ" not in json.dumps(done)
    assert await report_config_maps(clients) == []  # nothing collected, nothing written
    assert running.node("gw-0").requests_seen == []  # the key is checked before any pod is asked
