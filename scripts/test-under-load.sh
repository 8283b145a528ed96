#!/usr/bin/env bash
# The end-to-end tests once more with one core kept busy by a CPU hog beside pytest, as on a laptop doing other work:
# the streaming, assets, API and browser tests that start Dagster, Spark, `ddss up`, `ddss stream` workers or a
# browser. They wait on conditions with generous overall limits, so a slower machine makes them slower, never red.
# Extra arguments go to pytest; the exit status is pytest's ("no tests collected" counts as a failure).
set -uo pipefail
cd "$(dirname "$0")/.."
export SPARK_LOCAL_IP=127.0.0.1
export PATH="$PWD/.venv/bin:$PATH"
python3 -c 'while True: pass' &
hog=$!
basetemp=$(mktemp -d -t ddss-load-tests.XXXXXX)
trap 'kill "$hog" 2>/dev/null; rm -rf "$basetemp"' EXIT
.venv/bin/python -m pytest -ra --basetemp "$basetemp" \
  ddss_platform_tests/streaming/test_end_to_end.py \
  ddss_platform_tests/streaming/test_sensor.py \
  ddss_platform_tests/streaming/test_sensor_batching.py \
  "ddss_platform_tests/streaming/test_scale_out.py::test_workers_on_the_embedded_bus_survive_faults_and_end_like_a_clean_pass" \
  ddss_platform_tests/assets/test_materialize.py \
  ddss_platform_tests/assets/test_backfill.py \
  ddss_platform_tests/api/test_up.py \
  ddss_platform_tests/api/test_one_instance.py \
  ddss_platform_tests/api/test_browser.py \
  ddss_platform_tests/api/test_browser_demo.py \
  "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "test-under-load: no tests were collected" >&2
  exit 1
fi
exit "$status"
