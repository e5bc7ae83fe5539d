#!/usr/bin/env bash
# Sets up the environment and test tools, then runs ruff (lint and format) and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/env.sh --test
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "segdemo: installing Debian's chromium for the browser tests ..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
export SEGDEMO_WEIGHTS=${SEGDEMO_WEIGHTS:-random}
exec .venv/bin/python -m pytest "$@"
