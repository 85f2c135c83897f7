"""The ``sesh`` command line: the verbs against any store URL, and ``sesh check``.

Exit status: 0 done; 1 no such session (or a failed check); 2 bad input or usage;
3 the backend failed. Errors are one line on stderr, never a traceback, and never show a
session id or a password.
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

NO_SESSION, BAD_INPUT, BACKEND_FAILED = 1, 2, 3
_SESSION_ID = re.compile(r"[A-Za-z0-9+/]{43}=")


def data_dir() -> Path:
    """Where the command line keeps its embedded database, by the platform's convention."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "sesh"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "sesh"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "sesh"


def default_url() -> str:
    """``SESH_URL``, else the embedded SQLite file in ``data_dir()``."""
    return os.environ.get("SESH_URL") or f"sqlite:///{data_dir() / 'sessions.db'}"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        # One line, like every other error here (argparse would add the usage), and with
        # no session id: argparse quotes stray arguments, which may be one.
        message = _SESSION_ID.sub("<session id>", message).replace("\n", "\\n")
        self.exit(BAD_INPUT, f"{self.prog}: error: {message} (see sesh --help)\n")


def _ttl(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None


def _on(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sesh",
        description="Make, read, refresh and end login sessions in any sesh store.",
        epilog=(
            "The store URL comes from --url, else $SESH_URL, else an embedded SQLite file:\n"
            f"  {data_dir() / 'sessions.db'}\n"
            "Exit status: 0 done, 1 no such session or a failed check, 2 bad input,\n"
            "3 the backend failed."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", help="store URL: sqlite:///file.db, redis://host:6379/0, ...")
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
    get.add_argument("session_id")
    get.add_argument("--touch", action="store_true", help="also reset its expiry to the ttl")
    for verb, what in [("liv", "reset a session's expiry"), ("die", "end a session")]:
        verbs.add_parser(verb, help=f"{what}; exit 1 if none").add_argument("session_id")
    verbs.add_parser(
        "rotate", help="give a session a fresh id; prints it; exit 1 if none"
    ).add_argument("session_id")
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
    check.add_argument(
        "--short-ttl",
        type=_ttl,
        default=1.0,
        help="the ttl of the expiry checks, in seconds (default 1; more for a slow store)",
    )
    return parser


def _run(args: argparse.Namespace) -> tuple[str, dict[str, Any], int]:
    """Does the verb; returns the plain output, the JSON output and the exit status."""
    url = args.url or default_url()
    if args.verb == "check":
        try:
            from sesh.testing._runner import check
        except ImportError:
            raise ValueError(
                "sesh check runs the conformance kit, which needs pytest and hypothesis:"
                " pip install 'sesh[testing]'"
            ) from None

        target = args.check_url or url
        status = check(target, out=sys.stdout, as_json=args.json, short_ttl=args.short_ttl)
        return "", {}, status
    if not args.url and not os.environ.get("SESH_URL"):  # the embedded default
        data_dir().mkdir(parents=True, exist_ok=True)
    options = {"track_users": args.track_users, "max_age": args.max_age, "hash_ids": args.hash_ids}
    with from_url(url, prefix=args.prefix, ttl=args.ttl, **options) as store:
        if args.verb == "set":
            session_id = store.set(args.user_id)
            return session_id, {"session_id": session_id}, 0
        if args.verb == "rotate":
            new_id = store.rotate(args.session_id)
            return new_id or "", {"session_id": new_id}, 0 if new_id is not None else NO_SESSION
        if args.verb == "sessions":
            ids = store.sessions(args.user_id)
            return "\n".join(ids), {"sessions": ids}, 0
        if args.verb == "die-all":
            removed = store.die_all(args.user_id)
            return str(removed), {"removed": removed}, 0
        if args.verb == "get":
            user_id = store.get(args.session_id, touch=args.touch)
            return user_id or "", {"user_id": user_id}, 0 if user_id is not None else NO_SESSION
        done = store.liv(args.session_id) if args.verb == "liv" else store.die(args.session_id)
        key = "alive" if args.verb == "liv" else "removed"
        return "", {key: done}, 0 if done else NO_SESSION


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        text, data, status = _run(args)
    except (TypeError, ValueError, NotEnabledError) as exc:
        return _error(args, BAD_INPUT, str(exc))
    except SeshError as exc:  # BackendError, or a file that is not a sesh database
        return _error(args, BACKEND_FAILED, str(exc))
    if args.verb != "check":
        if args.json:
            print(json.dumps(data))
        elif text:
            print(text)
        if status == NO_SESSION and not args.json:
            print("sesh: no such session", file=sys.stderr)
    return status


def _error(args: argparse.Namespace, status: int, message: str) -> int:
    line = message.splitlines()[0] if message else "failed"
    if args.json:
        print(json.dumps({"error": line}), file=sys.stderr)
    else:
        print(f"sesh: error: {line}", file=sys.stderr)
    return status


def console() -> None:
    """The ``sesh`` console script."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
