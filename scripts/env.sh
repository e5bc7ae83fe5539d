#!/usr/bin/env bash
# Makes ./.venv point at a virtual environment built from the pinned requirement files.
# The environment lives in a cache keyed by a hash of those files (and the Python version),
# so an unchanged set of requirements reuses it — a fresh clone on the same machine included —
# while a new machine, or a changed file, builds it from nothing.
#   usage: scripts/env.sh [--test]    (--test adds requirements-test.txt and requirements-scale.txt:
#   the suite also runs the optional Ray engine)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
files=(requirements.txt)
[ "${1:-}" = "--test" ] && files+=(requirements-test.txt)
key=$( { "$python" -c 'import sys; print(sys.version)'; cat requirements.txt; } | sha256sum | cut -c1-16)
cache=${SEGDEMO_ENV_CACHE:-$HOME/.cache/segdemo}
venv=$cache/venv-$key
if [ ! -f "$venv/.complete" ]; then
  echo "segdemo: building the environment in $venv (torch is large: a few minutes) ..." >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
  touch "$venv/.complete"
fi
if [ "${1:-}" = "--test" ]; then
  test_key=$(cat requirements-test.txt requirements-scale.txt | sha256sum | cut -c1-16)
  if [ ! -f "$venv/.test-$test_key" ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt \
      -r requirements-test.txt -r requirements-scale.txt
    touch "$venv/.test-$test_key"
  fi
fi
ln -sfn "$venv" .venv
