"""Real redis-server processes for the tests: started on a free loopback port, then stopped."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

INSTALL_HINT = (
    "the tests need a real redis-server: install it (Debian/Ubuntu: apt-get install"
    " redis-server) or set SESH_REDIS_URL to a Redis 6.2+ the tests may write to"
)


def free_port(also_free_at: int = 0) -> int:
    """A free loopback port; with ``also_free_at``, one whose port + that is free too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if not also_free_at:
            return port
        if port + also_free_at <= 65535:
            with socket.socket() as other:
                try:
                    other.bind(("127.0.0.1", port + also_free_at))
                except OSError:
                    continue
            return port


class RedisServer:
    """One redis-server with no persistence, on 127.0.0.1, in a scratch directory.

    ``config`` is written to a file that comes first on the command line (a Sentinel needs
    one it can rewrite); ``extra_args`` follow the defaults.
    """

    def __init__(self, *extra_args: str, config: str = "") -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError(INSTALL_HINT)
        self.executable = executable
        self.extra_args = extra_args
        self.config = config
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.workdir = tempfile.TemporaryDirectory(prefix="sesh-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None, timeout: float = 10.0) -> None:
        """Starts the server (on ``port``, or a free one) and waits until it answers PING."""
        self.port = port or free_port()
        workdir = Path(self.workdir.name)
        config = []
        if self.config:
            (workdir / "redis.conf").write_text(self.config)
            config = [str(workdir / "redis.conf")]
        with (workdir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.executable,
                    *config,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(workdir),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            while True:
                if self.process.poll() is not None:
                    text = (workdir / "redis.log").read_text(errors="replace").strip()
                    last = text.splitlines()[-1] if text else ""
                    raise RuntimeError(
                        f"redis-server exited with {self.process.returncode}: {last}"
                    )
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def log_tail(self, lines: int) -> list[str]:
        """The last lines the server logged (the tests' diagnosis of a failure)."""
        log = Path(self.workdir.name) / "redis.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return text.splitlines()[-lines:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        self.workdir.cleanup()
