"""The example web app as a real process on loopback, and raw HTTP calls to it.

Cookies are handled as raw headers, never by a cookie jar: the tests see exactly what a
browser would be sent, and send exactly what an attacker could.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
SERVE = ROOT / "examples" / "webapp" / "serve.py"


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[0] if found else None

    def set_cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    def json(self) -> Any:
        return json.loads(self.body)


class WebApp:
    """``examples/webapp/serve.py FRAMEWORK`` on a free loopback port, until ``stop``."""

    def __init__(self, framework: str, store_url: str, *, ttl: float = 3600, dev: bool = False):
        self.framework = framework
        self.store_url = store_url
        self.ttl = ttl
        self.dev = dev
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log: Any = None

    def start(self, timeout: float = 30.0) -> WebApp:
        self.port = free_port()
        args = [sys.executable, str(SERVE), self.framework, "--port", str(self.port)]
        args += ["--ttl", str(self.ttl)] + (["--dev"] if self.dev else [])
        # The store URL through the environment, as the example recommends for passwords.
        env = {**os.environ, "SESH_URL": self.store_url}
        # Its errors to a file: a pipe nobody reads would fill and stall the server.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(args, env=env, cwd=ROOT, stderr=self.log)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"the app exited: {self.log.read().decode()[-2000:]}")
            try:
                self.call("GET", "/api/me", timeout=1.0)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def call(
        self,
        method: str,
        path: str,
        *,
        cookie: str | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        """One request on a fresh connection; ``cookie`` is the raw ``Cookie`` header."""
        headers = {}
        if cookie is not None:
            headers["Cookie"] = cookie
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            content_type = content_type or "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Reply(response.status, response.getheaders(), response.read())
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.log is not None:
            self.log.close()
            self.log = None
