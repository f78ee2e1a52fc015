"""``license-report sandbox`` runs the whole product for a newcomer, and leaves nothing behind.

Every run is the real executable in a child process. Expected figures come
from the seed definition alone (``tests.expected``), never from the sandbox's
own output. Ctrl-C before the report is done exits 130; after it (with
--keep-running) it is the normal way out and exits with the report's code, 0.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator

import psutil
import pytest

from license_report_sandbox import seed, tools
from tests.expected import monthly_totals
from tests.helpers.cli import Runner, SandboxProcess

Start = Callable[..., SandboxProcess]
_WORKDIR = r"temporary files in (\S+) \(removed on exit\)"
_COUNTER_LINE = re.compile(r"^  (\d{4}-\d{2}|UNKNOWN) +(\d+)$", re.MULTILINE)


def _seeded(*, window: int = 24) -> tuple[seed.Seed, dict[str, int]]:
    """The sandbox's seed (3 pods, 14 months) and what a report of ``window`` months shows
    of it: Kong 2.7-3.4's report covers 24 months (the sandbox's default 3.4), 3.5+'s 12."""
    now = datetime.datetime.now(datetime.UTC)
    definition = seed.sample_seed(now=now.date(), nodes=3, months=14)
    return definition, monthly_totals(definition, months=window, now=now)


def _workdir(output: str) -> pathlib.Path:
    match = re.search(_WORKDIR, output)
    assert match, output
    return pathlib.Path(match[1])


def _processes_using(path: pathlib.Path) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and any(str(path) in a for a in cmdline):
            found.append(" ".join(cmdline))
    return found


def _postmaster(workdir: pathlib.Path) -> int:
    return int((workdir / "postgres" / "data" / "postmaster.pid").read_text().split()[0])


