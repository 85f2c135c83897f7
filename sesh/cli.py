"""The ``sesh`` command line: the verbs against any store URL, and ``sesh check``.

Exit status: 0 done; 1 no such session (or a failed check); 2 bad input, usage or setting;
3 the store or the system failed (the backend, or writing the output). Errors are one line
on stderr, never a traceback, and never show a session id or a password.

A session id is a password, and so is a URL's: arguments are visible to every local user
(``ps``, ``/proc/*/cmdline``), so a session-id argument of ``-`` is read from standard
input, and a credentialed URL belongs in ``$SESH_URL``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sesh.errors import NotEnabledError, SeshError
from sesh.urls import from_url

__all__ = ["default_url", "main"]

NO_SESSION, BAD_INPUT, FAILED = 1, 2, 3
BACKEND_FAILED = FAILED  # its name before output failures joined it
_SESSION_ID = re.compile(r"[A-Za-z0-9+/]{43}=")
# What a URL or option may carry of a password: user:password@, and ?password=...
# Greedy to the last "@" of the word: a password may hold "@", "/" or quotes.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)\S*@")
_PASSWORD_OPTION = re.compile(r"(?i)(password=)[^&\s'\"]*")
_MAX_STDIN_ID = 4096  # a session id is 44 characters; a longer line is no session


def data_dir() -> Path:
    """Where the command line keeps its embedded database, by the platform's convention.

    Raises:
        RuntimeError: the user has no home directory (no ``$HOME``, an unknown uid).
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "sesh"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "sesh"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "sesh"


def default_url() -> str:
    """``SESH_URL``, else the embedded SQLite file in ``data_dir()``."""
    return os.environ.get("SESH_URL") or f"sqlite:///{data_dir() / 'sessions.db'}"


