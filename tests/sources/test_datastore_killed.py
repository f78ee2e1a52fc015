"""The datastore dying in the middle of a read: a transient error, never a partial figure."""

from __future__ import annotations

import asyncio
import datetime
import pathlib
import secrets

import psycopg

from license_report.report import window
from license_report.sources import datastore
from license_report_sandbox import postgres, seed

WINDOW = window.Window.ending(now=datetime.datetime(2026, 11, 27, tzinfo=datetime.UTC), months=12)


async def test_a_server_killed_mid_read_is_a_transient_error(tmp_path: pathlib.Path) -> None:
    password = secrets.token_urlsafe(12)
    server = postgres.PostgresServer(base_dir=tmp_path)
    started = server.start()
    try:
        name = postgres.create_kong_database(started, name="kong", owner_password=password)
        dsn = started.dsn(database=name, user="kong", password=password)
        with psycopg.connect(dsn) as conn:
            seed.apply_seed(conn, seed.sample_seed(now=datetime.date(2026, 11, 27)))
        settings = datastore.DatastoreSettings(
            host=started.host,
            port=started.port,
            database=name,
            password=password,
            statement_timeout=30,
        )
        # Hold a lock so the read is mid-query, waiting, when the server dies.
        locker = psycopg.connect(dsn)
        locker.execute("LOCK TABLE services IN ACCESS EXCLUSIVE MODE")
        read = asyncio.create_task(datastore.read(settings=settings, window=WINDOW))
        await asyncio.sleep(0.5)
        assert not read.done()
        await asyncio.to_thread(server.kill)
        try:
            await asyncio.wait_for(read, timeout=10)
        except datastore.DatastoreError as error:
            caught = error
        else:
            raise AssertionError("a read cut by the server's death returned figures")
        finally:
            locker.close()
    finally:
        server.stop()
    assert caught.transient, caught
    assert password not in str(caught)
    assert f"{started.host}:{started.port}/kong" in str(caught)