def _gone(pid: int, *, timeout: float = 5.0) -> bool:
    """Exited: no such process, or a zombie its new parent (init) has not reaped yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _assert_left_nothing(workdir: pathlib.Path, tmpdir: pathlib.Path) -> None:
    assert not workdir.exists()
    assert list(tmpdir.iterdir()) == []  # nothing else temporary either
    assert _processes_using(workdir) == []


def _run(cli: Runner, tmpdir: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("sandbox", *args, env={"TMPDIR": str(tmpdir)})


def test_the_default_chart_with_postgresql_reports_the_seeded_usage_through_port_forward(
    cli: Runner, short_tmpdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    done = _run(cli, short_tmpdir, "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    definition, expected = _seeded()

    printed = {bucket: int(count) for bucket, count in _COUNTER_LINE.findall(done.stdout)}
    assert printed == expected
    assert re.search(rf"^requests +{sum(expected.values())}$", done.stdout, re.MULTILINE)
    assert re.search(rf"^services +{definition.services}$", done.stdout, re.MULTILINE)
    assert re.search(r"^nodes reached +3 of 3$", done.stdout, re.MULTILINE)
    assert "LicenseReportRequest kong/sandbox: Succeeded" in done.stdout
    assert re.search(r"^  Complete +True +ReportWritten ", done.stdout, re.MULTILINE)
    assert "kong/sandbox: Running" in done.stdout  # progress: each phase, as it happened
    # Only a selector was applied: the Admin API (pod loopback) and the datastore (a Service
    # name that does not resolve here) were derived from the pods and reached by port-forward.
    assert "--topology chart-postgres: 3 simulated Kong" in done.stdout
    assert re.search(
        r"^  adminApi +https localhost:8444 via port-forward \(KONG_ADMIN_LISTEN\)$",
        done.stdout,
        re.MULTILINE,
    )
    assert re.search(
        r"^  datastore +kong-postgresql\.kong\.svc:5432 database kong user kong .*KONG_PG_PASSWORD"
        r".*; kong-postgresql\.kong\.svc does not resolve here: port-forward to port 5432 of pod"
        r" kong/kong-postgresql-0, a ready endpoint of Service kong/kong-postgresql$",
        done.stdout,
        re.MULTILINE,
    )
    assert re.search(
        r"^  license +Secret kong-enterprise-license key license \(KONG_LICENSE_DATA\)$",
        done.stdout,
        re.MULTILINE,
    )

    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    assert {c["bucket"]: c["request_count"] for c in report["counters"]} == expected
    assert report["services_count"] == definition.services
    assert report["workspaces_count"] == 1 + len(definition.workspaces)
    assert report["rbac_users"] == definition.rbac_users
    assert report["db_version"].startswith("postgres ")
    assert report["license_key"] == "DEMO0000000000000_a1V000000000000DEMO"  # as Kong writes it
    nodes = json.loads((out / "nodes.json").read_text())
    assert [node["reachable"] for node in nodes] == [True, True, True]
    (tar_path,) = out.glob("report-*.tar")
    with tarfile.open(tar_path) as tar:
        member = tar.extractfile("response.json")
        assert member is not None
        assert member.read() == (out / "report.json").read_bytes()
    wrote = f"wrote {out / 'report.json'}, {out / 'nodes.json'}, {tar_path}"
    assert wrote in done.stdout
    _assert_left_nothing(_workdir(done.stdout), short_tmpdir)


@pytest.mark.parametrize(
    ("version", "kong_version", "window"),
    [
        # 2.x: kong.version keeps the suffix (391a5ccef6:kong/meta.lua), the 2.7 shape, 24 months.
        ("2.8.4.1", "2.8.4.1-enterprise-edition", 24),
        # 3.9: the 3.5 shape (a5675f3bde), 12 months, counts by COUNT(*) (359d4fa4f1).
        ("3.9.1.2", "3.9.1.2", 12),
    ],
)
def test_each_kong_version_gets_the_report_that_version_writes(
    cli: Runner,
    short_tmpdir: pathlib.Path,
    tmp_path: pathlib.Path,
    version: str,
    kong_version: str,
    window: int,
) -> None:
    out = tmp_path / "out"
    done = _run(cli, short_tmpdir, "--kong-version", version, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    definition, expected = _seeded(window=window)
    report = json.loads((out / "report.json").read_text())
    assert report["kong_version"] == kong_version
    if window == 12:
        buckets = report["counters"]["buckets"]
        assert report["consumers_count"] == definition.consumers
    else:
        buckets = report["counters"]
        assert "consumers_count" not in report  # 2.x: from 3.1 on (7bda2fe7db)
    assert {c["bucket"]: c["request_count"] for c in buckets} == expected
    assert report["services_count"] == definition.services
    _assert_left_nothing(_workdir(done.stdout), short_tmpdir)


@pytest.mark.parametrize("mode", ["ee-dbless", "oss"])
def test_dbless_modes(
    cli: Runner, short_tmpdir: pathlib.Path, tmp_path: pathlib.Path, mode: str
) -> None:
    done = _run(cli, short_tmpdir, "--mode", mode, "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    definition, _ = _seeded()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    printed = {bucket: int(count) for bucket, count in _COUNTER_LINE.findall(done.stdout)}
    # Neither keeps license counters (Kong's off strategy; OSS has none): no counters key,
    # as in Kong's own report, and the run still succeeds.
    assert "counters" not in report
    assert printed == {}
    assert re.search(r"^requests +none kept \(see the notes\)$", done.stdout, re.MULTILINE)
    assert report["services_count"] == definition.services
    if mode == "ee-dbless":
        assert report["db_version"] == "off nil"  # Enterprise 3.4
        assert "mode           dbless, enterprise" in done.stdout
        assert "note: No node keeps license counters (DB-less" in done.stdout
    else:
        assert report["db_version"] == "off"  # OSS 3.9: format auto is kong-3.5
        assert report["license"]["license_key"] == "UNLICENSED"
        assert "note: No node keeps license counters (Kong OSS" in done.stdout
    _assert_left_nothing(_workdir(done.stdout), short_tmpdir)


@pytest.mark.parametrize(
    ("topology", "reached", "mode", "selected"),
    [
        ("chart-default", "3 of 3", "dbless, enterprise", "kong-kong-"),
        # One control plane; the two data planes serve no Admin API and are not failures.
        ("hybrid", "1 of 3", "db, enterprise", "cp-kong-"),
        ("ingress-chart", "3 of 3", "dbless, enterprise", "kong-gateway-"),
    ],
)
def test_each_topology_succeeds_with_a_request_that_is_only_a_selector(
    cli: Runner,
    short_tmpdir: pathlib.Path,
    tmp_path: pathlib.Path,
    topology: str,
    reached: str,
    mode: str,
    selected: str,
) -> None:
    out = tmp_path / "out"
    done = _run(cli, short_tmpdir, "--topology", topology, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LicenseReportRequest kong/sandbox: Succeeded" in done.stdout
    assert re.search(rf"^nodes reached +{reached}$", done.stdout, re.MULTILINE)
    assert re.search(rf"^mode +{mode}$", done.stdout, re.MULTILINE)
    assert "adminApi   https localhost:8444 via port-forward (KONG_ADMIN_LISTEN)" in done.stdout
    nodes = json.loads((out / "nodes.json").read_text())
    asked = [node for node in nodes if node["reachable"]]
    assert asked
    if topology == "hybrid":
        _, expected = _seeded()
        report = json.loads((out / "report.json").read_text())
        assert {c["bucket"]: c["request_count"] for c in report["counters"]} == expected
        assert "port-forward to port 5432 of pod kong/cp-postgresql-0" in done.stdout
    _assert_left_nothing(_workdir(done.stdout), short_tmpdir)


def test_the_gateway_operator_topology_succeeds_with_its_client_certificate(
    cli: Runner, short_tmpdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """The simulated Kong refuses a request without a client certificate its CA signed (as
    the Kong Gateway Operator's data planes do): Succeeded means the operator sent the one
    the request's kubernetes.io/tls Secret holds, to every pod."""
    out = tmp_path / "out"
    done = _run(
        cli, short_tmpdir, "--topology", "gateway-operator", "--pods", "2", "--out", str(out)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LicenseReportRequest kong/sandbox: Succeeded" in done.stdout
    assert "Secret kong/controlplane-example-admin-client (kubernetes.io/tls)" in done.stdout
    assert re.search(r"^nodes reached +2 of 2$", done.stdout, re.MULTILINE)
    assert re.search(r"^mode +dbless, enterprise$", done.stdout, re.MULTILINE)
    nodes = json.loads((out / "nodes.json").read_text())
    assert [node["reachable"] for node in nodes] == [True, True]
    _assert_left_nothing(_workdir(done.stdout), short_tmpdir)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("--mode", "ee-dbless", "--topology", "chart-postgres"),
            "--mode ee-dbless and --topology chart-postgres disagree",
        ),
        (("--mode", "oss", "--topology", "hybrid"), "the sandbox's Kong OSS is DB-less"),
        (("--topology", "hybrid", "--pods", "1"), "needs --pods 2 or more"),
    ],
)
def test_options_that_cannot_make_a_topology_are_a_usage_error(
    cli: Runner, short_tmpdir: pathlib.Path, args: tuple[str, ...], said: str
) -> None:
    done = _run(cli, short_tmpdir, *args)
    assert done.returncode == 2
    assert said in done.stderr
    assert done.stdout == ""
    assert list(short_tmpdir.iterdir()) == []


