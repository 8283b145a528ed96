// Hourly activity per citizen: number of events and the sum of their score impact.
// Reads raw_events/citizen_event; writes derived_metrics/citizen_activity_hourly at the hour's start.
// A scheduled run covers the last whole hour before its scheduled time (now()); a backfill run sets `now`.
// Embedded profile: the same numbers in ddss_platform/stores/timeseries/derived_sql.py.
import "date"

option task = {name: "citizen_activity_hourly", every: 1h, offset: 2m}

stop = date.truncate(t: now(), unit: 1h)
start = date.sub(d: 1h, from: stop)

events =
    from(bucket: "raw_events")
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => r._measurement == "citizen_event")

// One aggregate per citizen as a derived_metrics field at the period start; citizenID stays the only tag.
asField = (tables=<-, field) =>
    tables
        |> keep(columns: ["citizenID", "_value"])
        |> map(fn: (r) => ({r with _time: start, _measurement: "citizen_activity_hourly", _field: field}))
        |> group(columns: ["citizenID", "_field"])

eventCount =
    events
        |> filter(fn: (r) => r._field == "eventID")
        |> group(columns: ["citizenID"])
        |> count()
        |> asField(field: "eventCount")

netScoreImpact =
    events
        |> filter(fn: (r) => r._field == "score_impact")
        |> group(columns: ["citizenID"])
        |> sum()
        |> asField(field: "netScoreImpact")

union(tables: [eventCount, netScoreImpact])
    |> to(bucket: "derived_metrics")
