"""Known secret values never appear in anything the operator writes or says.

Whole scenarios run with every logger at DEBUG: a DB-mode report over TLS with
an admin token, a license, a datastore password and a signing key, then a run
that fails on a wrong password. Logs, Events, the request's status, every
ConfigMap and the failure's message are scanned for each secret, raw and
base64-encoded (and the signing key's PEM body and raw bytes too). The
license's ``license_key`` is the one value that does appear: in report.json
(and the tar holding it), where Kong's own report puts it, and nowhere else.
The license's ``signature`` never does.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import ssl
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from license_report.reconcile import kube
from license_report_sandbox import kong as sim
from license_report_sandbox import kubeapi, seed
from tests.helpers.cluster import (
    KONG_LABELS,
    Operator,
    create,
    deploy,
    get,
    kong_pg,
    patch,
    request,
    secret,
    wait_phase,
)
from tests.helpers.datastores import Seeder
from tests.helpers.fleets import FleetFactory

ADMIN_TOKEN = "kong-admin-token-Qx7v9Lm2"
LICENSE_KEY = "LICENSEKEY-00141000017ODj3AAG_a1V41000004wT0OEAU"
LICENSE_SIGNATURE = "6985968131533a967fcc721244a979948b1066967f1e9cd65dbd8eeabe060fc3"
HASH_KEY = "c0ffee" * 8 + "deadbeef" * 2
WRONG_PASSWORD = "not-the-password-Jk3q8"
_SIGNING = ed25519.Ed25519PrivateKey.generate()
SIGNING_KEY = _SIGNING.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
#: The key material inside the PEM (its DER, base64) and the raw 32-byte seed, hex.
SIGNING_KEY_BODY = "".join(SIGNING_KEY.splitlines()[1:-1])
SIGNING_KEY_RAW = _SIGNING.private_bytes(
    serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
).hex()


def _forms(value: str) -> set[str]:
    return {value, base64.b64encode(value.encode()).decode()}


#: What may carry the license key: report.json (and its signature), as Kong's report does.
_REPORT_KEYS = ("report.json", "report.json.sig")


async def _everything_written(clients: kube.Clients, name: str) -> tuple[str, str]:
    """Everything written, and the same without report.json and the tar that holds it."""
    request_obj = await get(clients, name)
    events = await kube.call(clients.core.list_event_for_all_namespaces)
    config_maps = await kube.call(clients.core.list_config_map_for_all_namespaces)
    others = [
        json.dumps(request_obj),
        *(f"{e.reason} {e.message}" for e in events.items),
        *(
            json.dumps({k: v for k, v in (cm.data or {}).items() if k not in _REPORT_KEYS})
            for cm in config_maps.items
        ),
    ]
    reports = [
        *(json.dumps(cm.data or {}) + json.dumps(cm.binary_data or {}) for cm in config_maps.items),
        # The tars inside the ConfigMaps, decoded.
        *(
            base64.b64decode(tar).decode("latin-1")
            for cm in config_maps.items
            for tar in (cm.binary_data or {}).values()
        ),
    ]
    return "\n".join([*others, *reports]), "\n".join(others)


async def test_no_secret_reaches_logs_events_status_or_reports(
    api: kubeapi.KubeAPI,
    clients: kube.Clients,
    operator: Operator,
    fleet: FleetFactory,
    seeded: Seeder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    now = datetime.datetime.now(datetime.UTC)
    kong_db = seeded(seed.sample_seed(now=now.date(), nodes=2, months=3))
    password = kong_db.password or ""

    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("kong-admin.kong.svc").configure_cert(server_tls)
    license_text = json.dumps(
        {
            "license": {
                "payload": {"license_key": LICENSE_KEY, "license_expiration_date": "2030-01-01"},
                "signature": LICENSE_SIGNATURE,
                "version": "1",
            }
        }
    )
    database = kong_pg(api, kong_db)
    api.put(secret("kong-token", {"token": ADMIN_TOKEN}))
    api.put(secret("kong-ca", {"ca.crt": ca.cert_pem.bytes().decode()}))
    api.put(secret("kong-license", {"license": license_text}))
    api.put(secret("license-report-hash-key", {"key": HASH_KEY}, namespace="license-report"))
    api.put(secret("report-signing", {"key.pem": SIGNING_KEY}))

    shared = sim.Datastore(counters={"UNKNOWN": 1})
    nodes = [
        sim.SimNode(
            name=f"kong-{i}",
            mode=sim.Mode.EE_DB,
            datastore=shared,
            token=ADMIN_TOKEN,
            license_key=LICENSE_KEY,
        )
        for i in range(2)
    ]
    spec: dict[str, Any] = {
        "gateway": {
            "selector": {"matchLabels": KONG_LABELS},
            "adminApi": {
                "portName": "admin",
                "scheme": "https",
                "tokenSecretRef": {"name": "kong-token", "key": "token"},
                "tls": {
                    "caSecretRef": {"name": "kong-ca", "key": "ca.crt"},
                    "serverName": "kong-admin.kong.svc",
                },
            },
        },
        "datastore": database,
        "license": {"secretRef": {"name": "kong-license"}},
        "signing": {"secretRef": {"name": "report-signing", "key": "key.pem"}},
    }
    async with fleet(nodes, ssl_context=server_tls) as running:
        deploy(api, running)
        await create(clients, request("audit", spec=spec))
        done = await wait_phase(clients, "audit", {"Succeeded"})
        assert done["status"]["summary"]["podsReached"] == 2  # the token and TLS were used
        signed = await kube.call(clients.core.read_namespaced_config_map, "audit-report", "kong")
        assert "report.json.sig" in signed.data  # the signing key was used
        # Kong's report names the license by its key, as is: so does ours.
        assert json.loads(signed.data["report.json"])["license_key"] == LICENSE_KEY

        # Now a failure: the password Secret holds a wrong value.
        api.put(secret("kong-pg", {"password": WRONG_PASSWORD}))
        await patch(
            clients,
            "audit",
            {"metadata": {"annotations": {"licensereport.io/rerun": "wrong-password"}}},
        )
        await wait_phase(clients, "audit", {"Failed"}, rerun="wrong-password")

    written, beside_the_report = await _everything_written(clients, "audit")
    said = caplog.text
    assert "password authentication failed" in written  # the failure is explained...
    secrets = (password, ADMIN_TOKEN, HASH_KEY, WRONG_PASSWORD, SIGNING_KEY, LICENSE_SIGNATURE)
    for value in (*secrets, SIGNING_KEY_BODY, SIGNING_KEY_RAW):
        for form in _forms(value):
            assert form not in written, f"a secret ({value[:4]}...) was written"
            assert form not in said, f"a secret ({value[:4]}...) was logged"
    assert LICENSE_KEY in written
    for form in _forms(LICENSE_KEY):
        assert form not in beside_the_report, "the license key outside report.json"
        assert form not in said, "the license key was logged"
