"""Graph port (Dgraph role): citizen nodes keyed by nationalID and typed, weighted, dated relationships.

Relationships are directed edges (source, target, type); a symmetric relationship is two edges.
An edge is *active* at time t when start ≤ t < end (a missing start or end is open).
Writes are idempotent: nodes by nationalID, edges by (source, target, type).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from ddss_platform.events.vocabulary import RELATIONSHIP_TYPES

if TYPE_CHECKING:
    import pandas as pd

    from ddss_platform.settings import Settings


Relationship = StrEnum("Relationship", {t.upper(): t for t in RELATIONSHIP_TYPES})  # type: ignore[misc]  # members from the vocabulary
"""The relationship types as an enum: Relationship.FAMILY == "family"."""

# columns of all_edges() and of the edge frames the analysis functions take
EDGE_COLUMNS = ["source", "target", "type", "strength", "start_ms", "end_ms"]
AGGREGATE_COLUMNS = ["family_avg_score", "colleague_count", "colleague_density", "friend_count"]


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: str
    target: str
    type: str
    strength: float = 1.0
    start_ms: int | None = None
    end_ms: int | None = None

    def __post_init__(self) -> None:
        if self.type not in RELATIONSHIP_TYPES:
            raise ValueError(f"relationship type {self.type!r} is not one of {', '.join(RELATIONSHIP_TYPES)}")
        if not self.source or not self.target or self.source == self.target:
            raise ValueError(
                f"relationship {self.type} needs two different citizens ({self.source!r} -> {self.target!r})"
            )

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.target, self.type)

    def active_at(self, at_ms: int) -> bool:
        return (self.start_ms is None or self.start_ms <= at_ms) and (self.end_ms is None or at_ms < self.end_ms)


@dataclass(frozen=True)
class GraphCounts:
    nodes: int
    edges: dict[str, int]  # relationship type -> number of edges (active or not)


class GraphError(RuntimeError):
    """A graph write or read failed; the message says which operation."""


class GraphStore(Protocol):
    def ensure_schema(self) -> list[str]:
        """Create tables/schema if missing; returns the actions taken (empty: nothing to do)."""

    def upsert_nodes(self, ids: Iterable[str]) -> int:
        """Create the citizen nodes that do not exist yet; returns how many were created."""

    def upsert_relationships(self, edges: Iterable[GraphEdge]) -> int:
        """Create or update edges by (source, target, type), creating missing nodes.
        Returns how many edges were created or had an attribute changed."""

    def end_relationships(self, ends: Iterable[tuple[str, str, str, int]]) -> int:
        """Set end_ms on existing edges (source, target, type, end_ms); unknown edges are ignored.
        Returns how many edges changed."""

    def outgoing(self, ids: Iterable[str]) -> dict[str, list[GraphEdge]]:
        """Every outgoing edge (active or ended) of each id, in one query; ids without edges map to []."""

    def neighbours(self, national_id: str, types: Collection[str] | None = None, at_ms: int | None = None) -> set[str]:
        """Targets of the edges of national_id active at at_ms (default: now), optionally of the given types."""

    def neighbours_within(
        self, national_id: str, hops: int, types: Collection[str] | None = None, at_ms: int | None = None
    ) -> set[str]:
        """Citizens reachable in 1..hops steps over active edges (the start citizen excluded)."""

    def neighbour_aggregates(self, values: Mapping[str, float] | pd.Series, at_ms: int | None = None) -> pd.DataFrame:
        """One row per node (index nationalID) with AGGREGATE_COLUMNS over its active outgoing edges
        (``values``: e.g. current scores by nationalID, a mapping or a Series):
        family_avg_score = mean of values over family targets (NaN when none or unknown),
        colleague_count, colleague_density = edges among the colleagues / (k·(k−1)), friend_count."""

    def counts(self) -> GraphCounts: ...

    def degree_distribution(self, types: Collection[str] | None = None, at_ms: int | None = None) -> pd.DataFrame:
        """Columns degree, citizens: how many nodes have each out-degree (active edges)."""

    def all_edges(self) -> pd.DataFrame:
        """Every edge, columns EDGE_COLUMNS (start_ms/end_ms nullable Int64)."""

    def close(self) -> None: ...


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def open_graph(settings: Settings) -> GraphStore:
    """The graph adapter named by DDSS_GRAPH_URL (embedded SQLite or Dgraph)."""
    if settings.graph.embedded:
        from ddss_platform.stores.graph.embedded import EmbeddedGraph

        return EmbeddedGraph(settings.home / "graph.sqlite")
    from ddss_platform.stores.graph.dgraph import DgraphGraph

    return DgraphGraph.connect(settings.graph, settings.connect_timeout_s)
