"""A content hash of a topic, to check that two runs wrote byte-identical logs."""

from __future__ import annotations

import hashlib

from ddss_platform.stores.bus import EventBus


def topic_digest(bus: EventBus, topic: str) -> str:
    """SHA-256 over every record's partition, offset, key and value, in log order.

    Record timestamps are left out: they are the produce time, which differs between runs."""
    digest = hashlib.sha256()
    for partition, end in sorted(bus.end_offsets(topic).items()):
        digest.update(f"partition {partition} end {end}\n".encode())
        for chunk in bus.iter_range(topic, partition, 0, end):
            for record in chunk:
                key = (record.key or "").encode(errors="surrogateescape")
                value = record.value or b""
                # a tombstone (no value) hashes apart from an empty value: its length is -1
                digest.update(b"%d %d %d " % (record.offset, len(key), -1 if record.value is None else len(value)))
                digest.update(key)
                digest.update(value)
    return digest.hexdigest()
