#!/usr/bin/env bash
# Install everything the tests need and run them: `bash scripts/test.sh` (README, CI).
#   - a virtualenv .venv with the package and its dev extra (pytest, moto, ruff, mypy, awscli)
#   - a local PostgreSQL server with TLS for the database tests (scripts/pg-test-server.sh, as root);
#     its binaries also let every sandbox (--local, demo) start a private server of its own, so
#     the sandbox and demo tests run the pipeline's database steps for real
#   - a local MySQL-compatible server (MariaDB) with TLS for the aurora-mysql database tests
#     (scripts/mysql-test-server.sh, as root; its settings are exported for pytest: it picks
#     another port when 3306 is taken); its binaries give the sandbox its MySQL too
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/commands -x`.
# Tests run in 4 pytest-xdist workers (many wait on moto's interpreter or a subprocess, so more
# workers than cores pays); TEST_WORKERS=0 runs them in this process, one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

if [ "$(id -u)" -eq 0 ]; then
    bash scripts/pg-test-server.sh
    MYSQL_SETTINGS="$(bash scripts/mysql-test-server.sh)"
else
    sudo bash scripts/pg-test-server.sh
    MYSQL_SETTINGS="$(sudo bash scripts/mysql-test-server.sh)"
fi
eval "$MYSQL_SETTINGS"

exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-4}" --dist worksteal "$@"
