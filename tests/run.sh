#!/usr/bin/env bash
# Install what the tests need, then run the whole suite: lint, types, unit, API, UI and browser tests.
# Usage: bash tests/run.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

# End-to-end tests drive Debian's Chromium; Playwright never downloads a browser.
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing Debian's chromium for the browser tests..."
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "Chromium is missing: install Debian's 'chromium' package (or set CHROMIUM_PATH)." >&2
        exit 1
    fi
fi

# The nginx tests run Debian's nginx on loopback with deploy/nginx/opex-crm.conf (skipped without it).
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing Debian's nginx for the reverse-proxy tests..."
        apt-get update -qq
        # policy-rc.d or not, the test starts its own nginx: the package's service is not needed.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
    else
        echo "nginx is missing: the reverse-proxy tests will be skipped (install Debian's 'nginx' package)." >&2
    fi
fi

echo "ruff..." && .venv/bin/ruff check . && .venv/bin/ruff format --check --quiet .
echo "mypy..." && .venv/bin/mypy
echo "import contracts..." && .venv/bin/lint-imports --no-cache
# The suite runs in two steps: everything but the browser journeys on both cores (PYTEST_WORKERS, 2 by
# default; each worker has a database of its own, see tests/conftest.py), then the journeys one at a
# time, since a journey's timing gets tight beside a second worker. PYTEST_WORKERS=0 runs the first
# step serially. Arguments (a file, -k ...) run just those tests, serially, in one step.
if [ "$#" -gt 0 ]; then
    exec .venv/bin/pytest "$@"
fi
.venv/bin/pytest -n "${PYTEST_WORKERS:-2}" -m "not e2e"
exec .venv/bin/pytest -m e2e
