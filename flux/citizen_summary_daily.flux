// Daily summary per citizen: events of the day, net score change, the score and tier at the day's end.
// Reads raw_events/citizen_event and derived_metrics/score_change_history (the last change of the day gives
// the day-end score and tier); writes derived_metrics/citizen_summary_daily at the day's start (UTC).
// Embedded profile: the same numbers in ddss_platform/stores/timeseries/derived_sql.py.
import "date"

option task = {name: "citizen_summary_daily", every: 1d, offset: 10m}

stop = date.truncate(t: now(), unit: 1d)
start = date.sub(d: 1d, from: stop)

changes =
    from(bucket: "derived_metrics")
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => r._measurement == "score_change_history")

asField = (tables=<-, field) =>
    tables
        |> keep(columns: ["citizenID", "_value"])
        |> map(fn: (r) => ({r with _time: start, _measurement: "citizen_summary_daily", _field: field}))
        |> group(columns: ["citizenID", "_field"])

// The latest value of a score_change_history field per citizen (its series differ by rule and reason).
latest = (field) =>
    changes
        |> filter(fn: (r) => r._field == field)
        |> group(columns: ["citizenID"])
        |> sort(columns: ["_time"])
        |> last()

eventsTodayCount =
    from(bucket: "raw_events")
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => r._measurement == "citizen_event" and r._field == "eventID")
        |> group(columns: ["citizenID"])
        |> count()
        |> asField(field: "eventsTodayCount")

netScoreChangeToday =
    changes
        |> filter(fn: (r) => r._field == "changeAmount")
        |> group(columns: ["citizenID"])
        |> sum()
        |> asField(field: "netScoreChangeToday")

union(
    tables: [
        eventsTodayCount,
        netScoreChangeToday,
        latest(field: "newScore") |> asField(field: "dayEndScore"),
        latest(field: "tier") |> asField(field: "currentTier"),
    ],
)
    |> to(bucket: "derived_metrics")
