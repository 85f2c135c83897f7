"""The real ``sesh`` console script, run in subprocesses, end to end."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.servers import free_port

SESH = Path(sys.executable).with_name("sesh")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def sesh(
    *args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Runs the console script in a scratch directory (and HOME), with no SESH_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SESH_", "XDG_"))}
    clean["HOME"] = str(home)
    return subprocess.run(
        [str(SESH), *args],
        env={**clean, **(env or {})},
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_rotate_sessions_and_die_all(home: Path) -> None:
    env = {"SESH_TRACK_USERS": "1", "SESH_TTL": "60"}
    first, second = (sesh("set", "alice", home=home, env=env).stdout.strip() for _ in "ab")
    rotated = sesh("rotate", first, home=home, env=env)
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip()
    assert sesh("get", first, home=home, env=env).returncode == 1
    listed = sesh("--json", "sessions", "alice", home=home, env=env)
    assert sorted(json.loads(listed.stdout)["sessions"]) == sorted([new, second])
    assert sesh("rotate", first, home=home, env=env).returncode == 1
    assert sesh("die-all", "alice", home=home, env=env).stdout == "2\n"
    assert sesh("sessions", "alice", home=home, env=env).stdout == ""


def test_sessions_without_track_users_is_bad_input(home: Path) -> None:
    result = sesh("sessions", "alice", home=home)
    assert "track_users" in assert_one_line_error(result, 2)


def assert_one_line_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_the_four_verbs_on_the_embedded_default(home: Path) -> None:
    made = sesh("--ttl", "60", "set", "1337", home=home)
    assert made.returncode == 0, made.stderr
    session_id = made.stdout.strip()
    assert len(session_id) == 44
    assert (home / ".local" / "share" / "sesh" / "sessions.db").is_file()
    assert sesh("get", session_id, home=home).stdout == "1337\n"
    assert sesh("--ttl", "60", "get", "--touch", session_id, home=home).stdout == "1337\n"
    assert sesh("--ttl", "60", "liv", session_id, home=home).returncode == 0
    assert sesh("die", session_id, home=home).returncode == 0
    gone = sesh("get", session_id, home=home)
    assert (gone.returncode, gone.stdout) == (1, "")
    assert gone.stderr == "sesh: no such session\n"
    assert sesh("liv", session_id, home=home).returncode == 1
    assert sesh("die", session_id, home=home).returncode == 1


def test_the_data_directory_follows_xdg(home: Path, tmp_path: Path) -> None:
    made = sesh("set", "alice", home=home, env={"XDG_DATA_HOME": str(tmp_path / "data")})
    assert made.returncode == 0
    assert (tmp_path / "data" / "sesh" / "sessions.db").is_file()


def test_json_output(home: Path) -> None:
    session_id = json.loads(sesh("--json", "set", "alice", home=home).stdout)["session_id"]
    assert json.loads(sesh("--json", "get", session_id, home=home).stdout) == {"user_id": "alice"}
    assert json.loads(sesh("--json", "liv", session_id, home=home).stdout) == {"alive": True}
    assert json.loads(sesh("--json", "die", session_id, home=home).stdout) == {"removed": True}
    gone = sesh("--json", "get", session_id, home=home)
    assert (gone.returncode, json.loads(gone.stdout)) == (1, {"user_id": None})
    bad = sesh("--json", "set", "", home=home)
    assert bad.returncode == 2
    assert json.loads(bad.stderr) == {"error": "user_id must not be empty"}


def test_url_and_prefix_from_the_environment(home: Path, tmp_path: Path) -> None:
    env = {"SESH_URL": f"sqlite:///{tmp_path}/env.db", "SESH_PREFIX": "app"}
    session_id = sesh("set", "bob", home=home, env=env).stdout.strip()
    assert sesh("get", session_id, home=home, env=env).stdout == "bob\n"
    assert sesh("--prefix", "other", "get", session_id, home=home, env=env).returncode == 1
    assert not (home / ".local").exists()


def test_redis_url(home: Path, redis_url: str) -> None:
    session_id = sesh("--url", redis_url, "--ttl", "30", "set", "42", home=home).stdout.strip()
    assert sesh("--url", redis_url, "get", session_id, home=home).stdout == "42\n"
    assert sesh("--url", redis_url, "die", session_id, home=home).returncode == 0


def test_python_dash_m(home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sesh", "--url", "memory://", "set", "x"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    assert result.returncode == 0
    assert len(result.stdout.strip()) == 44


@pytest.mark.parametrize(
    "args",
    [
        ["set", ""],
        ["--ttl", "-5", "set", "x"],
        ["--ttl", "nan", "set", "x"],
        ["--ttl", "soon", "set", "x"],
        ["frobnicate"],
        ["get"],
        ["--url", "mysql://root:hunter2@db/app", "set", "x"],
        ["--url", "sqlite://host/x.db", "set", "x"],
    ],
)
def test_bad_input_is_one_line_and_status_2(home: Path, args: list[str]) -> None:
    message = assert_one_line_error(sesh(*args, home=home), 2)
    assert "hunter2" not in message


def test_a_malformed_session_id_is_no_session(home: Path) -> None:
    result = sesh("get", "not-a-session-id", home=home)
    assert (result.returncode, result.stdout) == (1, "")


def test_a_dead_backend_is_one_line_and_status_3(home: Path) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    session_id = "A" * 42 + "A="
    for args in (["set", "x"], ["get", session_id], ["liv", session_id], ["die", session_id]):
        message = assert_one_line_error(sesh("--url", url, *args, home=home), 3)
        assert "hunter2" not in message
        assert session_id not in message


def test_a_file_that_is_not_a_sesh_database(home: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not sqlite\n" * 100)
    message = assert_one_line_error(
        sesh("--url", f"sqlite:///{tmp_path}/notes.db", "set", "x", home=home), 3
    )
    assert "not a sesh database" in message


def test_help_says_where_the_default_store_is(home: Path) -> None:
    result = sesh("--help", home=home)
    assert result.returncode == 0
    assert f"  {home / '.local' / 'share' / 'sesh' / 'sessions.db'}\n" in result.stdout


def test_check_passes_memory_sqlite_and_redis(home: Path, tmp_path: Path, redis_url: str) -> None:
    # The three runs mostly wait on real time, so they run at once.
    path = tmp_path / "c.db"
    urls = ["memory://", f"sqlite:///{path}", redis_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SESH_", "XDG_"))}
    runs = [
        subprocess.Popen(
            [str(SESH), "check", url, "--short-ttl", "0.5"],
            env={**env, "HOME": str(home)},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    try:
        outputs = [run.communicate(timeout=240) for run in runs]
    finally:
        for run in runs:
            run.kill()
            run.wait()
    for url, run, (stdout, stderr) in zip(urls, runs, outputs, strict=True):
        assert "Traceback" not in stderr, url
        lines = stdout.strip().splitlines()
        assert run.returncode == 0, (url, stdout[-2000:])
        # hash_ids needs a look inside the store, which a URL does not give: skipped.
        assert re.fullmatch(r"\d+ passed, 0 failed, \d+ skipped", lines[-1]), lines[-1]
        assert int(lines[-1].split()[0]) > 150
        assert any(line.startswith("pass  sync: ") for line in lines)
        assert any(line.startswith("pass  async: ") for line in lines)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM sesh_sessions").fetchone()[0] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["c.db"]  # no .hypothesis, no WAL left


def test_check_of_a_dead_store_fails(home: Path) -> None:
    result = sesh("check", f"redis://127.0.0.1:{free_port()}/0", home=home)
    assert_one_line_error(result, 3)


def test_check_without_the_testing_extra_says_what_to_install(home: Path) -> None:
    no_pytest = "import sys; sys.modules['pytest'] = None; from sesh.cli import console; console()"
    result = subprocess.run(
        [sys.executable, "-c", no_pytest, "check", "memory://"],
        capture_output=True,
        text=True,
    )
    assert_one_line_error(result, 2)
    assert "pip install 'sesh[testing]'" in result.stderr
