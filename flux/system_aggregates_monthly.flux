// Monthly downsample of system_aggregates_daily per region: mean of the daily averages, the month's min and
// max, citizen-days and days reported; written to derived_metrics/system_aggregates_monthly at the month's start.
// Months have no fixed length, so the task runs daily and rewrites the month so far; the run on the 1st
// completes the previous month (its points keep the same tags and time, so they replace the partial ones).
// Embedded profile: the same numbers in ddss_platform/stores/timeseries/derived_sql.py.
import "date"

option task = {name: "system_aggregates_monthly", every: 1d, offset: 30m}

stop = date.truncate(t: now(), unit: 1d)
start = date.truncate(t: date.sub(d: 1d, from: stop), unit: 1mo)

daily =
    from(bucket: "derived_metrics")
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => r._measurement == "system_aggregates_daily")

fieldOf = (field) =>
    daily
        |> filter(fn: (r) => r._field == field)
        |> group(columns: ["region"])

asField = (tables=<-, field) =>
    tables
        |> keep(columns: ["region", "_value"])
        |> map(fn: (r) => ({r with _time: start, _measurement: "system_aggregates_monthly", _field: field}))
        |> group(columns: ["region", "_field"])

union(
    tables: [
        fieldOf(field: "averageScore") |> mean() |> asField(field: "averageScore"),
        fieldOf(field: "minScoreObserved") |> min() |> asField(field: "minScoreObserved"),
        fieldOf(field: "maxScoreObserved") |> max() |> asField(field: "maxScoreObserved"),
        fieldOf(field: "activeCitizensCount") |> sum() |> asField(field: "activeCitizenDays"),
        fieldOf(field: "averageScore") |> count() |> asField(field: "daysReported"),
    ],
)
    |> to(bucket: "derived_metrics")
