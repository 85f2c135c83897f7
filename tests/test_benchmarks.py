"""The benchmark harness runs end to end (its numbers are not checked: benchmarks are not
timed tests)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import charts, instructions
from benchmarks.__main__ import NO_CHARTS


def test_the_quick_benchmark_run_writes_its_tables_and_charts(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=Path(__file__).parent.parent,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = (tmp_path / "README.md").read_text()
    assert "# sesh on PostgreSQL" in report  # benchmarks.postgres ran, in a process of its own
    postgres = (tmp_path / "postgres.md").read_text()
    for section in ["raw psycopg", "Django's database sessions", "RedisStore",
                    "as the table grows", "Bytes per session on disk", "Purging"]:  # fmt: skip
        assert section in postgres, section
    # sesh and raw psycopg on PostgreSQL: one round trip for each of the eight verbs.
    floor = postgres.split("## PostgresStore against raw psycopg")[1].split("\n## ")[0]
    rows = [line for line in floor.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 8, floor
    for row in rows:
        assert row.endswith("| 1 / 1 |"), row
    fast = (tmp_path / "fast_path.md").read_text()
    for verb in ("set", "get", "get(touch)", "liv", "die"):
        assert f"| {verb} | " in fast, fast
    for tasks in (1, 16, 64, 256):
        assert f"| {tasks} | " in fast, fast
    assert "| sync get, one thread | " in fast, fast  # on a Cluster
    assert "| asyncio get, 64 tasks | " in fast, fast
    web = (tmp_path / "web.md").read_text()
    for framework in ("FastAPI", "Flask", "Django"):
        assert f"| {framework} | sesh | 1 |" in web, web  # one round trip per request
    for section in ["bare socket", "concurrency", "Peers", "fakeredis", "Django", "grow",
                    "Bytes per live session", "expired", "option", "web layer"]:  # fmt: skip
        assert section in report, section
    # The test run installs the peers but not matplotlib (the ``charts`` extra): the
    # report then says how to get the charts, and draws none.
    if charts.available():
        for chart in charts.NAMES:
            assert (tmp_path / f"{chart}.png").stat().st_size > 1000, chart
    else:
        assert NO_CHARTS in report
        assert not list(tmp_path.glob("*.png"))


def test_instruction_counts_come_from_the_calls_alone() -> None:
    # valgrind: the test command installs it (scripts/test.sh).
    # Twice the calls, twice the count: the set-up (imports, the store, its sessions) is
    # the same in both runs and cancels out.
    with ThreadPoolExecutor(2) as pool:
        few, more = pool.map(
            lambda calls: instructions.per_call("memory", "get", calls), [200, 400]
        )
    assert 2_000 < few < 100_000, few
    assert abs(more - few) / few < 0.1, (few, more)


def test_the_instruction_counter_runs_every_verb_on_both_stores() -> None:
    for kind in ("memory", "fakeredis"):
        for verb in instructions.VERBS:
            instructions._run(kind, verb, 3, counted=True)
