"""Serves the example login app on 127.0.0.1 until SIGTERM (or Ctrl-C).

    python examples/webapp/serve.py fastapi --port 8000 --url redis://127.0.0.1:6379/0 \
        [--ttl 3600] [--dev]

One worker process (a ``memory://`` store cannot be shared by several), ``track_users`` on,
and production cookies (``__Host-sesh``, Secure) unless ``--dev``, the development switch
for plain http on localhost. ``--url`` defaults to ``$SESH_URL``: a URL with a password is
better there than on a command line, which every local user can read.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: examples.webapp imports

FRAMEWORKS = ("fastapi", "flask", "django")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=FRAMEWORKS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--url", default=os.environ.get("SESH_URL"), help="store URL ($SESH_URL)")
    parser.add_argument("--ttl", type=float, default=3600.0, help="session ttl in seconds")
    parser.add_argument("--dev", action="store_true", help="plain-http cookies, for localhost")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give the store with --url or $SESH_URL")
    if args.framework == "flask":
        # A real WSGI server, one process; its threads serve requests side by side.
        import waitress

        from examples.webapp._api import MAX_BODY
        from examples.webapp.flask_app import create_app as create_flask_app

        flask_app = create_flask_app(args.url, ttl=args.ttl, dev=args.dev)
        waitress.serve(
            flask_app,
            host="127.0.0.1",
            port=args.port,
            threads=8,
            max_request_body_size=MAX_BODY,  # 413 before a long body is read
            _quiet=True,
        )
        return 0

    import uvicorn

    if args.framework == "django":
        from examples.webapp.django_app import create_app as create_django_app

        asgi_app: Any = create_django_app(args.url, ttl=args.ttl, dev=args.dev)
    else:
        from examples.webapp.fastapi_app import create_app

        asgi_app = create_app(args.url, ttl=args.ttl, dev=args.dev)
    uvicorn.run(asgi_app, host="127.0.0.1", port=args.port, log_level="warning", workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
