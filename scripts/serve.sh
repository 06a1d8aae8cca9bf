#!/usr/bin/env bash
# Install policydns and serve the example zones on 127.0.0.1:5353 (UDP and TCP).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e .
exec policydns serve --zones zones --listen 127.0.0.1:5353 --no-http "$@"
