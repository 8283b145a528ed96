"""Codec with a schema registry: Confluent wire format, against an in-memory registry (httpx.MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

from ddss_platform.events.codec import EventCodec, UnknownSchemaError
from ddss_platform.events.schema import CITIZEN_EVENT_V1_SCHEMA_JSON
from ddss_platform.settings import Settings
from ddss_platform.stores.bus import open_codec
from ddss_platform.stores.bus.registry import ConfluentSchemaRegistry, SchemaRegistryError
from ddss_platform_tests.events.samples import EVENTS_BY_KIND

SUBJECT = "citizen-events-value"


class FakeRegistry:
    """The parts of the Confluent REST API the codec uses; ids start at 41 to catch hard-coded ids."""

    def __init__(self):
        self.schemas: dict[int, str] = {}
        self.requests: list[tuple[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.method == "POST" and request.url.path == f"/subjects/{SUBJECT}/versions":
            text = json.loads(request.content)["schema"]
            for schema_id, known in self.schemas.items():
                if json.loads(known) == json.loads(text):
                    return httpx.Response(200, json={"id": schema_id})
            schema_id = 41 + len(self.schemas)
            self.schemas[schema_id] = text
            return httpx.Response(200, json={"id": schema_id})
        if request.method == "GET" and request.url.path.startswith("/schemas/ids/"):
            schema_id = int(request.url.path.rsplit("/", 1)[1])
            if schema_id not in self.schemas:
                return httpx.Response(404, json={"error_code": 40403, "message": "Schema not found"})
            return httpx.Response(200, json={"schema": self.schemas[schema_id]})
        return httpx.Response(500, json={"message": "unexpected"})

    def client(self) -> ConfluentSchemaRegistry:
        return ConfluentSchemaRegistry("http://registry.test:8081", SUBJECT, transport=httpx.MockTransport(self.handle))


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


def test_wire_format_carries_the_registry_id(registry):
    producer = EventCodec(registry.client())
    event = EVENTS_BY_KIND["relationship_start"]
    value = producer.encode(event)
    assert value[0] == 0 and int.from_bytes(value[1:5], "big") == 41
    producer.encode(EVENTS_BY_KIND["registration"])
    assert registry.requests.count(("POST", f"/subjects/{SUBJECT}/versions")) == 1  # registered once

    consumer = EventCodec(registry.client())  # another process: learns the id from the registry
    assert consumer.decode(value) == event
    assert consumer.decode(value) == event
    assert registry.requests.count(("GET", "/schemas/ids/41")) == 1  # then cached


def test_every_registered_version_decodes(registry):
    old_producer = EventCodec(registry.client(), writer_schema=CITIZEN_EVENT_V1_SCHEMA_JSON)
    old_event = {k: v for k, v in EVENTS_BY_KIND["violation"].items() if k not in ("relationship", "newCitizen")}
    value = old_producer.encode(old_event)
    assert int.from_bytes(value[1:5], "big") == 41
    decoded = EventCodec(registry.client()).decode(value)
    assert decoded == {**old_event, "relationship": None, "newCitizen": None}


def test_unknown_id_is_an_unknown_schema(registry):
    with pytest.raises(UnknownSchemaError):
        EventCodec(registry.client()).decode(b"\x00\x00\x00\x03\xe7\x02ab")


def test_single_object_messages_still_decode_with_a_registry(registry):
    event = EVENTS_BY_KIND["volunteering"]
    assert EventCodec(registry.client()).decode(EventCodec().encode(event)) == event


def test_registry_failure_is_not_a_decode_error():
    broken = ConfluentSchemaRegistry(
        "http://registry.test:8081", SUBJECT, transport=httpx.MockTransport(lambda r: httpx.Response(503, text="down"))
    )
    with pytest.raises(SchemaRegistryError, match="HTTP 503"):
        EventCodec(broken).decode(b"\x00\x00\x00\x00\x07\x02ab")
    with pytest.raises(SchemaRegistryError):
        EventCodec(broken).encode(EVENTS_BY_KIND["volunteering"])


def test_transport_errors_are_retried():
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"id": 5})

    client = ConfluentSchemaRegistry("http://registry.test:8081", SUBJECT, transport=httpx.MockTransport(flaky))
    assert client.register("{}") == 5 and len(calls) == 3


def test_open_codec_follows_the_setting(tmp_path):
    plain = open_codec(Settings.from_env({"DDSS_HOME": str(tmp_path)}))
    assert plain.header[:2] == b"\xc3\x01"
    with_registry = open_codec(
        Settings.from_env({"DDSS_HOME": str(tmp_path), "DDSS_SCHEMA_REGISTRY_URL": "http://registry.test:8081"})
    )
    assert with_registry.registry.subject == SUBJECT
