"""``sesh check``: runs the conformance kit against a live store and reports each check."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, TextIO

import pytest

from sesh._validate import new_session_id
from sesh.urls import from_url

__all__ = ["check"]


class _Report:
    """A pytest plugin: the URL for the suite, and one line per check as it ends."""

    def __init__(self, url: str, out: TextIO, as_json: bool, short_ttl: float) -> None:
        self.url = url
        self.short_ttl = short_ttl
        self.out = out
        self.as_json = as_json
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    @pytest.fixture
    def sesh_check_url(self) -> str:
        return self.url

    @pytest.fixture
    def sesh_check_short_ttl(self) -> float:
        return self.short_ttl

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when != "call" and not (report.failed or report.skipped):
            return
        if report.when == "teardown" and not report.failed:
            return
        api, name = report.nodeid.split("::")[-2:]
        label = f"{'async' if api == 'TestAsync' else 'sync'}: {name.removeprefix('test_')}"
        if report.passed:
            self.passed += 1
            self._line("pass", label, "")
        elif report.skipped:
            self.skipped += 1
            self._line("skip", label, str(report.longrepr[-1]) if report.longrepr else "")
        else:
            self.failed += 1
            self._line("FAIL", label, _reason(report))

    def _line(self, outcome: str, label: str, why: str) -> None:
        if self.as_json:
            record = {"check": label, "outcome": outcome.lower(), "reason": why or None}
            print(json.dumps(record), file=self.out)
        else:
            print(f"{outcome}  {label}" + (f"  ({why})" if why else ""), file=self.out)
        self.out.flush()


def _reason(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text.splitlines()[0][:200] if text else "failed"


def check(url: str, *, out: TextIO, as_json: bool = False, short_ttl: float = 1.0) -> int:
    """Runs the kit (sync and async) on stores made from ``url``; 0 if every check passed.

    ``short_ttl`` is the ttl of the expiry checks (seconds): the default leaves 0.4 s of
    slack for a remote, busy store; raise it for a slower one.

    Each test works under a random prefix of its own and kills the sessions it made.
    """
    with from_url(url) as store:  # a bad URL or a dead store: one clear error, not 100
        store.get(new_session_id())
    if isinstance(short_ttl, bool) or not isinstance(short_ttl, (int, float)):
        raise TypeError(f"short_ttl must be seconds, not {type(short_ttl).__name__}")
    if not 0.05 <= short_ttl <= 60:
        raise ValueError("the checks' ttl must be 0.05 to 60 seconds")
    report = _Report(url, out, as_json, float(short_ttl))
    suite = Path(__file__).with_name("_check.py")
    with tempfile.TemporaryDirectory(prefix="sesh-check-") as scratch:
        args = [
            str(suite),
            "-c", os.devnull,
            "--rootdir", scratch,
            "-o", "python_files=_check.py",
            "-p", "no:cacheprovider",
            "-W", "ignore::DeprecationWarning",
            "-q",
        ]  # fmt: skip
        # hypothesis keeps caches in ./.hypothesis unless told otherwise: not in the user's cwd
        saved = os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = saved or scratch
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                pytest.main(args, plugins=[report])
        finally:
            if saved is None:
                del os.environ["HYPOTHESIS_STORAGE_DIRECTORY"]
    summary = f"{report.passed} passed, {report.failed} failed"
    if report.skipped:
        summary += f", {report.skipped} skipped"
    if as_json:
        counts = {"passed": report.passed, "failed": report.failed, "skipped": report.skipped}
        print(json.dumps(counts), file=out)
    else:
        print(summary, file=out)
    return 0 if report.failed == 0 and report.passed > 0 else 1