@pytest.mark.parametrize(
    ("after", "options"),
    [
        # While PostgreSQL is still starting in its thread.
        pytest.param(r"starting PostgreSQL", (), id="while-starting"),
        # While the operator is collecting (every Admin API answer takes 2 s).
        pytest.param(r"kong/sandbox: Running", ("--latency", "2"), id="while-collecting"),
    ],
)
def test_sigint_stops_everything(
    sandbox: Start,
    short_tmpdir: pathlib.Path,
    tmp_path: pathlib.Path,
    after: str,
    options: tuple[str, ...],
) -> None:
    running = sandbox("--out", str(tmp_path / "out"), *options)
    workdir = pathlib.Path(running.wait_for(_WORKDIR)[1])
    running.wait_for(after)
    postmaster = _postmaster(workdir) if "Running" in after else None
    running.process.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    assert running.finish(timeout=20) == 130, running.output
    assert time.monotonic() - interrupted < 10
    assert "SIGINT: stopping the sandbox" in running.output
    assert not (tmp_path / "out").exists()  # no report: it was not done
    if postmaster is not None:
        assert _gone(postmaster)
    _assert_left_nothing(workdir, short_tmpdir)


@pytest.fixture
def kubectl() -> pathlib.Path:
    try:
        return tools.kubectl_path()
    except tools.ToolMissing as missing:
        pytest.skip(str(missing))


