// Daily system-wide aggregates (region tag "ALL") over the citizens whose score changed that day: the mean,
// median, min and max of their day-end scores, how many there are, and how many end the day in each tier.
// Reads derived_metrics/score_change_history; writes derived_metrics/system_aggregates_daily at the day's start.
// Embedded profile: the same numbers in ddss_platform/stores/timeseries/derived_sql.py.
import "date"

option task = {name: "system_aggregates_daily", every: 1d, offset: 15m}

stop = date.truncate(t: now(), unit: 1d)
start = date.sub(d: 1d, from: stop)

changes =
    from(bucket: "derived_metrics")
        |> range(start: start, stop: stop)
        |> filter(fn: (r) => r._measurement == "score_change_history")

// The latest value of a field per citizen, all citizens in one table.
latest = (field) =>
    changes
        |> filter(fn: (r) => r._field == field)
        |> group(columns: ["citizenID"])
        |> sort(columns: ["_time"])
        |> last()
        |> group()

scores = latest(field: "newScore")
tiers = latest(field: "tier")

asField = (tables=<-, field) =>
    tables
        |> keep(columns: ["_value"])
        |> map(
            fn: (r) => ({r with _time: start, _measurement: "system_aggregates_daily", _field: field, region: "ALL"}),
        )
        |> group(columns: ["region", "_field"])

tierCount = (tier, field) =>
    tiers
        |> map(fn: (r) => ({_value: if r._value == tier then 1 else 0}))
        |> sum()
        |> asField(field: field)

union(
    tables: [
        scores |> mean() |> asField(field: "averageScore"),
        // exact_mean: the mean of the two middle values, as SQL median() and pandas compute it
        scores |> median(method: "exact_mean") |> asField(field: "medianScore"),
        scores |> min() |> asField(field: "minScoreObserved"),
        scores |> max() |> asField(field: "maxScoreObserved"),
        scores |> count() |> asField(field: "activeCitizensCount"),
        tierCount(tier: "Exemplary", field: "tier_exemplary_count"),
        tierCount(tier: "Standard", field: "tier_standard_count"),
        tierCount(tier: "Caution", field: "tier_caution_count"),
        tierCount(tier: "HighRisk", field: "tier_highrisk_count"),
    ],
)
    |> to(bucket: "derived_metrics")
