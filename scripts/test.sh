#!/usr/bin/env bash
# Runs the linters (ruff check, ruff format --check, mypy as configured in pyproject.toml), then the whole test
# suite in the project's environment; extra arguments go to pytest. A linter's failure fails the script before
# any test runs; otherwise the exit status is pytest's, except that "no tests collected" (5) counts as a failure too.
set -uo pipefail
cd "$(dirname "$0")/.."
export SPARK_LOCAL_IP=127.0.0.1
# Console scripts of the environment (noida-db, secantusd-py, dagster, ddss) are run by the tests.
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1
.venv/bin/mypy || exit 1
# Its own temporary directory: pytest's default one is shared by every session of this user and keeps only the
# newest three, so another pytest started meanwhile on this machine would delete this run's files under it.
basetemp=$(mktemp -d -t ddss-tests.XXXXXX)
trap 'rm -rf "$basetemp"' EXIT
.venv/bin/python -m pytest -ra --basetemp "$basetemp" "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "test: no tests were collected" >&2
  exit 1
fi
exit "$status"
