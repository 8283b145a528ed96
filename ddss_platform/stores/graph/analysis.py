"""Graph computations: traversal over the bulk ``outgoing`` call and the vectorised per-citizen neighbour
aggregates (numpy over integer-coded edge arrays) that the adapters share, and the association risk of a
citizen's neighbourhood over edge frames."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ddss_platform.stores.graph import AGGREGATE_COLUMNS, RELATIONSHIP_TYPES, GraphEdge, Relationship, now_ms

if TYPE_CHECKING:
    from ddss_platform.scoring import ScoringConfig

_FAMILY = RELATIONSHIP_TYPES.index(Relationship.FAMILY)
_COLLEAGUE = RELATIONSHIP_TYPES.index(Relationship.COLLEAGUE)
_FRIEND = RELATIONSHIP_TYPES.index(Relationship.FRIEND)


def active_targets(edges: Iterable[GraphEdge], types: Collection[str] | None, at_ms: int) -> set[str]:
    return {e.target for e in edges if (types is None or e.type in types) and e.active_at(at_ms)}


def reachable_within(
    outgoing: Callable[[Iterable[str]], dict[str, list[GraphEdge]]],
    start: str,
    hops: int,
    types: Collection[str] | None,
    at_ms: int,
) -> set[str]:
    """Breadth-first, one bulk ``outgoing`` call per hop."""
    seen = {start}
    frontier = {start}
    for _ in range(hops):
        if not frontier:
            break
        found: set[str] = set()
        for edges in outgoing(frontier).values():
            found |= active_targets(edges, types, at_ms)
        frontier = found - seen
        seen |= frontier
    seen.discard(start)
    return seen


class NeighbourQueries:
    """The GraphStore traversals, written once over the adapter's bulk ``outgoing``."""

    def outgoing(self, ids: Iterable[str]) -> dict[str, list[GraphEdge]]:
        raise NotImplementedError

    def neighbours(self, national_id: str, types: Collection[str] | None = None, at_ms: int | None = None) -> set[str]:
        at = now_ms() if at_ms is None else at_ms
        return active_targets(self.outgoing([national_id])[national_id], types, at)

    def neighbours_within(
        self, national_id: str, hops: int, types: Collection[str] | None = None, at_ms: int | None = None
    ) -> set[str]:
        at = now_ms() if at_ms is None else at_ms
        return reachable_within(self.outgoing, national_id, hops, types, at)


