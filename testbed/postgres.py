"""A real PostgreSQL for the tests: ``initdb`` into a scratch directory, one server on a
free loopback port, stopped at the end.

PostgreSQL refuses to run as root, so where the tests run as root the server's programs
run as the ``postgres`` user (Debian's package creates it), on a directory given to it.
``stall()`` stops every one of the server's processes (SIGSTOP: the postmaster first, so
it starts no more, then each child, found under /proc since each runs in a session of its
own), as a hung host looks from a client whose kernel still acknowledges packets, and
``resume()`` lets them go on.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from testbed.servers import free_port

INSTALL_HINT = (
    "the tests need a real PostgreSQL: install it (Debian/Ubuntu: apt-get install postgresql)"
    " or set SESH_POSTGRES_URL to a PostgreSQL 13+ database the tests may write to"
)
ADMIN = "sesh_admin"


def bindir() -> Path:
    """Where PostgreSQL's server programs are: Debian keeps them off PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).parent
    raise RuntimeError(INSTALL_HINT)


class PostgresServer:
    """One PostgreSQL server on 127.0.0.1 with password (SCRAM) authentication.

    ``url`` connects as the superuser ``sesh_admin`` to the database ``sesh``; ``url_for``
    as another role. fsync is off (a test server needs no durability against power loss)
    but commits still reach the operating system's files, so an immediate stop keeps them.
    """

    def __init__(self) -> None:
        self.bin = bindir()
        self.password = secrets.token_urlsafe(12)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.user = self._run_as()
        self.workdir = Path(tempfile.mkdtemp(prefix="sesh-postgres-"))
        self.data = self.workdir / "data"
        if self.user is not None:
            os.chown(self.workdir, self.user.pw_uid, self.user.pw_gid)

    @staticmethod
    def _run_as() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(
                "PostgreSQL refuses to run as root and there is no 'postgres' user to run it as"
            ) from None

    def _popen(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        if self.user is not None:
            kwargs.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        return subprocess.Popen(args, cwd=self.workdir, env=self._environment(), **kwargs)

    def url_for(self, user: str, password: str, dbname: str = "sesh") -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    @property
    def url(self) -> str:
        return self.url_for(ADMIN, self.password)

    def _environment(self) -> dict[str, str]:
        # A developer's PG* variables (PGDATA, PGPORT, ...) must not steer the test server.
        return {k: v for k, v in os.environ.items() if not k.startswith("PG")}

    def init(self) -> None:
        """Makes the cluster (``initdb``) with the superuser's password."""
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.user is not None:
            os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        pwfile.chmod(0o600)
        initdb = self._popen(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                ADMIN,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = initdb.communicate(timeout=120)
        pwfile.unlink()
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed: {out.decode(errors='replace')[-2000:]}")

    def start(self, timeout: float = 30.0) -> None:
        """Starts the server (initialising it first if need be) and waits until it answers;
        the first start makes the database ``sesh``."""
        fresh = not self.data.exists()
        if fresh:
            self.init()
        if not self.port:
            self.port = free_port()
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 (closed once started)
        self.process = self._popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.workdir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=64MB",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()  # the server has its own copy
        self._wait_ready(timeout)
        if fresh:
            with psycopg.connect(self.url_for(ADMIN, self.password, "postgres")) as conn:
                conn.autocommit = True
                conn.execute("CREATE DATABASE sesh")

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                log = (self.workdir / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"postgres exited with {self.process.returncode}: {log}")
            try:
                with psycopg.connect(
                    self.url_for(ADMIN, self.password, "postgres"), connect_timeout=2
                ):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError("postgres did not start in time") from None
                time.sleep(0.05)

    def processes(self) -> list[int]:
        """The postmaster's pid, then its children's."""
        assert self.process is not None
        found = [self.process.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue  # it ended meanwhile
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def _signal_all(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return  # not running: its pids may be someone else's by now
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def stall(self) -> None:
        """Stops every server process (SIGSTOP): connections stay open, nothing answers.

        The postmaster first, so it forks no more; then its children, until a pass finds
        none left running (one forked just before the postmaster stopped)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        stopped: set[int] = set()
        while True:
            children = set(self.processes()[1:]) - stopped
            if not children:
                return
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            stopped |= children

    def resume(self) -> None:
        """Lets the stalled processes go on (SIGCONT)."""
        self._signal_all(signal.SIGCONT)

    def stop(self, *, immediate: bool = False) -> None:
        """Stops the server: a fast shutdown, or with ``immediate`` a crash-like one (no
        checkpoint: the next start recovers from the write-ahead log)."""
        if self.process is None or self.process.poll() is not None:
            return
        self._signal_all(signal.SIGCONT)  # a stalled server cannot stop
        self.process.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self._signal_all(signal.SIGKILL)
            self.process.wait(10)

    def restart(self, *, immediate: bool = False) -> None:
        """Stops the server and starts it again on the same port."""
        self.stop(immediate=immediate)
        self.start()

    def close(self) -> None:
        """Stops the server and removes its files."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def admin(self) -> psycopg.Connection[Any]:
        """An autocommit connection as the superuser, to the tests' database."""
        return psycopg.connect(self.url, autocommit=True)
