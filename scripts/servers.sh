#!/usr/bin/env bash
# The production profile's real servers on loopback: scripts/servers.sh up | down | status | env | build [SERVER ...]
# Built servers are cached in DDSS_SERVERS_CACHE (default ~/.cache/ddss-servers), data in DDSS_SERVERS_HOME
# (default .servers/). `eval "$(scripts/servers.sh env)"` points the platform at the running servers.
set -euo pipefail
cd "$(dirname "$0")/.."
export SPARK_LOCAL_IP=127.0.0.1
exec .venv/bin/python -m ddss_platform_tests.servers "$@"
