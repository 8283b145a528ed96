#!/usr/bin/env bash
# Sets up (or refreshes) the development environment: .venv/ in the repository root with the
# project and its dev extra installed, and a Java runtime for PySpark. Safe to rerun.
#   scripts/setup.sh          the Python environment and a Java check
#   scripts/setup.sh --full   also what the full test suite uses: Chromium, the Flux parser, and the real servers
set -euo pipefail
cd "$(dirname "$0")/.."

need_java() {
  command -v java >/dev/null 2>&1 || return 0
  local major
  major=$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}')
  [ "${major:-0}" -lt 17 ]
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: not root, so not installing $* (apt-get install -y $*); tests that need it skip with the reason" >&2
    return 0
  fi
  if [ -z "${DDSS_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export DDSS_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if need_java; then
  echo "setup: installing a Java 17 runtime for PySpark"
  apt_install openjdk-17-jre-headless
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'  # the locked versions (scripts/lock.sh)
# pip compiles no bytecode for an editable install: compile it here, so every process (each Dagster run
# worker) loads bytecode even where PYTHONDONTWRITEBYTECODE keeps Python from caching it.
.venv/bin/python -m compileall -q ddss_platform >/dev/null

if [ "${1:-}" = "--full" ]; then
  { command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || apt_install chromium chromium-driver
  # The Dagster-on-PostgreSQL test of docker/dagster.yaml starts a throwaway PostgreSQL server.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
  if [ -x scripts/install-flux-parser.sh ]; then
    scripts/install-flux-parser.sh
  fi
  # The production profile's real servers the live tests start (Kafka, Cassandra, Dgraph, InfluxDB, FerretDB,
  # the Spark connector), built once into DDSS_SERVERS_CACHE (~/.cache/ddss-servers) with mvn, go and cargo.
  scripts/servers.sh build
fi
echo "setup: ready (.venv/bin/ddss --help)"