def neighbour_aggregates(
    nodes: pd.Index,
    source: np.ndarray,
    target: np.ndarray,
    type_code: np.ndarray,
    values: Mapping[str, float],
) -> pd.DataFrame:
    """Aggregates per node over active edges given as positions into ``nodes`` and codes into
    RELATIONSHIP_TYPES (the caller filters to active edges)."""
    n = len(nodes)
    node_values = _values_at(nodes, values)

    family = type_code == _FAMILY
    family_sum = np.bincount(source[family], weights=np.nan_to_num(node_values[target[family]]), minlength=n)
    family_known = np.bincount(source[family], weights=~np.isnan(node_values[target[family]]), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        family_avg = np.where(family_known > 0, family_sum / family_known, np.nan)

    colleague = type_code == _COLLEAGUE
    c_src, c_dst = source[colleague], target[colleague]
    colleague_count = np.bincount(c_src, minlength=n)
    links = _edges_among_neighbours(c_src, c_dst, n)
    possible = colleague_count * (colleague_count - 1)
    density = np.divide(links, possible, out=np.zeros(n), where=possible > 0)

    friend_count = np.bincount(source[type_code == _FRIEND], minlength=n)
    frame = pd.DataFrame(
        {
            "family_avg_score": family_avg,
            "colleague_count": colleague_count,
            "colleague_density": density,
            "friend_count": friend_count,
        },
        index=pd.Index(nodes, name="nationalID"),
    )
    return frame[AGGREGATE_COLUMNS]


def _values_at(nodes: pd.Index, values: Mapping[str, float] | pd.Series) -> np.ndarray:
    """values[node] per node (NaN where missing); object-dtype indexes on both sides keep the lookup a plain
    hash join."""
    if not isinstance(values, pd.Series):
        values = pd.Series(list(values.values()), index=pd.Index(list(values.keys()), dtype=object), dtype="float64")
    return values.reindex(pd.Index(nodes, dtype=object)).to_numpy(dtype="float64")


def _edges_among_neighbours(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    """For each x: the number of edges a→b with a, b both targets of x (a ≠ b) — counted as
    the two-step paths x→a→b whose closing edge x→b exists."""
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    starts = np.searchsorted(src, np.arange(n + 1))
    degree = np.diff(starts)
    # every path x→a→b: repeat each edge x→a by a's out-degree, then list a's targets
    fan = degree[dst]
    path_x = np.repeat(src, fan)
    offsets = np.repeat(starts[dst] - np.cumsum(fan) + fan, fan) + np.arange(fan.sum())
    path_b = dst[offsets]
    keep = path_b != path_x
    path_x, path_b = path_x[keep], path_b[keep]
    edge_keys = src.astype(np.int64) * n + dst
    edge_keys.sort()
    path_keys = path_x.astype(np.int64) * n + path_b
    pos = np.searchsorted(edge_keys, path_keys)
    closed = (pos < len(edge_keys)) & (edge_keys[np.minimum(pos, len(edge_keys) - 1)] == path_keys)
    return np.bincount(path_x[closed], minlength=n)


def active_rows(edges: pd.DataFrame, at_ms: int, types: Collection[str] | None = None) -> pd.DataFrame:
    """The rows of an all_edges()-style frame active at at_ms (optionally of the given types)."""
    start = edges["start_ms"].astype("Float64").fillna(-np.inf).to_numpy(dtype="float64")
    end = edges["end_ms"].astype("Float64").fillna(np.inf).to_numpy(dtype="float64")
    keep = (start <= at_ms) & (at_ms < end)
    if types is not None:
        keep &= edges["type"].isin(list(types)).to_numpy()
    return edges[keep]


def aggregates_from_edge_frame(
    nodes: Iterable[str], edges: pd.DataFrame, values: Mapping[str, float], at_ms: int
) -> pd.DataFrame:
    """The same aggregates from an all_edges()-style frame (used by adapters that fetch edges as text)."""
    index = pd.Index(sorted(set(nodes) | set(edges["source"]) | set(edges["target"])))
    live = active_rows(edges, at_ms)
    codes = pd.Categorical(live["type"], categories=RELATIONSHIP_TYPES).codes
    known = codes >= 0
    return neighbour_aggregates(
        index,
        index.get_indexer(live["source"])[known],
        index.get_indexer(live["target"])[known],
        codes[known],
        values,
    )


def degree_table(source_positions: np.ndarray, node_count: int) -> pd.DataFrame:
    degree = np.bincount(source_positions, minlength=node_count) if node_count else np.zeros(0, dtype=np.int64)
    counts = pd.Series(degree).value_counts().sort_index()
    return pd.DataFrame({"degree": counts.index.astype("int64"), "citizens": counts.to_numpy(dtype="int64")})


def tier_risk(config: ScoringConfig) -> dict[str, float]:
    """Risk weight per tier: 1 for the lowest tier down to 0 for the highest, evenly spaced."""
    ranks = len(config.tiers) - 1
    return {tier.name: (ranks - i) / ranks if ranks else 0.0 for i, tier in enumerate(config.tiers)}


def association_risk(active_edges: pd.DataFrame, tiers: pd.Series, risk: dict[str, float]) -> pd.Series:
    """Per source citizen: the strength-weighted mean risk weight of its active neighbours' tiers (neighbours
    without a snapshot are left out). Index nationalID."""
    weights = active_edges["target"].map(tiers).map(risk)
    known = active_edges.assign(weight=weights)[weights.notna()]
    strength = known["strength"].astype(float)
    weighted = (known["weight"] * strength).groupby(known["source"]).sum()
    return (weighted / strength.groupby(known["source"]).sum()).rename("associationRisk")
