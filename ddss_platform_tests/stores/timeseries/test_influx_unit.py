"""What the InfluxDB adapter sends: line protocol, Flux text with params, bucket and task requests (fakes)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pandas as pd
import pytest

from ddss_platform.settings import SettingsError, parse_store_url
from ddss_platform.stores.timeseries import (
    CITIZEN_ACTIVITY_HOURLY,
    CITIZEN_EVENT,
    DERIVED_METRICS,
    DERIVED_TASKS,
    MEASUREMENTS,
    RAW_EVENTS,
    SYSTEM_AGGREGATES_MONTHLY,
    Point,
    influx,
)
from ddss_platform.stores.timeseries.influx import InfluxTimeSeries, backfill_flux, line_protocol, task_flux

HOUR_NS = 3_600 * 10**9


class FakeWriteApi:
    def __init__(self):
        self.calls = []

    def write(self, **kwargs):
        self.calls.append(kwargs)

    def close(self):
        pass


class FakeQueryApi:
    def __init__(self, frame=None):
        self.frames, self.scripts, self.frame = [], [], frame

    def query_data_frame(self, query, org=None, params=None):
        self.frames.append((query, org, params))
        return self.frame if self.frame is not None else pd.DataFrame()

    def query(self, query, org=None, params=None):
        self.scripts.append((query, org, params))
        return []


class FakeBuckets:
    def __init__(self, existing):
        self.existing, self.created, self.updated = existing, [], []

    def find_bucket_by_name(self, name):
        return self.existing.get(name)

    def create_bucket(self, **kwargs):
        self.created.append(kwargs)

    def update_bucket(self, bucket):
        self.updated.append(bucket)


class FakeTasks:
    def __init__(self, existing):
        self.existing, self.created, self.updated = existing, [], []

    def find_tasks(self, name=None):
        return [t for t in self.existing if t.name == name]

    def create_task(self, task_create_request):
        self.created.append(task_create_request)

    def update_task_request(self, task_id, request):
        self.updated.append((task_id, request))


class FakeClient:
    def __init__(self, frame=None, buckets=None, tasks=None):
        self.write = FakeWriteApi()
        self.query = FakeQueryApi(frame)
        self.buckets = FakeBuckets(buckets or {})
        self.tasks = FakeTasks(tasks or [])

    def write_api(self, write_options=None):
        return self.write

    def query_api(self):
        return self.query

    def buckets_api(self):
        return self.buckets

    def tasks_api(self):
        return self.tasks

    def close(self):
        pass


def test_line_protocol_escapes_tags_and_writes_declared_field_types():
    point = Point(
        CITIZEN_EVENT,
        {"citizenID": "C 1,x", "eventType": "financial", "city": ""},
        {"eventID": 'e"1', "severity": 2, "score_impact": -3.5, "payload_amount": None},
        1_700_000_000_123_456_789,
    )
    line = line_protocol(MEASUREMENTS[CITIZEN_EVENT], point)
    assert (
        line == "citizen_event,citizenID=C\\ 1\\,x,eventType=financial "
        'eventID="e\\"1",score_impact=-3.5,severity=2 1700000000123456789'
    )
    hourly = Point(CITIZEN_ACTIVITY_HOURLY, {"citizenID": "c"}, {"eventCount": 3.0, "netScoreImpact": 4}, 5)
    assert (
        line_protocol(MEASUREMENTS[CITIZEN_ACTIVITY_HOURLY], hourly)
        == "citizen_activity_hourly,citizenID=c eventCount=3i,netScoreImpact=4 5"
    )


def test_write_sends_synchronous_chunks_in_nanoseconds(monkeypatch):
    monkeypatch.setattr(influx, "WRITE_CHUNK", 2)
    client = FakeClient()
    store = InfluxTimeSeries(client, "org1")
    points = [Point(CITIZEN_EVENT, {"citizenID": "c"}, {"eventID": f"e{i}"}, i) for i in range(5)]
    assert store.write(RAW_EVENTS, points, "ignored-batch") == 5
    assert [len(c["record"]) for c in client.write.calls] == [2, 2, 1]
    assert {(c["bucket"], c["org"], c["write_precision"]) for c in client.write.calls} == {(RAW_EVENTS, "org1", "ns")}
    assert client.write.calls[0]["record"][0] == 'citizen_event,citizenID=c eventID="e0" 0'


def test_query_passes_every_value_as_a_param_and_returns_time_ns_tags_fields():
    frame = pd.DataFrame(
        {
            "result": ["_result"],
            "table": [0],
            "_start": [pd.Timestamp(0, tz="UTC")],
            "_stop": [pd.Timestamp(0, tz="UTC")],
            "_time": [pd.Timestamp(1_700_000_000_000_000_001, tz="UTC")],
            "_measurement": [CITIZEN_EVENT],
            "citizenID": ['x" or true'],
            "eventID": ["e1"],
            "score_impact": [2.0],
        }
    )
    client = FakeClient(frame=frame)
    df = InfluxTimeSeries(client, "org1").query(RAW_EVENTS, CITIZEN_EVENT, 10, 20, {"citizenID": 'x" or true'}, limit=5)
    flux, org, params = client.query.frames[0]
    assert org == "org1"
    assert params == {
        "bucket": RAW_EVENTS,
        "measurement": CITIZEN_EVENT,
        "start": 10,
        "stop": 20,
        "tag0": 'x" or true',
        "limit": 5,
    }
    assert 'x" or true' not in flux and "raw_events" not in flux
    assert 'r["citizenID"] == params.tag0' in flux
    assert "range(start: time(v: params.start), stop: time(v: params.stop))" in flux
    assert "limit(n: params.limit)" in flux
    assert df["time_ns"].tolist() == [1_700_000_000_000_000_001]
    assert df.loc[0, "eventID"] == "e1" and df.loc[0, "score_impact"] == 2.0
    assert "_start" not in df.columns and "result" not in df.columns and "region" in df.columns


def test_query_checks_tag_keys_before_sending_anything():
    client = FakeClient()
    with pytest.raises(ValueError, match="unknown tag"):
        InfluxTimeSeries(client, "o").query(RAW_EVENTS, CITIZEN_EVENT, 0, 1, {'citizenID"] == "" or r["x': "v"})
    assert client.query.frames == []


def test_ensure_schema_creates_missing_buckets_and_fixes_retention():
    wrong = SimpleNamespace(retention_rules=[SimpleNamespace(every_seconds=7)])
    client = FakeClient(buckets={DERIVED_METRICS: wrong})
    actions = InfluxTimeSeries(client, "org1").ensure_schema()
    assert actions == ["created bucket raw_events (retention 30d)", "set retention of bucket derived_metrics to 365d"]
    created = client.buckets.created[0]
    assert (created["bucket_name"], created["org"], created["retention_rules"].every_seconds) == (
        RAW_EVENTS,
        "org1",
        30 * 86400,
    )
    assert client.buckets.updated[0].retention_rules[0].every_seconds == 365 * 86400


def test_ensure_schema_with_everything_in_place_does_nothing():
    ok = {
        b: SimpleNamespace(retention_rules=[SimpleNamespace(every_seconds=s)])
        for b, s in influx.BUCKET_RETENTION_S.items()
    }
    client = FakeClient(buckets=ok)
    assert InfluxTimeSeries(client, "org1").ensure_schema() == []
    assert client.buckets.created == client.buckets.updated == []


def test_deploy_tasks_creates_updates_or_leaves_each_task_by_name():
    same = SimpleNamespace(name=DERIVED_TASKS[0], id="t0", flux=task_flux(DERIVED_TASKS[0]), status="active")
    stale = SimpleNamespace(name=DERIVED_TASKS[1], id="t1", flux="old", status="active")
    client = FakeClient(tasks=[same, stale])
    actions = InfluxTimeSeries(client, "org1").deploy_tasks()
    assert actions == [f"updated task {DERIVED_TASKS[1]}"] + [f"created task {n}" for n in DERIVED_TASKS[2:]]
    assert client.tasks.updated[0][0] == "t1" and client.tasks.updated[0][1].flux == task_flux(DERIVED_TASKS[1])
    assert [r.flux for r in client.tasks.created] == [task_flux(n) for n in DERIVED_TASKS[2:]]
    assert {r.org for r in client.tasks.created} == {"org1"}


def test_compute_derived_runs_the_task_once_per_period_with_now_as_a_param():
    client = FakeClient(
        tasks=[
            SimpleNamespace(
                name=CITIZEN_ACTIVITY_HOURLY, id="t", flux=task_flux(CITIZEN_ACTIVITY_HOURLY), status="active"
            )
        ]
    )
    start = 1_700_000_000 * 10**9 // HOUR_NS * HOUR_NS
    InfluxTimeSeries(client, "org1").compute_derived(CITIZEN_ACTIVITY_HOURLY, start + 10, start + 2 * HOUR_NS)
    nows = [params["now"] for _q, _o, params in client.query.scripts]
    assert nows == [datetime.fromtimestamp((start + k * HOUR_NS) // 10**9, tz=UTC) for k in (1, 2)]
    script = client.query.scripts[0][0]
    assert script == backfill_flux(CITIZEN_ACTIVITY_HOURLY)
    assert script.index('import "date"') < script.index("option now = () => params.now") < script.index("option task")
    _flux, _org, params = client.query.frames[0]
    assert (params["measurement"], params["start"], params["stop"]) == (
        CITIZEN_ACTIVITY_HOURLY,
        start,
        start + 2 * HOUR_NS,
    )


def test_monthly_backfill_covers_calendar_months():
    client = FakeClient()
    feb = int(datetime(2024, 2, 10, tzinfo=UTC).timestamp()) * 10**9
    InfluxTimeSeries(client, "o").compute_derived(SYSTEM_AGGREGATES_MONTHLY, feb, feb + 30 * 24 * HOUR_NS)
    nows = [params["now"] for _q, _o, params in client.query.scripts]
    assert nows == [datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)]


def test_url_gives_token_host_and_org():
    store = InfluxTimeSeries.from_url(
        parse_store_url("DDSS_TIMESERIES_URL", "influxdb://s3cret@influx.local:9999/acme")
    )
    assert (store._client.url, store._client.token, store._org) == ("http://influx.local:9999", "s3cret", "acme")
    store.close()
    with pytest.raises(SettingsError, match="DDSS_TIMESERIES_URL"):
        InfluxTimeSeries.from_url(parse_store_url("DDSS_TIMESERIES_URL", "influxdb://influx.local:8086/acme"))
