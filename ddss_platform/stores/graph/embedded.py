"""Embedded graph: SQLite (WAL) node and edge tables.

Nodes get a small integer id so edges are compact integer rows; the bulk aggregate reads whole
edge columns as one ``group_concat`` string each (one row across the Python boundary instead of
500k) and computes in numpy.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ddss_platform.stores.graph import (
    EDGE_COLUMNS,
    RELATIONSHIP_TYPES,
    GraphCounts,
    GraphEdge,
    analysis,
    now_ms,
)
from ddss_platform.stores.sqlite import connect, transaction

# schema object -> its DDL
_SCHEMA = {
    "nodes": """CREATE TABLE nodes (
        id INTEGER PRIMARY KEY,
        national_id TEXT NOT NULL UNIQUE)""",
    "edges": """CREATE TABLE edges (
        source_id INTEGER NOT NULL REFERENCES nodes(id),
        type TEXT NOT NULL,
        target_id INTEGER NOT NULL REFERENCES nodes(id),
        strength REAL NOT NULL,
        start_ms INTEGER,
        end_ms INTEGER,
        PRIMARY KEY (source_id, type, target_id)) WITHOUT ROWID""",
    "edges_by_target": "CREATE INDEX edges_by_target ON edges(target_id)",
}

# active at :at (start ≤ at < end, open ends allowed)
_ACTIVE = "(e.start_ms IS NULL OR e.start_ms <= :at) AND (e.end_ms IS NULL OR e.end_ms > :at)"
# relationship type -> its position in RELATIONSHIP_TYPES, computed inside SQLite
_TYPE_CODE = "CASE e.type " + " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(RELATIONSHIP_TYPES)) + " END"


def _ints(joined: str | None) -> np.ndarray:
    """The integers of a group_concat(…, ',') result, parsed in C."""
    return np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, dtype=np.int64)


class EmbeddedGraph(analysis.NeighbourQueries):
    def __init__(self, path: Path):
        self.path = path
        self.conn = connect(path)

    def close(self) -> None:
        self.conn.close()

    def ensure_schema(self) -> list[str]:
        with transaction(self.conn):
            existing = {name for (name,) in self.conn.execute("SELECT name FROM sqlite_master")}
            missing = [name for name in _SCHEMA if name not in existing]
            for name in missing:
                self.conn.execute(_SCHEMA[name])
        return [f"graph: created {', '.join(missing)} in {self.path}"] if missing else []

    # --- writes -----------------------------------------------------------------------------

    def _create_nodes(self, ids: Collection[str]) -> int:
        before = self.conn.total_changes
        self.conn.executemany("INSERT OR IGNORE INTO nodes(national_id) VALUES (?)", ((i,) for i in sorted(ids)))
        return self.conn.total_changes - before

    def _row_ids(self, ids: Collection[str]) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT national_id, id FROM nodes WHERE national_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        )
        return dict(rows)

    def upsert_nodes(self, ids: Iterable[str]) -> int:
        wanted = set(ids)
        if not wanted:
            return 0
        with transaction(self.conn):
            return self._create_nodes(wanted)

    def upsert_relationships(self, edges: Iterable[GraphEdge]) -> int:
        latest = {e.key: e for e in edges}  # the last write of a key wins, as in a replay
        if not latest:
            return 0
        with transaction(self.conn):
            endpoints = {e.source for e in latest.values()} | {e.target for e in latest.values()}
            self._create_nodes(endpoints)
            ids = self._row_ids(endpoints)
            before = self.conn.total_changes
            self.conn.executemany(
                """INSERT INTO edges (source_id, type, target_id, strength, start_ms, end_ms) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT DO UPDATE SET strength = excluded.strength, start_ms = excluded.start_ms,
                                             end_ms = excluded.end_ms
                   WHERE (strength, start_ms, end_ms) IS NOT (excluded.strength, excluded.start_ms, excluded.end_ms)""",
                sorted(
                    (ids[e.source], str(e.type), ids[e.target], float(e.strength), e.start_ms, e.end_ms)
                    for e in latest.values()
                ),
            )
            return self.conn.total_changes - before

    def end_relationships(self, ends: Iterable[tuple[str, str, str, int]]) -> int:
        rows = [(int(end), source, str(type_), target, int(end)) for source, target, type_, end in ends]
        if not rows:
            return 0
        with transaction(self.conn):
            before = self.conn.total_changes
            self.conn.executemany(
                """UPDATE edges SET end_ms = ?
                   WHERE source_id = (SELECT id FROM nodes WHERE national_id = ?) AND type = ?
                     AND target_id = (SELECT id FROM nodes WHERE national_id = ?) AND end_ms IS NOT ?""",
                rows,
            )
            return self.conn.total_changes - before

    # --- reads ------------------------------------------------------------------------------

    def outgoing(self, ids: Iterable[str]) -> dict[str, list[GraphEdge]]:
        wanted = list(dict.fromkeys(ids))
        result: dict[str, list[GraphEdge]] = {i: [] for i in wanted}
        rows = self.conn.execute(
            """SELECT s.national_id, t.national_id, e.type, e.strength, e.start_ms, e.end_ms
               FROM nodes s JOIN edges e ON e.source_id = s.id JOIN nodes t ON t.id = e.target_id
               WHERE s.national_id IN (SELECT value FROM json_each(?))
               ORDER BY s.national_id, e.type, t.national_id""",
            (json.dumps(wanted),),
        )
        for row in rows:
            result[row[0]].append(GraphEdge(*row))
        return result

    def _node_index(self) -> tuple[np.ndarray, pd.Index]:
        row_ids, names = self.conn.execute(
            "SELECT group_concat(id, ','), group_concat(national_id, char(31))"
            " FROM (SELECT id, national_id FROM nodes ORDER BY id)"
        ).fetchone()
        return _ints(row_ids), pd.Index(names.split("\x1f") if names else [], dtype="object")

    def _active_edge_arrays(self, at_ms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        source, target, codes = self.conn.execute(
            f"SELECT group_concat(e.source_id, ','), group_concat(e.target_id, ','), group_concat({_TYPE_CODE}, ',')"
            f" FROM edges e WHERE {_ACTIVE} AND {_TYPE_CODE} IS NOT NULL",
            {"at": at_ms},
        ).fetchone()
        return _ints(source), _ints(target), _ints(codes)

    def _snapshot(self, at_ms: int):
        """Nodes and active edges read in one read transaction (a consistent view while writers run)."""
        self.conn.execute("BEGIN")
        try:
            row_ids, names = self._node_index()
            source, target, codes = self._active_edge_arrays(at_ms)
        finally:
            self.conn.execute("COMMIT")
        # numpy indexes nodes by their position in the list; map row ids to positions with one gather
        position = np.zeros(int(row_ids.max(initial=0)) + 1, dtype=np.int64)
        position[row_ids] = np.arange(len(row_ids))
        return names, position[source], position[target], codes

    def neighbour_aggregates(self, values: Mapping[str, float], at_ms: int | None = None) -> pd.DataFrame:
        names, source, target, codes = self._snapshot(now_ms() if at_ms is None else at_ms)
        return analysis.neighbour_aggregates(names, source, target, codes, values)

    def counts(self) -> GraphCounts:
        nodes = self.conn.execute("SELECT count(*) FROM nodes").fetchone()[0]
        by_type = dict(self.conn.execute("SELECT type, count(*) FROM edges GROUP BY type"))
        return GraphCounts(
            nodes=nodes, edges={t: by_type.get(t, 0) for t in sorted(set(RELATIONSHIP_TYPES) | set(by_type))}
        )

    def degree_distribution(self, types: Collection[str] | None = None, at_ms: int | None = None) -> pd.DataFrame:
        names, source, _target, codes = self._snapshot(now_ms() if at_ms is None else at_ms)
        if types is not None:
            source = source[np.isin(codes, [RELATIONSHIP_TYPES.index(t) for t in types if t in RELATIONSHIP_TYPES])]
        return analysis.degree_table(source, len(names))

    def all_edges(self) -> pd.DataFrame:
        frame = pd.read_sql_query(
            """SELECT s.national_id AS source, t.national_id AS target, e.type, e.strength, e.start_ms, e.end_ms
               FROM edges e JOIN nodes s ON s.id = e.source_id JOIN nodes t ON t.id = e.target_id""",
            self.conn,
        )
        for column in ("start_ms", "end_ms"):
            frame[column] = frame[column].astype("Int64")
        return frame[EDGE_COLUMNS]
