"""The test PostgreSQL server: reached over TCP with a password, like a real datastore."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import psycopg
import pytest

from license_report_sandbox import postgres


def test_the_server_listens_on_tcp_and_checks_passwords_with_scram(
    pg_server: postgres.Server,
) -> None:
    with psycopg.connect(pg_server.dsn(database="postgres")) as conn:
        row = conn.execute(
            "SELECT host(inet_server_addr()), inet_server_port(), "
            "current_setting('listen_addresses'), current_setting('password_encryption')"
        ).fetchone()
        methods = conn.execute(
            "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'"
        ).fetchall()

    assert row == ("127.0.0.1", pg_server.port, "127.0.0.1", "scram-sha-256")
    assert methods == [("scram-sha-256",)]


def test_tcp_connections_without_a_password_are_refused(pg_server: postgres.Server) -> None:
    # Trust holds for the Unix socket only; passfile keeps ~/.pgpass out of it.
    dsn = pg_server.dsn(database="postgres", user=pg_server.superuser)
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(dsn, passfile=os.devnull).close()


def test_a_wrong_password_is_refused(pg_server: postgres.Server) -> None:
    dsn = pg_server.dsn(database="postgres", password="not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsn).close()


def test_the_superuser_password_stays_out_of_repr(pg_server: postgres.Server) -> None:
    assert pg_server.superuser_password not in repr(pg_server)


def test_create_kong_database_gives_the_owner_a_password_login(
    pg_server: postgres.Server,
) -> None:
    name = postgres.create_kong_database(
        pg_server, name="kong_sim_owner", owner="kong_sim", owner_password="s1m-pw"
    )
    try:
        dsn = pg_server.dsn(database=name, user="kong_sim", password="s1m-pw")
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT current_user, pg_get_userbyid(datdba) FROM pg_database "
                "WHERE datname = current_database()"
            ).fetchone()
        assert row == ("kong_sim", "kong_sim")
    finally:
        postgres.drop_database(pg_server, name=name)
        with psycopg.connect(pg_server.dsn(database="postgres"), autocommit=True) as conn:
            conn.execute("DROP ROLE kong_sim")


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = postgres.PostgresServer(base_dir=tmp_path, port=port)

        with pytest.raises(postgres.PortInUseError, match=f"127.0.0.1:{port} is already in use"):
            server.start()

    assert server.server is None
    server.stop()  # nothing to stop: no error


def test_stop_is_idempotent_and_kill_then_start_recovers(tmp_path: Path) -> None:
    server = postgres.PostgresServer(base_dir=tmp_path)
    server.stop()  # never started

    started = time.monotonic()
    running = server.start()
    assert time.monotonic() - started < 10
    with psycopg.connect(running.dsn(database="postgres"), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")  # the server's default is off, for speed
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")

    server.kill()
    with pytest.raises(psycopg.OperationalError, match="Connection refused"):
        psycopg.connect(running.dsn(database="postgres"), connect_timeout=2).close()
    server.stop()  # after kill: nothing left to stop

    restarted = server.start()
    assert restarted.superuser_password == running.superuser_password
    with psycopg.connect(restarted.dsn(database="postgres")) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(42,)]

    server.stop()
    server.stop()
    assert server.server is None
    assert not (restarted.data_dir / "postmaster.pid").exists()
