"""``python -m ddss_platform_tests.streaming.range_worker TOPIC/PARTITION/START-END [CHUNK]``: process one
range in its own process, as a score_events run worker does (the crash hook DDSS_CRASH_AT applies)."""

import sys

from ddss_platform.processing import OffsetRange, process_range
from ddss_platform.settings import Settings
from ddss_platform.stores import open_stores

if __name__ == "__main__":
    rng = OffsetRange.parse(sys.argv[1])
    options = {"chunk_size": int(sys.argv[2])} if len(sys.argv) > 2 else {}
    with open_stores(Settings.from_env()) as ports:
        process_range(ports, rng, **options)
