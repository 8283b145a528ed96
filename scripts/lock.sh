#!/usr/bin/env bash
# Writes constraints.txt: the exact versions of every package the project and its dev extra install, resolved
# afresh in a throwaway environment. scripts/setup.sh (so CI) and docker/Dockerfile install with
# `-c constraints.txt`, so every environment gets the versions the tests ran with. Rerun after changing the
# dependencies in pyproject.toml, and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q -e '.[dev]'
{
  echo "# The versions every environment installs (scripts/setup.sh, docker/Dockerfile): pip install -c constraints.txt"
  echo "# Written by scripts/lock.sh from pyproject.toml; do not edit by hand."
  "$work/venv/bin/python" -m pip freeze --exclude-editable
} > constraints.txt
echo "lock: constraints.txt pins $(grep -c '==' constraints.txt) packages"
