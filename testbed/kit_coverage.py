"""How many broken stores slip past the whole conformance kit (sync and async).

Run from the repository root: ``.venv/bin/python -m testbed.kit_coverage``. Each store of
``testbed.broken_stores.BROKEN`` gets the whole kit, not only the check named for its flaw
(which ``tests/test_kit_catches_broken_stores.py`` runs); a store that passes everything is
a promise the kit does not check. Takes a few minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from testbed.broken_stores import BROKEN

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    # The same test file the kit's own tests write for each broken store.
    sys.path.insert(0, str(ROOT))
    from tests.test_kit_catches_broken_stores import KIT_RUN

    slipped = []
    for flaw, (store, _) in sorted(BROKEN.items()):
        for kit, is_async in (
            ("SessionStoreConformance", False),
            ("AsyncSessionStoreConformance", True),
        ):
            with tempfile.TemporaryDirectory() as scratch:
                source = KIT_RUN.format(
                    name=store.__name__, kit=kit, is_async=is_async, no_shrinking=True, examples=25
                )
                Path(scratch, "test_kit.py").write_text(source)
                run = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                     "-W", "ignore", "--rootdir", scratch, scratch],
                    capture_output=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )  # fmt: skip
            if run.returncode == 0:
                slipped.append(f"{flaw} ({'async' if is_async else 'sync'})")
    total = 2 * len(BROKEN)
    print(f"{len(slipped)} of {total} broken stores (sync and async) pass the whole kit")
    for name in slipped:
        print(f"  {name}")
    return 1 if slipped else 0


if __name__ == "__main__":
    sys.exit(main())
