#!/usr/bin/env bash
# The whole test run, from a fresh Debian/Ubuntu machine: installs what is missing
# (redis-server, postgresql, chromium, chromium-driver and valgrind from the distribution; a virtualenv with sesh
# and its test, bench and docs extras: the suite runs the benchmarks in their quick mode),
# then runs the linters, the type checker, a strict build of the docs site and the suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    as_root apt-get update -qq || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# What the tests start for real: redis-server, PostgreSQL (its server programs are off
# PATH, under /usr/lib/postgresql/<version>/bin), and headless Chromium with its driver for
# the browser test (Debian's packages; selenium is given the driver, it downloads nothing).
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 \
    || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # certificates for the TLS test
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)  # benchmarks.instructions' test
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing Debian's ${missing[*]}" >&2
    apt_install "${missing[@]}" || {
        echo "test.sh: could not install ${missing[*]}: install them yourself (apt-get" \
            "install ${missing[*]})" >&2
        exit 1
    }
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv 2>/dev/null || {
        apt_install python3-venv && rm -rf .venv && "$python" -m venv .venv
    }
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,bench,docs]'

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy --strict sesh tests testbed examples benchmarks
# The docs site, strictly: a broken link or a docstring the reference cannot read fails.
site=$(mktemp -d)
.venv/bin/mkdocs build --strict --quiet --site-dir "$site"
rm -rf "$site"
exec .venv/bin/python -m pytest "$@"
