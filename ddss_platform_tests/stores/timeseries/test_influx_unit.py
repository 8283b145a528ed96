"""What the InfluxDB adapter sends, as pure functions: line protocol, Flux literals and query text, the URL, how a
422 is read. What the server does with it is in test_influx_server.py."""

from __future__ import annotations

import pytest
from influxdb_client.rest import ApiException

from ddss_platform.settings import SettingsError, parse_store_url
from ddss_platform.stores.timeseries import CITIZEN_ACTIVITY_HOURLY, CITIZEN_EVENT, MEASUREMENTS, RAW_EVENTS, Point
from ddss_platform.stores.timeseries.influx import (
    InfluxTimeSeries,
    flux_string,
    line_protocol,
    query_flux,
    retention_drops,
)


def test_line_protocol_escapes_tags_and_writes_declared_field_types():
    point = Point(
        CITIZEN_EVENT,
        {"citizenID": "C 1,x", "eventType": "financial", "city": ""},
        {"eventID": 'e"1', "severity": 2, "score_impact": -3.5, "payload_amount": None},
        1_700_000_000_123_456_789,
    )
    line = line_protocol(MEASUREMENTS[CITIZEN_EVENT], point)
    assert line == (
        'citizen_event,citizenID=C\\ 1\\,x,eventType=financial eventID="e\\"1",score_impact=-3.5,severity=2 '
        "1700000000123456789"
    )
    hourly = Point(CITIZEN_ACTIVITY_HOURLY, {"citizenID": "c"}, {"eventCount": 3.0, "netScoreImpact": 4}, 5)
    assert (
        line_protocol(MEASUREMENTS[CITIZEN_ACTIVITY_HOURLY], hourly)
        == "citizen_activity_hourly,citizenID=c eventCount=3i,netScoreImpact=4 5"
    )


@pytest.mark.parametrize("value", ["ends\\", "new\nline", "cr\rhere"])
def test_tag_values_line_protocol_cannot_carry_are_refused(value):
    point = Point(CITIZEN_EVENT, {"citizenID": value}, {"eventID": "e"}, 1)
    with pytest.raises(ValueError, match="citizenID"):
        line_protocol(MEASUREMENTS[CITIZEN_EVENT], point)


def test_flux_string_escapes_everything_a_literal_could_break_on():
    assert flux_string('a"b') == '"a\\"b"'
    assert flux_string("back\\slash") == '"back\\\\slash"'
    assert flux_string("${x}") == '"\\${x}"'
    assert flux_string("two\nlines\ttab") == '"two\\nlines\\ttab"'


def test_query_text_holds_escaped_literals_and_integer_times():
    flux = query_flux(RAW_EVENTS, MEASUREMENTS[CITIZEN_EVENT], 10, 20, {"citizenID": 'x" or true'}, 5)
    assert 'from(bucket: "raw_events")' in flux
    assert "range(start: time(v: 10), stop: time(v: 20))" in flux
    assert 'r["citizenID"] == "x\\" or true"' in flux
    assert "limit(n: 5)" in flux
    assert "time_ns: int(v: r._time)" in flux  # nanoseconds as an integer, not a parsed datetime
    assert "params" not in flux  # InfluxDB OSS has no query parameters


def test_a_422_is_a_retention_drop_only_when_it_says_so():
    body = (
        '{"code":"unprocessable entity","message":"failure writing points to database: partial write: points '
        "beyond retention policy dropped... it violates a Retention Policy Lower Bound at 2026-01-01T00:00:00Z "
        'dropped=3 for database: x"}'
    )
    retention = ApiException(status=422)
    retention.body = body
    other = ApiException(status=422)
    other.body = '{"code":"unprocessable entity","message":"field type conflict"}'
    assert retention_drops(retention) == 3
    assert retention_drops(other) is None


@pytest.mark.live
def test_url_gives_token_host_and_org(influx_url):
    url = parse_store_url("DDSS_TIMESERIES_URL", influx_url)
    store = InfluxTimeSeries.from_url(url)  # opening pings the server
    ((host, port),) = url.hosts
    assert (store._client.url, store._client.token, store._org) == (f"http://{host}:{port}", url.user, url.path)
    store.close()
    with pytest.raises(SettingsError, match="DDSS_TIMESERIES_URL"):
        InfluxTimeSeries.from_url(parse_store_url("DDSS_TIMESERIES_URL", "influxdb://influx.local:8086/acme"))
