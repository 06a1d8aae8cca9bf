#!/usr/bin/env bash
# Install what the tests need (Debian's dig, the package with its test extras), lint, test.
set -euo pipefail
cd "$(dirname "$0")/.."
# dig for the CLI-level tests, unbound for the recursive-resolver ECS test.
if ! command -v dig >/dev/null 2>&1 || ! command -v unbound >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq dnsutils unbound >/dev/null
fi
python3 -m pip install -q -e '.[test]'
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m pytest "$@"
