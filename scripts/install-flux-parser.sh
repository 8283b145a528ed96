#!/usr/bin/env bash
# Installs, from npm, the Flux parser (@influxdata/flux) and semantic checker (@influxdata/flux-lsp-browser)
# that ddss_platform_tests/flux/test_flux_syntax.py runs on the Flux tasks in flux/, into
# ddss_platform_tests/flux/node_modules (versions pinned in its package.json). Without npm it says so and
# exits 0: the Flux checks then skip with the reason.
set -euo pipefail
cd "$(dirname "$0")/../ddss_platform_tests/flux"
if ! command -v npm >/dev/null 2>&1; then
  echo "install-flux-parser: npm not found, the Flux syntax test will skip" >&2
  exit 0
fi
npm install --no-audit --no-fund --no-package-lock --loglevel=error
echo "install-flux-parser: @influxdata/flux and @influxdata/flux-lsp-browser installed in ddss_platform_tests/flux/node_modules"
