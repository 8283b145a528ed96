"""Bus throughput: produce and range-read+decode on both adapters, against a bare fastavro decode.

    python bench/bus.py --events 50000

The embedded log runs in a temporary DDSS_HOME; the Kafka adapter runs against a
Apache Kafka broker this script starts (scripts/servers.sh builds it once) (or --kafka-bootstrap HOST:PORT). The bare
decode is fastavro's schemaless_reader over the same records' Avro bodies: the
limit a read path can approach. Decode and read timings are the best of --repeats
rounds, the bare and the embedded passes alternating within each round.
Last line: JSON with the measured rates.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from contextlib import nullcontext
from io import BytesIO
from pathlib import Path

from fastavro import schemaless_reader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the test servers' Kafka launcher

from ddss_platform.events.codec import SINGLE_OBJECT_HEADER_LEN, EventCodec  # noqa: E402
from ddss_platform.events.schema import CITIZEN_EVENT_SCHEMA  # noqa: E402
from ddss_platform.events.simulator import recent_start_ms, simulate_records  # noqa: E402
from ddss_platform.stores.bus import EventBus  # noqa: E402
from ddss_platform.stores.bus.embedded import EmbeddedBus  # noqa: E402
from ddss_platform.stores.bus.kafka import KafkaBus  # noqa: E402
from ddss_platform_tests.servers.base import started  # noqa: E402
from ddss_platform_tests.servers.kafka import Kafka  # noqa: E402

TOPIC = f"bench-citizen-events-{uuid.uuid4().hex[:8]}"  # fresh even on a shared --kafka-bootstrap broker
PRODUCE_BATCH = 10_000


def best_rates(count: int, repeats: int, *works) -> list[float]:
    """Best rate of each work over ``repeats`` rounds. The works alternate within a round, so a
    load change on the (shared) machine hits them alike and their ratio stays fair."""
    best = [float("inf")] * len(works)
    for _ in range(repeats):
        for i, work in enumerate(works):
            started = time.perf_counter()
            work()
            best[i] = min(best[i], time.perf_counter() - started)
    return [count / seconds for seconds in best]


def bare_decode(bodies: list[bytes]) -> None:
    for body in bodies:
        schemaless_reader(BytesIO(body), CITIZEN_EVENT_SCHEMA, None)


def produce_rate(bus: EventBus, records: list, partitions: int) -> float:
    bus.ensure_topic(TOPIC, partitions)
    started = time.perf_counter()
    for first in range(0, len(records), PRODUCE_BATCH):
        bus.produce(TOPIC, records[first : first + PRODUCE_BATCH])
    return len(records) / (time.perf_counter() - started)


def read_and_decode(bus: EventBus, codec: EventCodec, expected: int) -> None:
    decoded = 0
    for partition, end in bus.end_offsets(TOPIC).items():
        for chunk in bus.iter_range(TOPIC, partition, 0, end):
            decoded += len(codec.decode_many([r.value for r in chunk]))
    assert decoded == expected, (decoded, expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="records to produce and read (default 50000)")
    parser.add_argument("--citizens", type=int, default=1_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5, help="decode and read passes; the best counts")
    parser.add_argument("--kafka-bootstrap", help="use this broker instead of starting Apache Kafka")
    args = parser.parse_args()

    codec = EventCodec()
    records = list(
        simulate_records(
            codec,
            args.citizens,
            args.events,
            seed=1,
            start_ms=recent_start_ms(args.events, time.time_ns() // 1_000_000),
        )
    )
    bodies = [value[SINGLE_OBJECT_HEADER_LEN:] for _, value in records]
    count = len(records)

    with tempfile.TemporaryDirectory(prefix="ddss-bench-bus-") as tmp:
        embedded = EmbeddedBus(Path(tmp) / "bus.sqlite")
        emb_produce = produce_rate(embedded, records, args.partitions)
        bare, emb_read = best_rates(
            count, args.repeats, lambda: bare_decode(bodies), lambda: read_and_decode(embedded, codec, count)
        )
        embedded.close()
        print(
            f"bare fastavro decode: {bare:,.0f} records/s ({count} records, "
            f"{sum(map(len, bodies)) / count:.0f} bytes avg body)"
        )
        print(
            f"embedded: produce {emb_produce:,.0f}/s, range read + decode {emb_read:,.0f}/s "
            f"({emb_read / bare:.2f} of bare decode)"
        )

        broker = nullcontext(args.kafka_bootstrap) if args.kafka_bootstrap else started(Kafka(), Path(tmp) / "kafka")
        with broker as running:
            bootstrap = running if args.kafka_bootstrap else running.settings["DDSS_BUS_URL"].removeprefix("kafka://")
            kafka = KafkaBus(bootstrap)
            kafka_produce = produce_rate(kafka, records, args.partitions)
            [kafka_read] = best_rates(count, args.repeats, lambda: read_and_decode(kafka, codec, count))
            kafka.close()
        print(f"kafka ({bootstrap}): produce {kafka_produce:,.0f}/s, range read + decode {kafka_read:,.0f}/s")

    print(
        json.dumps(
            {
                "events": args.events,
                "embedded_produce_per_s": round(emb_produce),
                "embedded_read_decode_per_s": round(emb_read),
                "kafka_produce_per_s": round(kafka_produce),
                "kafka_read_decode_per_s": round(kafka_read),
                "bare_decode_per_s": round(bare),
                "embedded_read_ratio": round(emb_read / bare, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