def _kubectl(kubectl: str, kubeconfig: str, *args: str) -> str:
    done = subprocess.run(
        [kubectl, *args],
        env={**os.environ, "KUBECONFIG": kubeconfig},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_keep_running_serves_kubectl_until_ctrl_c(
    sandbox: Start, short_tmpdir: pathlib.Path, tmp_path: pathlib.Path, kubectl: pathlib.Path
) -> None:
    running = sandbox("--keep-running", "--out", str(tmp_path / "out"))
    workdir = pathlib.Path(running.wait_for(_WORKDIR)[1])
    hint = running.wait_for(r"KUBECONFIG=(\S+) (\S+) get lrr -A$")
    assert hint[2] == str(kubectl)
    listed = _kubectl(hint[2], hint[1], "get", "lrr", "-A")
    rows = [line.split() for line in listed.splitlines()]
    assert rows[0][:3] == ["NAMESPACE", "NAME", "PHASE"]
    assert rows[1][:3] == ["kong", "sandbox", "Succeeded"]
    # The chart's pods: three gateways whose Admin API is on their loopback only (no admin
    # port on the pod), the migration Job's pod, and the PostgreSQL sub-chart's pod.
    pods = json.loads(_kubectl(hint[2], hint[1], "get", "pods", "-n", "kong", "-o", "json"))
    gateways = [
        pod
        for pod in pods["items"]
        if pod["metadata"]["labels"].get("app.kubernetes.io/component") == "app"
        and pod["metadata"].get("ownerReferences", [{}])[0].get("kind") != "Job"
    ]
    assert len(gateways) == 3
    assert not [
        port
        for pod in gateways
        for container in pod["spec"]["containers"]
        for port in container.get("ports", [])
        if port.get("name", "").startswith("admin")
    ]
    assert "kong-postgresql-0" in {pod["metadata"]["name"] for pod in pods["items"]}
    assert running.process.poll() is None  # still up, until Ctrl-C
    postmaster = _postmaster(workdir)

    running.process.send_signal(signal.SIGINT)
    assert running.finish(timeout=20) == 0, running.output
    assert running.lines[-1].endswith("stopped")
    assert _gone(postmaster)
    _assert_left_nothing(workdir, short_tmpdir)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("option", ["--api-port", "--postgres-port", "--admin-port"])
def test_a_taken_port_is_a_usage_error_before_anything_starts(
    cli: Runner, short_tmpdir: pathlib.Path, taken_port: int, option: str
) -> None:
    # --admin-port is taken on 127.0.0.1 here: the pods start there.
    extra = ("--first-address", "127.0.0.1") if option == "--admin-port" else ()
    done = _run(cli, short_tmpdir, option, str(taken_port), *extra)
    assert done.returncode == 2
    assert done.stdout == ""  # nothing started
    (line,) = done.stderr.splitlines()
    assert f"127.0.0.1:{taken_port} is already in use" in line
    assert line.startswith(f"license-report sandbox: {option}")
    assert list(short_tmpdir.iterdir()) == []


def test_without_the_sandbox_distribution_the_command_says_what_to_install(
    cli: Runner, tmp_path: pathlib.Path
) -> None:
    """The operator alone (its image, ``pip install .``) has no sandbox: the command names it."""
    # importlib.metadata finds entry points through sys.meta_path finders; this one hides
    # the sandbox distribution's metadata (and its modules), as if it were not installed.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "sitecustomize.py").write_text(
        "import importlib.metadata as m\n"
        "everything = m.entry_points\n"
        "m.entry_points = lambda **s: [] if s.get('group') == 'license_report.commands' "
        "else everything(**s)\n"
    )
    done = cli("sandbox", "--pods", "1", env={"PYTHONPATH": str(shadow)})
    assert done.returncode == 2
    assert "comes with the license-report-sandbox distribution" in done.stderr
    assert "pip install ./sandbox" in done.stderr


