"""The batch aggregates computed independently with pandas, to check the Spark job against."""

from __future__ import annotations

import pandas as pd

TIERS = ("Exemplary", "Standard", "Caution", "HighRisk")
EPSILON = 1e-9


def expected_events_summary(events: pd.DataFrame) -> pd.DataFrame:
    distinct = events.drop_duplicates("event_id")
    grouped = distinct.groupby(["event_type", "region"])
    return (
        grouped.agg(
            event_count=("event_id", "size"),
            total_score_impact=("score_impact", "sum"),
            avg_score_impact=("score_impact", "mean"),
            distinct_citizens=("citizen_id", "nunique"),
        )
        .reset_index()
        .sort_values(["event_type", "region"], ignore_index=True)
    )


def citizens_at_day_end(
    citizens: pd.DataFrame, history: pd.DataFrame, events: pd.DataFrame, day_end_ms: int, tier_for
) -> pd.DataFrame:
    """`citizens` (national_id, region, score, tier: the snapshots now) as of the day's end: each score less the
    citizen's score history (changed_at, old_score, new_score) from the end on, its tier recomputed, and the
    citizens whose new_citizen event (in `events`) came after the day left out."""
    later = history[history["changed_at"] >= day_end_ms]
    change = (later["new_score"] - later["old_score"]).groupby(later["citizen_id"]).sum()
    registered = events[(events["event_type"] == "new_citizen") & (events["event_time"] >= day_end_ms)]
    kept = citizens[~citizens["national_id"].isin(set(registered["citizen_id"]))].copy()
    kept["score"] = (kept["score"] - kept["national_id"].map(change).fillna(0.0)).round(2)
    kept["tier"] = kept["score"].map(tier_for)
    return kept


def expected_credit_scores(events: pd.DataFrame, citizens: pd.DataFrame) -> pd.DataFrame:
    """`citizens`: columns national_id, region, score, tier."""
    net = events.drop_duplicates("event_id").groupby("citizen_id")["score_impact"].sum()
    table = citizens.assign(net=citizens["national_id"].map(net))
    rows = []
    for region, group in table.groupby("region"):
        row = {
            "region": region,
            "citizens": len(group),
            "avg_score": group["score"].mean(),
            "median_score": group["score"].median(),
            "min_score": group["score"].min(),
            "max_score": group["score"].max(),
        }
        row |= {f"tier_{t.lower()}_count": int((group["tier"] == t).sum()) for t in TIERS}
        row |= {
            "improvements": int((group["net"] > EPSILON).sum()),
            "deteriorations": int((group["net"] < -EPSILON).sum()),
        }
        rows.append(row)
    return pd.DataFrame(rows).sort_values("region", ignore_index=True)


def expected_offsets(events: pd.DataFrame) -> pd.DataFrame:
    return (
        events.groupby(["topic", "partition"])
        .agg(first_offset=("offset", "min"), last_offset=("offset", "max"), rows=("offset", "size"))
        .reset_index()
        .sort_values(["topic", "partition"], ignore_index=True)
    )


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same rows and values; float sums may differ in the last bits (another summation order)."""
    pd.testing.assert_frame_equal(
        actual[list(expected.columns)]
        .reset_index(drop=True)
        .astype({c: float for c in expected.select_dtypes("number")}),
        expected.reset_index(drop=True).astype({c: float for c in expected.select_dtypes("number")}),
        check_dtype=False,
        rtol=1e-9,
    )
