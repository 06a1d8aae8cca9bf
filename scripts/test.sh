#!/usr/bin/env bash
# Install what the tests need (Debian's dig, the package with its test extras), lint, test.
set -euo pipefail
cd "$(dirname "$0")/.."
# dig for the CLI-level tests, unbound for the recursive-resolver ECS test,
# systemd-analyze (and /bin/kill) to verify the unit file, dnsperf for the reload-under-load
# test, knotd (Knot DNS) as the independent oracle of tests/oracle; named-checkzone and
# kzonecheck to accept `export bind`, promtool to accept /metrics, Chromium and its
# driver for the status page's browser test.
need=()
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
command -v unbound >/dev/null 2>&1 || need+=(unbound)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
command -v knotd >/dev/null 2>&1 || [ -x /usr/sbin/knotd ] || need+=(knot)
[ -x /bin/kill ] || need+=(procps)
command -v named-checkzone >/dev/null 2>&1 || need+=(bind9-utils)
command -v kzonecheck >/dev/null 2>&1 || need+=(knot-dnssecutils)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
python3 -m pip install -q -e '.[test]'
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m mypy
python3 -m pytest "$@"