_TRUTH_TOTAL = re.compile(r"^  total +(\d+) +(\d+)$", re.MULTILINE)
_DIFFERENCE = re.compile(
    r"^difference (-?\d+) \(truth - report\), bound (\d+): .* \(5 s interval \+ ([\d.]+) s until",
    re.MULTILINE,
)


def test_the_metered_topology_shows_a_rolling_update_metered_within_the_stated_bound(
    cli: Runner, short_tmpdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """A DB-less fleet keeps no counts: the operator's sampler meters it through a rolling
    update that replaces every pod, and the report rerun afterwards takes its counters from
    the ledger; what the simulated pods really proxied is printed beside them, and the
    difference keeps the bound docs/metering.md gives (one interval of traffic, the last
    seconds of each replaced pod)."""
    out = tmp_path / "out"
    started = time.monotonic()
    done = _run(cli, short_tmpdir, "--topology", "metered", "--out", str(out))
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert took < 60  # a first run that shows metering need not be long
    # The request is a selector and the interval; the sampler said so in status.metering.
    assert '"metering": {"intervalSeconds": 5}}' in done.stdout
    assert re.search(r"^  active +true$", done.stdout, re.MULTILINE)
    assert re.search(r"^  why +KONG_DATABASE=off", done.stdout, re.MULTILINE)
    rounds = re.findall(r"sampling round \d+: (\d+) pods \((\w+)\)", done.stdout)
    assert len(rounds) >= 3
    assert {source for _, source in rounds} == {"prometheus"}
    assert "6" in {pods for pods, _ in rounds}  # old and new pods while the old ones drain
    assert re.search(r"^  license-report-ledger-\w+-\d{4}-\d{2}-0: month ", done.stdout, re.M)
    assert "kong/sandbox: Succeeded" in done.stdout
    assert re.search(r"^nodes reached +3 of 3$", done.stdout, re.MULTILINE)

    report = json.loads((out / "report.json").read_text())
    counters = {c["bucket"]: c["request_count"] for c in report["counters"]}
    metering = json.loads((out / "metering.json").read_text())
    assert metering["counters"] == "ledger"
    assert metering["sources"] == ["prometheus"]
    assert metering["upper_bound"] is False
    assert metering["pods_metered"] == 6  # the three replaced pods included
    assert metering["interval_seconds"] == 5
    assert metering["months"] == counters
    nodes = json.loads((out / "nodes.json").read_text())
    assert sum(sum(node["metered"].values()) for node in nodes) == sum(counters.values())
    with tarfile.open(next(out.glob("report-*.tar"))) as tar:
        member = tar.extractfile("metering.json")
        assert member is not None
        assert member.read() == (out / "metering.json").read_bytes()

    # The printed table is report.json's; the truth 30 requests a second over the run, 60
    # while old and new pods both serve (20 s of the rolling update).
    printed = {bucket: int(count) for bucket, count in _COUNTER_LINE.findall(done.stdout)}
    assert printed == counters
    match = _TRUTH_TOTAL.search(done.stdout)
    assert match, done.stdout
    reported, proxied = int(match[1]), int(match[2])
    assert reported == sum(counters.values())
    assert 3 * 10 * 20 <= proxied <= 2 * 3 * 10 * took
    difference = _DIFFERENCE.search(done.stdout)
    assert difference, done.stdout
    lag = float(difference[3])
    bound = 10 * 3 * (5 + lag) + 10 * 3 * 3
    assert int(difference[1]) == proxied - reported
    assert abs(int(difference[2]) - bound) <= 2  # the lag is printed to 0.1 s
    assert 0 <= proxied - reported <= int(difference[2])
    _assert_left_nothing(_workdir(done.stdout), short_tmpdir)
