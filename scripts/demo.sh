#!/usr/bin/env bash
# Sets up the environment (reused when requirements.txt is unchanged) and serves the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/env.sh
exec .venv/bin/python app.py "$@"