def mask(text: str) -> str:
    """``text`` with every session id and every password of a URL or option replaced."""
    text = _SESSION_ID.sub("<session id>", text)
    text = _USERINFO.sub(r"\1***@", text)
    return _PASSWORD_OPTION.sub(r"\1***", text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        # One line, like every other error here (argparse would add the usage), and with
        # no session id or password: argparse quotes stray arguments, which may be either.
        message = mask(message).replace("\n", "\\n")
        self.exit(BAD_INPUT, f"{self.prog}: error: {message} (see sesh --help)\n")


class _OutputFailed(Exception):
    """The result could not be written to standard output (a closed pipe, a full disk,
    an encoding that cannot show the user id)."""


class _BadSetting(ValueError):
    """The environment points the command line somewhere it cannot go."""


def _ttl(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None


def _on(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def _default_file() -> str:
    try:
        return str(data_dir() / "sessions.db")
    except RuntimeError:
        return "(none: no home directory; set $XDG_DATA_HOME, or give a URL)"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sesh",
        description="Make, read, refresh and end login sessions in any sesh store.",
        epilog=(
            "The store URL comes from --url, else $SESH_URL, else an embedded SQLite file:\n"
            f"  {_default_file()}\n"
            "Arguments are visible to every local user (ps): give a session id as -\n"
            'to read it from standard input (echo "$ID" | sesh get -), and a URL with\n'
            "a password in $SESH_URL. The embedded file holds ids in the clear for its\n"
            "owner (mode 0600); --hash-ids keeps digests instead, if the app does too.\n"
            "Exit status: 0 done, 1 no such session or a failed check, 2 bad input or\n"
            "setting, 3 the store or the system failed."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url",
        help="store URL: sqlite:///file.db, redis://host:6379/0, ... (with a password,"
        " use $SESH_URL: arguments are visible to other users)",
    )
    parser.add_argument(
        "--prefix",
        default=os.environ.get("SESH_PREFIX", "sesh"),
        help="key prefix (default: $SESH_PREFIX or 'sesh')",
    )
    parser.add_argument(
        "--ttl",
        type=_ttl,
        default=os.environ.get("SESH_TTL"),
        help="session lifetime in seconds; 0 or unset: never expires (default: $SESH_TTL)",
    )
    parser.add_argument(
        "--max-age",
        type=_ttl,
        default=os.environ.get("SESH_MAX_AGE"),
        help="absolute session lifetime in seconds; unset: none (default: $SESH_MAX_AGE)",
    )
    parser.add_argument(
        "--track-users",
        action="store_true",
        default=_on("SESH_TRACK_USERS"),
        help="the store keeps an index of each user's sessions (default: $SESH_TRACK_USERS)",
    )
    parser.add_argument(
        "--hash-ids",
        action="store_true",
        default=_on("SESH_HASH_IDS"),
        help="the store holds SHA-256 digests of ids (default: $SESH_HASH_IDS)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("set", help="make a session; prints its id").add_argument("user_id")
    get = verbs.add_parser("get", help="print a session's user id; exit 1 if none")
    _session_id_argument(get)
    get.add_argument("--touch", action="store_true", help="also reset its expiry to the ttl")
    for verb, what in [("liv", "reset a session's expiry"), ("die", "end a session")]:
        _session_id_argument(verbs.add_parser(verb, help=f"{what}; exit 1 if none"))
    _session_id_argument(
        verbs.add_parser("rotate", help="give a session a fresh id; prints it; exit 1 if none")
    )
    verbs.add_parser(
        "sessions", help="print a user's live sessions, one a line (needs --track-users)"
    ).add_argument("user_id")
    verbs.add_parser(
        "die-all", help="end every session of a user; prints how many (needs --track-users)"
    ).add_argument("user_id")
    check = verbs.add_parser(
        "check", help="run the conformance kit against a live store (needs sesh[testing])"
    )
    check.add_argument("check_url", metavar="URL", nargs="?", help="default: the store URL")
    schema = verbs.add_parser(
        "schema",
        help="print the SQL that makes a PostgreSQL sessions table (connects to nothing)",
    )
    schema.add_argument("--table", default="sesh_sessions", help="default: sesh_sessions")
    schema.add_argument("--schema", help="default: unqualified (the search_path's first)")
    schema.add_argument(
        "--unlogged", action="store_true", help="an UNLOGGED table: faster, emptied by a crash"
    )
    check.add_argument(
        "--short-ttl",
        type=_ttl,
        default=1.0,
        help="the ttl of the expiry checks, in seconds (default 1; more for a slow store)",
    )
    return parser


def _session_id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "session_id",
        help="the session id, or - to read it from standard input (one line), which keeps"
        " it out of the process list",
    )


def _session_id(arg: str) -> str:
    """The session id argument, or the first line of standard input for ``-``."""
    if arg != "-":
        return arg
    try:
        line = sys.stdin.readline(_MAX_STDIN_ID) if sys.stdin is not None else ""
    except UnicodeDecodeError:
        raise ValueError("standard input is not text in the locale's encoding") from None
    except OSError as exc:
        raise ValueError(f"cannot read standard input: {exc.strerror}") from None
    if not line:
        raise ValueError("no session id on standard input (give one line, or the id itself)")
    return line.removesuffix("\n").removesuffix("\r")


def _store_url(args: argparse.Namespace) -> str:
    """The URL to use; for the embedded default, its directory made (private) first."""
    if args.url or os.environ.get("SESH_URL"):
        return str(args.url or os.environ["SESH_URL"])
    try:
        directory = data_dir()
    except RuntimeError:
        raise _BadSetting(
            "no home directory to keep the embedded database in: set $HOME or"
            " $XDG_DATA_HOME, or give the store with --url or $SESH_URL"
        ) from None
    _private_directory(directory)
    return f"sqlite:///{directory / 'sessions.db'}"


def _private_directory(path: Path) -> None:
    """Makes ``path`` and any missing parent, each readable by the user alone (0700)."""
    try:
        missing = []
        at = path
        while not at.is_dir():
            missing.append(at)
            if at.parent == at:
                break
            at = at.parent
        for directory in reversed(missing):
            # exist_ok: another sesh may make it at the same moment (a file there still fails)
            directory.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise _BadSetting(
            f"cannot make the data directory {path}: {exc.strerror} (set $XDG_DATA_HOME,"
            " or give the store with --url or $SESH_URL)"
        ) from None


def _run(args: argparse.Namespace) -> int:
    """Does the verb and writes its output; returns the exit status."""
    if args.verb == "check":
        try:
            from sesh.testing._runner import check
        except ImportError:
            raise ValueError(
                "sesh check runs the conformance kit, which needs pytest and hypothesis:"
                " pip install 'sesh[testing]'"
            ) from None

        target = args.check_url or _store_url(args)
        return check(target, out=sys.stdout, as_json=args.json, short_ttl=args.short_ttl)
    if args.verb == "schema":
        return _schema(args)
    url = _store_url(args)
    options = {"track_users": args.track_users, "max_age": args.max_age, "hash_ids": args.hash_ids}
    if getattr(args, "session_id", None) is not None:
        args.session_id = _session_id(args.session_id)
    with from_url(url, prefix=args.prefix, ttl=args.ttl, **options) as store:
        if args.verb == "set":
            session_id = store.set(args.user_id)
            return _output_new_id(args, store, session_id)
        if args.verb == "rotate":
            new_id = store.rotate(args.session_id)
            if new_id is None:
                return _output(args, None, {"session_id": None})
            return _output_new_id(args, store, new_id)
        if args.verb == "sessions":
            ids = store.sessions(args.user_id)
            return _output(args, "\n".join(ids), {"sessions": ids}, found=True)
        if args.verb == "die-all":
            removed = store.die_all(args.user_id)
            return _output(args, str(removed), {"removed": removed}, found=True)
        if args.verb == "get":
            user_id = store.get(args.session_id, touch=args.touch)
            return _output(args, user_id, {"user_id": user_id})
        done = store.liv(args.session_id) if args.verb == "liv" else store.die(args.session_id)
        key = "alive" if args.verb == "liv" else "removed"
        return _output(args, "", {key: done}, found=done)


def _schema(args: argparse.Namespace) -> int:
    """Prints the DDL of a PostgreSQL sessions table (for apps that run their own
    migrations, and roles that may not create tables)."""
    try:
        from sesh.backends._postgres_sql import schema_sql
    except ImportError:
        raise ValueError("sesh schema needs psycopg 3: pip install 'sesh[postgres]'") from None
    ddl = schema_sql(args.table, args.schema, unlogged=args.unlogged)
    return _output(args, ddl.rstrip("\n"), {"sql": ddl}, found=True)


def _output_new_id(args: argparse.Namespace, store: Any, session_id: str) -> int:
    """Writes a session id that ``set`` or ``rotate`` made; if it cannot be written, ends
    that session: nobody saw its id, so it must not outlive the command."""
    try:
        return _output(args, session_id, {"session_id": session_id})
    except _OutputFailed as failed:
        try:
            store.die(session_id)
        except SeshError:
            raise _OutputFailed(f"{failed}; the session it made is left") from None
        raise _OutputFailed(f"{failed}; the session it made was ended") from None


def _output(
    args: argparse.Namespace, text: str | None, data: dict[str, Any], found: bool | None = None
) -> int:
    """Writes the result (or says there is no such session); returns the exit status."""
    found = text is not None if found is None else found
    try:
        if args.json:
            print(json.dumps(data))
        elif text:
            print(text)
        sys.stdout.flush()
    except (OSError, UnicodeEncodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        _silence_stdout()
        raise _OutputFailed(f"cannot write the output: {reason}") from None
    if not found and not args.json:
        print("sesh: no such session", file=sys.stderr)
    return 0 if found else NO_SESSION


def _silence_stdout() -> None:
    # What could not be written stays buffered, and Python would try again at exit and
    # print a second error: send it, and anything after it, nowhere.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (redirected in-process)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (TypeError, ValueError, NotEnabledError) as exc:  # _BadSetting is a ValueError
        return _error(args, BAD_INPUT, str(exc))
    except (SeshError, _OutputFailed) as exc:  # BackendError, a file that is not sesh's
        return _error(args, FAILED, str(exc))
    except OSError as exc:  # the system: what sesh check writes, a pipe closed under it
        _silence_stdout()
        return _error(args, FAILED, f"{exc.strerror or type(exc).__name__}")


def _error(args: argparse.Namespace, status: int, message: str) -> int:
    line = mask(message.splitlines()[0] if message else "failed")
    try:
        if args.json:
            print(json.dumps({"error": line}), file=sys.stderr)
        else:
            print(f"sesh: error: {line}", file=sys.stderr)
    except (OSError, UnicodeEncodeError):
        pass  # nowhere left to say it: the exit status still does
    return status


def console() -> None:
    """The ``sesh`` console script."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
